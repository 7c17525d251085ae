/**
 * Bundles the bridge web app (bridge/ui/src/main.ts, TypeScript + viem) into one script with esbuild, for the
 * browser, with nothing fetched at run time: the page is index.html + style.css + app.js, all served by our own
 * process. Runs on install (`npm run build:ui`, from postinstall) and again on start when the sources are newer.
 *
 * `npx node bridge/ui/build.ts` rebuilds by hand.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

export const UI_DIR = import.meta.dirname
export const UI_DIST = path.join(UI_DIR, 'dist')
export const UI_STATIC = path.join(UI_DIR, 'static')
export const UI_BUNDLE = path.join(UI_DIST, 'app.js')
const ENTRY = path.join(UI_DIR, 'src', 'main.ts')
/** Folders whose sources end up in the bundle (the page reuses the user commands' checks and trackers). */
const SOURCE_DIRS = [
  path.join(UI_DIR, 'src'),
  path.join(UI_DIR, '..', 'core'),
  path.join(UI_DIR, '..', 'cli'),
]

function newestSource(): number {
  let newest = 0
  for (const dir of SOURCE_DIRS) {
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.ts')) newest = Math.max(newest, statSync(path.join(dir, name)).mtimeMs)
    }
  }
  return newest
}

/** Whether dist/app.js exists and is newer than every source it bundles. */
export function uiBundleUpToDate(): boolean {
  try {
    return statSync(UI_BUNDLE).mtimeMs >= newestSource()
  } catch {
    return false
  }
}

export async function buildUi(options: { minify?: boolean } = {}): Promise<string> {
  // esbuild is a devDependency: loaded only to build, so a production install (the Docker image,
  // which bundles at build time) can start every command without it.
  const { build } = await import('esbuild')
  mkdirSync(UI_DIST, { recursive: true })
  await build({
    entryPoints: [ENTRY],
    outfile: UI_BUNDLE,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: options.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  })
  return UI_BUNDLE
}

/** Builds unless the bundle is up to date; without esbuild (a production install) an existing bundle is served. */
export async function ensureUiBuilt(): Promise<void> {
  if (uiBundleUpToDate()) return
  try {
    await buildUi()
  } catch (err) {
    if (existsSync(UI_BUNDLE) && (err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') return
    throw err
  }
}

// `import.meta.main` exists from Node 22.18 / 24.2; compare paths on older runtimes.
const isMain =
  (import.meta as { main?: boolean }).main ??
  (process.argv[1] !== undefined && path.resolve(process.argv[1]) === import.meta.filename)
if (isMain) {
  const started = Date.now()
  await buildUi()
  console.log(
    `bundled the bridge web app into ${path.relative(process.cwd(), UI_BUNDLE)} in ${Date.now() - started} ms`,
  )
}
