/**
 * `npm run e2e`: every manifest in test/e2e/manifests/ (and the regression manifests in manifests/regressions/), one
 * after another, each on its own devnet. Prints each seed (E2E_SEED=<seed> replays one; E2E_ONLY=<name,...> picks
 * manifests), the notes and violations, and the run time. A failing run keeps its devnet folder (logs of every
 * process) and prints it, and its seed is written as a regression manifest, which later runs replay.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadManifest, type Manifest } from './manifest.ts'
import { runManifest } from './runner.ts'

const MANIFESTS = path.join(import.meta.dirname, 'manifests')
const REGRESSIONS = path.join(MANIFESTS, 'regressions')

function manifestFiles(): string[] {
  const list = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => path.join(dir, f))
      : []
  // The smoke manifest first: it is the quickest sign that something is broken.
  return [...list(MANIFESTS), ...list(REGRESSIONS)].sort(
    (a, b) => Number(!a.endsWith('smoke.json')) - Number(!b.endsWith('smoke.json')),
  )
}

const only = process.env.E2E_ONLY?.split(',').map((s) => s.trim())
const seed = process.env.E2E_SEED === undefined ? undefined : Number(process.env.E2E_SEED)
const results: Array<{ name: string; seed: number; ok: boolean; durationS: number }> = []
const started = Date.now()
for (const file of manifestFiles()) {
  const manifest = loadManifest(file)
  if (only !== undefined && !only.includes(manifest.name)) continue
  process.stdout.write(`\n=== ${manifest.name}: ${manifest.description}\n`)
  const report = await runManifest(manifest, {
    seed,
    log: (line) => process.stdout.write(`  ${line}\n`),
  })
  for (const note of report.notes) process.stdout.write(`  note: ${note}\n`)
  process.stdout.write(
    `  stats: height ${report.stats.height}, ${report.stats.txsIncluded}/${report.stats.txsAcked} acknowledged txs included, ${report.stats.deposits} deposits, ${report.stats.withdrawals} withdrawals, ${report.stats.restarts} restarts, max RSS ${JSON.stringify(report.stats.maxRssMb)} MB\n`,
  )
  if (report.ok) {
    process.stdout.write(`  PASS ${manifest.name} (seed ${report.seed}) in ${report.durationS} s\n`)
  } else {
    for (const v of report.violations) process.stdout.write(`  FAIL: ${v}\n`)
    process.stdout.write(
      `  FAIL ${manifest.name} (seed ${report.seed}) in ${report.durationS} s; logs kept in ${report.dir}\n`,
    )
    if (!manifest.name.includes('-seed-')) {
      mkdirSync(REGRESSIONS, { recursive: true })
      const regression: Manifest = {
        ...manifest,
        name: `${manifest.name}-seed-${report.seed}`,
        description: `regression: ${manifest.name} failed with seed ${report.seed}: ${report.violations[0]}`,
        seed: report.seed,
      }
      const out = path.join(REGRESSIONS, `${regression.name}.json`)
      writeFileSync(out, `${JSON.stringify(regression, null, 2)}\n`)
      process.stdout.write(`  regression manifest written: ${path.relative(process.cwd(), out)}\n`)
    }
  }
  results.push({
    name: manifest.name,
    seed: report.seed,
    ok: report.ok,
    durationS: report.durationS,
  })
}
process.stdout.write('\n')
for (const r of results) {
  process.stdout.write(
    `${r.ok ? 'PASS' : 'FAIL'} ${r.name.padEnd(28)} seed ${String(r.seed).padEnd(8)} ${r.durationS} s\n`,
  )
}
process.stdout.write(
  `e2e: ${results.filter((r) => r.ok).length}/${results.length} passed in ${Math.round((Date.now() - started) / 1000)} s\n`,
)
process.exitCode = results.every((r) => r.ok) ? 0 : 1
