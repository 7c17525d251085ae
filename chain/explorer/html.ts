/**
 * HTML rendering for the explorer's pages: plain server-rendered HTML with one stylesheet
 * and a small script for the contract tabs, nothing from a CDN. Every value that comes from
 * the chain (token names, revert reasons, source code) goes through `esc`.
 */

export function esc(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

/** A tagged template whose interpolations are escaped unless wrapped with `raw`. */
export interface Raw {
  readonly raw: string
}

export function raw(html: string): Raw {
  return { raw: html }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0]!
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!
  })
  return raw(out)
}

function render(value: unknown): string {
  if (value === undefined || value === null || value === false) return ''
  if (Array.isArray(value)) return value.map(render).join('')
  if (typeof value === 'object' && 'raw' in value) return (value as Raw).raw
  return esc(value)
}

const STYLE = `
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --accent:#2f5bd3; --ok:#127a3d; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:#f8f9fb; }
header { background:#101828; color:#fff; padding:10px 16px; display:flex; gap:16px; align-items:center; flex-wrap:wrap; }
header a { color:#fff; text-decoration:none; font-weight:600; }
header nav { display:flex; gap:12px; }
header form { flex:1; min-width:200px; display:flex; gap:6px; }
header input { flex:1; padding:6px 8px; border-radius:6px; border:0; min-width:0; }
main { max-width:1100px; margin:0 auto; padding:16px; }
h1 { font-size:20px; margin:8px 0 16px; word-break:break-all; }
h2 { font-size:16px; margin:20px 0 8px; }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
td { word-break:break-all; }
th { color:var(--muted); font-weight:500; white-space:nowrap; width:1%; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:13px; }
.ok { color:var(--ok); font-weight:600; } .bad { color:var(--bad); font-weight:600; }
.muted { color:var(--muted); }
pre { background:#fff; border:1px solid var(--line); padding:8px; overflow:auto; max-height:480px; font-size:12px; }
.card { background:#fff; border:1px solid var(--line); padding:12px; margin-bottom:12px; }
.tabs button { margin-right:6px; }
form.call { margin:8px 0; padding:8px; border:1px solid var(--line); background:#fff; }
form.call input { margin:2px 4px 2px 0; padding:4px; }
@media (max-width: 640px) { th { white-space:normal; } main { padding:8px; } }
`

export function page(title: string, body: Raw, options: { chainName: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ${esc(options.chainName)} explorer</title>
<style>${STYLE}</style></head>
<body><header><a href="/">${esc(options.chainName)} explorer</a>
<nav><a href="/validators">Validators</a><a href="/tokens">Tokens</a></nav>
<form action="/search" method="get"><input name="q" aria-label="search" placeholder="tx hash, address, block, token symbol"><button>Search</button></form>
</header><main>${body.raw}</main></body></html>`
}
