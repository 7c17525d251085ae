/**
 * `npm run bench`: performance figures, each against anvil measured in the same run where
 * a comparison makes sense. Targets are reported, never asserted (benchmarks, not tests).
 *   BENCH_BLOCKS, BENCH_TXS: import workload (default 10 blocks x 1000 transfers)
 */
import { runImportBench } from './import-bench.ts'

const fmt = (n: number) => n.toFixed(n >= 100 ? 0 : 2)

async function main() {
  const blocks = Number(process.env.BENCH_BLOCKS ?? 10)
  const txPerBlock = Number(process.env.BENCH_TXS ?? 1000)
  process.stdout.write(`block import: ${blocks} blocks x ${txPerBlock} ETH transfers\n`)
  const r = await runImportBench({
    blocks,
    txPerBlock,
    log: (s) => process.stderr.write(`  ${s}\r`),
  })
  process.stdout.write(
    `\n  ours : ${fmt(r.ours.transfersPerSec)} transfers/s, ${fmt(r.ours.mgasPerSec)} Mgas/s, ${fmt(r.ours.msPerBlock)} ms/block\n`,
  )
  if (r.anvil !== undefined) {
    process.stdout.write(
      `  anvil: ${fmt(r.anvil.transfersPerSec)} transfers/s, ${fmt(r.anvil.mgasPerSec)} Mgas/s, ${fmt(r.anvil.msPerBlock)} ms/block\n`,
    )
    process.stdout.write(
      `  ratio ours/anvil: ${(r.ours.transfersPerSec / r.anvil.transfersPerSec).toFixed(2)}x\n`,
    )
  }
}

await main()
