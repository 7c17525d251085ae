/**
 * `npm run bench`: performance figures, each against anvil measured in the same run where
 * a comparison makes sense. Targets are reported, never asserted (benchmarks, not tests).
 *   BENCH_BLOCKS, BENCH_TXS: import workload (default 10 blocks x 1000 transfers), run with
 *   ETH transfers and then with ERC-20 transfers
 *   BENCH_NETWORK_SECONDS, BENCH_NETWORK_TPS: 4-validator network run (default 60 s at 250/s;
 *   BENCH_NETWORK_SECONDS=0 skips it)
 *   BENCH_NETWORK_WARMUP_SECONDS: unmeasured load offered (and finalized) first (default 10)
 *   BENCH_NETWORK_DUMP=file: writes each transaction's submit and finalize times and block
 *   (JSON) for analysis beside the nodes' logs (BENCH_LOG_LEVEL, SIDECHAIN_TEST_LOG_DIR)
 *   BENCH_EXPLORER=0: no explorer follows the network run (it reports how far its index trails the head)
 *   BENCH_BRIDGE_ROUNDS: bridge deposit/release latency rounds (default 5; 0 skips it)
 */
import { formatBridgeBench, runBridgeBench } from './bridge-bench.ts'
import { runImportBench } from './import-bench.ts'
import { runNetworkBench } from './network-bench.ts'

const fmt = (n: number) => n.toFixed(n >= 100 ? 0 : 2)
/** A latency percentile: past the transactions never finalized it is infinite. */
const ms = (n: number) =>
  Number.isNaN(n) ? 'n/a' : n === Number.POSITIVE_INFINITY ? 'not finalized' : `${fmt(n)} ms`

async function main() {
  const blocks = Number(process.env.BENCH_BLOCKS ?? 10)
  const txPerBlock = Number(process.env.BENCH_TXS ?? 1000)
  for (const workload of ['eth', 'erc20'] as const) {
    const what = workload === 'eth' ? 'ETH' : 'ERC-20'
    process.stdout.write(`block import: ${blocks} blocks x ${txPerBlock} ${what} transfers\n`)
    const r = await runImportBench({
      blocks,
      txPerBlock,
      workload,
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
}

async function network() {
  const durationSec = Number(process.env.BENCH_NETWORK_SECONDS ?? 60)
  const offeredTps = Number(process.env.BENCH_NETWORK_TPS ?? 250)
  const warmUpSec = Number(process.env.BENCH_NETWORK_WARMUP_SECONDS ?? 10)
  if (durationSec <= 0) return
  process.stdout.write(
    `\nnetwork: 4 validator processes (QBFT over libp2p), ${durationSec} s of ERC-20 transfers offered at ${offeredTps}/s (after ${warmUpSec} s of unmeasured warm-up)\n`,
  )
  const r = await runNetworkBench({
    durationSec,
    offeredTps,
    warmUpSec,
    log: (s) => process.stderr.write(`  ${s}\n`),
  })
  process.stdout.write(
    `  sustained: ${fmt(r.tps)} tx/s (${r.included}/${r.submitted} included)\n` +
      `  blocks under load: ${r.blocks} (${r.roundChanges} after a round change)\n` +
      `  block period: p50 ${fmt(r.blockPeriodMs.p50)} ms, p99 ${fmt(r.blockPeriodMs.p99)} ms\n` +
      `  submit-to-finalized: p50 ${ms(r.latencyMs.p50)}, p99 ${ms(r.latencyMs.p99)}\n` +
      `  the same after the first 10 s: p50 ${ms(r.steadyLatencyMs.p50)}, p99 ${ms(r.steadyLatencyMs.p99)}\n` +
      (r.explorerLagBlocks === null
        ? ''
        : `  explorer index behind the head: max ${r.explorerLagBlocks.max} blocks, p99 ${r.explorerLagBlocks.p99} (${r.explorerLagBlocks.samples} samples; aim: at most 2)\n`),
  )
}

async function bridge() {
  const rounds = Number(process.env.BENCH_BRIDGE_ROUNDS ?? 5)
  if (rounds <= 0) return
  process.stdout.write('\n')
  const r = await runBridgeBench({ rounds, log: (s) => process.stderr.write(`  ${s}\n`) })
  process.stdout.write(formatBridgeBench(r))
}

await main()
await network()
await bridge()
