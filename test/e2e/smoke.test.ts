/**
 * The smoke manifest (test/e2e/manifests/smoke.json) in `npm test`: the devnet of `npm start` (4 validators, 3
 * relayers, threshold 2) under transfer and bridge load; a validator killed with SIGKILL (the devnet's supervisor
 * restarts it, the other three keep producing and it catches up), one paused and resumed, one cut off by a
 * partition and healed, a relayer killed. Every invariant of the e2e runner must hold (runner.ts). E2E_SEED
 * replays a seed; a failure keeps the devnet folder and prints it.
 */
import path from 'node:path'
import t from 'tap'
import { loadManifest } from './manifest.ts'
import { runManifest } from './runner.ts'

t.test('e2e smoke: kill, pause, partition, relayer crash; no fork, nothing lost', async (t) => {
  const manifest = loadManifest(path.join(import.meta.dirname, 'manifests/smoke.json'))
  const seed = process.env.E2E_SEED === undefined ? undefined : Number(process.env.E2E_SEED)
  const report = await runManifest(manifest, { seed, log: (line) => t.comment(line) })
  t.comment(`seed ${report.seed} (E2E_SEED=${report.seed} replays it), ${report.durationS} s`)
  for (const note of report.notes) t.comment(note)
  t.same(
    report.violations,
    [],
    `no invariant violated${report.dir === undefined ? '' : ` (logs: ${report.dir})`}`,
  )
  t.ok(report.stats.restarts >= 2, 'the supervisor restarted the killed validator and relayer')
  t.ok(report.stats.txsAcked > 20, `transfers acknowledged (${report.stats.txsAcked})`)
  t.equal(report.stats.txsIncluded, report.stats.txsAcked, 'every acknowledged transfer included')
  t.equal(report.stats.deposits, manifest.load.deposits, 'deposits completed')
  t.equal(report.stats.withdrawals, manifest.load.withdrawals, 'withdrawals completed')
})
