/**
 * Bridge latency on the reference setup: anvil L1 with 1 s blocks, relayers waiting for 2 confirmations, a real
 * sidechain node (single validator, its default 1 s block period), three relayer processes (threshold 2) polling
 * both chains every 250 ms.
 *
 *   deposit: from the moment the confirming L1 block (the deposit's block + 1) is seen to the moment the mint is
 *            seen on the sidechain (target: at most 2 s);
 *   release: from the moment the burn's sidechain receipt is seen to the moment the vault reports the withdrawal
 *            processed (target: at most 5 s);
 *   proof verification: what the relayers spent verifying eth_getProof answers against their light client's
 *            verified header (bridge_relayer_proof_verify_seconds, CPU only): mean per proof, and per withdrawal (each
 *            relayer proves a withdrawal twice: when it journals it and right before it signs).
 *
 * Both ends are observed by polling every 20 ms, so figures include up to ~20 ms of observation lag each.
 * Runnable alone: `npx node test/bench/bridge-bench.ts` (BENCH_BRIDGE_ROUNDS, default 5).
 */
import { parseEther, zeroAddress, zeroHash } from 'viem'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../../bridge/deploy/index.ts'
import { scrapeMetric, startBridgeEnv, waitFor } from '../support/bridge/env.ts'

export interface LatencyFigures {
  samplesMs: number[]
  minMs: number
  medianMs: number
  maxMs: number
  targetMs: number
  withinTarget: boolean
}

export interface BridgeBenchResult {
  rounds: number
  l1BlockTimeSec: number
  confirmations: number
  sidechainBlockMs: number
  deposit: LatencyFigures
  release: LatencyFigures
  proofVerification: { proofs: number; meanMs: number; perWithdrawalMs: number }
}

function figures(samples: number[], targetMs: number): LatencyFigures {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    samplesMs: samples,
    minMs: sorted[0] ?? Number.NaN,
    medianMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    maxMs: sorted.at(-1) ?? Number.NaN,
    targetMs,
    withinTarget: sorted.length > 0 && (sorted.at(-1) ?? Number.POSITIVE_INFINITY) <= targetMs,
  }
}

export async function runBridgeBench(
  params: { rounds?: number; log?: (line: string) => void } = {},
): Promise<BridgeBenchResult> {
  const rounds = params.rounds ?? 5
  const log = params.log ?? (() => {})
  const confirmations = 2
  const sidechainBlockMs = 1_000
  const env = await startBridgeEnv({ l1BlockTime: 1, confirmations, sidechainBlockMs, pollMs: 250 })
  try {
    const relayers = [0, 1, 2].map((i) => env.spawnRelayer(i))
    const metricsPorts = await Promise.all(relayers.map((r) => r.metricsPort))
    const user = env.users[0]!
    const l1 = env.l1Wallet(user)
    const sc = env.sidechainWallet(user)
    const poll = { intervalMs: 20, timeoutMs: 30_000 }

    const depositSamples: number[] = []
    for (let i = 0; i < rounds; i++) {
      const hash = await l1.writeContract({
        address: env.vault,
        abi: bridgeVaultAbi,
        functionName: 'depositETH',
        args: [user.address],
        value: parseEther('1'),
      })
      const receipt = await env.l1.waitForTransactionReceipt({ hash, pollingInterval: 20 })
      const depositId = BigInt(i)
      const confirmingBlock = receipt.blockNumber + BigInt(confirmations - 1)
      const confirmedAt = waitFor(
        async () =>
          (await env.l1.getBlockNumber({ cacheTime: 0 })) >= confirmingBlock
            ? Date.now()
            : undefined,
        { ...poll, what: 'the confirming L1 block' },
      )
      const mintedAt = waitFor(
        async () =>
          (await env.sidechain.readContract({
            address: env.bridge,
            abi: sidechainBridgeAbi,
            functionName: 'mintedPayload',
            args: [depositId],
          })) !== zeroHash
            ? Date.now()
            : undefined,
        { ...poll, what: `deposit ${depositId} minted` },
      )
      const latency = (await mintedAt) - (await confirmedAt)
      depositSamples.push(latency)
      log(`deposit ${depositId}: credited ${latency} ms after the confirming L1 block`)
    }

    const wrapped = await env.sidechain.readContract({
      address: env.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'wrappedTokenOf',
      args: [zeroAddress],
    })
    const releaseSamples: number[] = []
    for (let i = 0; i < rounds; i++) {
      const hash = await sc.writeContract({
        address: env.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'withdraw',
        args: [wrapped, parseEther('0.5'), user.address],
      })
      await env.sidechain.waitForTransactionReceipt({ hash, pollingInterval: 20 })
      const burnedAt = Date.now()
      const withdrawalId = BigInt(i)
      const releasedAt = await waitFor(
        async () => ((await env.isReleased(withdrawalId)) ? Date.now() : undefined),
        { ...poll, what: `withdrawal ${withdrawalId} released` },
      )
      releaseSamples.push(releasedAt - burnedAt)
      log(`withdrawal ${withdrawalId}: released ${releasedAt - burnedAt} ms after the burn`)
    }
    let proofSeconds = 0
    let proofs = 0
    for (const port of metricsPorts) {
      proofSeconds += (await scrapeMetric(port, 'bridge_relayer_proof_verify_seconds_sum')) ?? 0
      proofs += (await scrapeMetric(port, 'bridge_relayer_proof_verify_seconds_count')) ?? 0
    }
    const meanMs = proofs === 0 ? Number.NaN : (proofSeconds * 1000) / proofs
    return {
      rounds,
      l1BlockTimeSec: 1,
      confirmations,
      sidechainBlockMs,
      deposit: figures(depositSamples, 2_000),
      release: figures(releaseSamples, 5_000),
      proofVerification: {
        proofs,
        meanMs: Number(meanMs.toFixed(2)),
        perWithdrawalMs: Number((2 * meanMs).toFixed(2)),
      },
    }
  } finally {
    await env.stop()
  }
}

export function formatBridgeBench(r: BridgeBenchResult): string {
  const line = (name: string, f: LatencyFigures, what: string) =>
    `  ${name}: median ${f.medianMs} ms, min ${f.minMs}, max ${f.maxMs} (${what}; target <= ${f.targetMs} ms: ${f.withinTarget ? 'met' : 'MISSED'})\n`
  return (
    `bridge latency: ${r.rounds} rounds, L1 blocks ${r.l1BlockTimeSec} s, ${r.confirmations} confirmations, sidechain blocks ${r.sidechainBlockMs} ms, 3 relayers (2 of 3)\n` +
    line('deposit', r.deposit, 'confirming L1 block -> minted') +
    line('release', r.release, 'burn -> released on L1') +
    `  proof verification: ${r.proofVerification.meanMs} ms per eth_getProof verified (${r.proofVerification.proofs} proofs over 3 relayers), ${r.proofVerification.perWithdrawalMs} ms per withdrawal per relayer\n`
  )
}

if (import.meta.main) {
  const result = await runBridgeBench({
    rounds: Number(process.env.BENCH_BRIDGE_ROUNDS ?? 5),
    log: (s) => process.stderr.write(`  ${s}\n`),
  })
  process.stdout.write(formatBridgeBench(result))
}
