/**
 * Network benchmark: 4 validators as separate processes on loopback (QBFT over libp2p),
 * ERC-20 transfers from many senders at a fixed offered rate for a fixed time. Reports
 * sustained TPS, the achieved block period (p50/p99, as seen by a client) and
 * submit-to-finalized latency (p50/p99).
 */
import { writeFileSync } from 'node:fs'
import { createTx, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { createPublicClient, createWalletClient, encodeFunctionData, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { createChainCommon } from '../../chain/execution/common.ts'
import { Explorer } from '../../chain/explorer/explorer.ts'
import { silentLogger } from '../../chain/lib/logger.ts'
import { makeGenesis, tempDir, waitFor } from '../support/chain.ts'
import { memberArgs, prepareNetwork } from '../support/network.ts'
import { NodeProcess } from '../support/p2p.ts'
import { compileBenchToken } from './bench-token.ts'

export interface NetworkBenchResult {
  validators: number
  durationSec: number
  offeredTps: number
  submitted: number
  included: number
  tps: number
  /** Blocks finalized while the load was offered, and how many of them needed a round change. */
  blocks: number
  roundChanges: number
  blockPeriodMs: { p50: number; p99: number }
  latencyMs: { p50: number; p99: number }
  /**
   * The same for transactions submitted after the first 10 s of the measured load (with no
   * warm-up, the first seconds hold the nodes' JIT warm-up on the token's code).
   */
  steadyLatencyMs: { p50: number; p99: number }
  /** Seconds of unmeasured load offered first (see runNetworkBench). */
  warmUpSec: number
  /**
   * How far the explorer (chain/explorer, following one validator over JSON-RPC in this
   * process) trailed the watched node's head during the measured load, sampled every
   * 250 ms; null when BENCH_EXPLORER=0.
   */
  explorerLagBlocks: { max: number; p99: number; samples: number } | null
}

/** Submissions in the first seconds are left out of the steady-state latency. */
const WARM_UP_MS = 10_000

/** The node whose log times the blocks. */
const WATCHED = 1

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export async function runNetworkBench(params: {
  durationSec: number
  offeredTps: number
  senders?: number
  /** Seconds of load offered (and finalized) before the measurement; default 10. */
  warmUpSec?: number
  log?: (s: string) => void
}): Promise<NetworkBenchResult> {
  const log = params.log ?? (() => {})
  const warmUpSec = params.warmUpSec ?? 10
  const senders = params.senders ?? 400
  const setup = makeGenesis({
    validators: 4,
    accounts: senders + 1,
    config: { blockPeriodMs: 1000, roundTimeoutMs: 2000, roundTimeoutMaxMs: 8000 },
  })
  const dir = tempDir('netbench-')
  const procs: NodeProcess[] = []
  let explorer: Explorer | undefined
  try {
    const { genesisFile, members } = await prepareNetwork(setup, dir.path)
    for (let i = 0; i < 4; i++)
      procs.push(
        new NodeProcess(
          members[i]!.name,
          memberArgs(genesisFile, members, i, [
            '--log-level',
            // v1's "finalized block" lines (pino, ms clock) time the blocks.
            i === WATCHED
              ? (process.env.BENCH_LOG_LEVEL ?? 'info')
              : (process.env.BENCH_LOG_LEVEL ?? 'warn'),
          ]),
          // As the devnet and the bin shim run nodes: a larger young generation, fewer scavenges.
          ['--max-semi-space-size=64'],
        ),
      )
    const clients = members.map((m) =>
      createPublicClient({ cacheTime: 0, transport: http(m.rpcUrl, { retryCount: 0 }) }),
    )
    await waitFor(
      async () => {
        const heads = await Promise.all(clients.map((c) => c.getBlockNumber().catch(() => -1n)))
        return heads.every((h) => h >= 2n)
      },
      { timeoutMs: 120_000, what: 'network up' },
    )
    log('network up')

    // Deploy the token with every sender as a holder.
    const deployer = setup.accounts[senders]!
    const [holders, token] = [setup.accounts.slice(0, senders), compileBenchToken()]
    const wallet = createWalletClient({
      account: privateKeyToAccount(bytesToHex(deployer.privateKey) as `0x${string}`),
      chain: {
        id: 1337,
        name: 'bench',
        nativeCurrency: { name: 'ETH', symbol: 'ETH', decimals: 18 },
        rpcUrls: { default: { http: [members[0]!.rpcUrl] } },
      },
      transport: http(members[0]!.rpcUrl),
    })
    const deployHash = await wallet.deployContract({
      abi: token.abi,
      bytecode: token.bytecode,
      args: [holders.map((h) => h.addressHex), 10n ** 24n],
      gas: 16_000_000n,
    })
    const receipt = await clients[0]!.waitForTransactionReceipt({
      hash: deployHash,
      pollingInterval: 200,
      timeout: 60_000,
    })
    const tokenAddress = receipt.contractAddress!
    log(`token at ${tokenAddress}`)

    if (process.env.BENCH_EXPLORER !== '0') {
      explorer = new Explorer(
        {
          rpcUrl: members[2]!.rpcUrl,
          datadir: `${dir.path}/explorer`,
          port: 0,
          pollIntervalMs: 100,
        },
        { logger: silentLogger() },
      )
      await explorer.start()
    }

    // Pre-sign every transfer so signing does not compete with the validators during the run.
    const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
    const warmUpCount = Math.ceil(warmUpSec * params.offeredTps)
    const total = warmUpCount + Math.ceil(params.durationSec * params.offeredTps)
    const txs: TypedTransaction[] = []
    for (let k = 0; txs.length < total; k++) {
      for (let s = 0; s < senders && txs.length < total; s++) {
        const data = encodeFunctionData({
          abi: token.abi,
          functionName: 'transfer',
          args: [holders[(s + 1 + k) % senders]!.addressHex, 1n],
        })
        txs.push(
          createTx(
            {
              type: 2,
              chainId: 1337n,
              nonce: BigInt(k),
              to: hexToBytes(tokenAddress),
              data: hexToBytes(data),
              gasLimit: 80_000n,
              maxFeePerGas: 10n ** 10n,
              maxPriorityFeePerGas: 10n ** 8n,
            },
            { common },
          ).sign(holders[s]!.privateKey),
        )
      }
    }
    log(`signed ${txs.length} transfers`)

    // Watch blocks on one node: when each was finalized there (its log line, ms precision;
    // polling RPC would bunch blocks together) and which transactions it included.
    const watched = procs[WATCHED]!
    const finalizedLines = () =>
      watched.lines.filter(
        (l): l is typeof l & { number: number; time: number; round: number } =>
          l.msg === 'finalized block' && typeof l.number === 'number',
      )
    const finalizedTime = (n: bigint) =>
      finalizedLines().find((l) => BigInt(l.number) === n)?.time ?? Date.now()
    const submittedAt = new Map<string, number>()
    const finalizedAt = new Map<string, number>()
    const txBlock = new Map<string, number>()
    let watching = true
    let lastSeen = await clients[WATCHED]!.getBlockNumber()
    const watcher = (async () => {
      while (watching) {
        // Woken by the node's next "finalized block" line: polling its RPC every few ms
        // would load a validator that is part of the measurement.
        await watched.waitFor(
          () => (!watching || BigInt(watched.head) > lastSeen ? true : undefined),
          'the next finalized block',
          3_600_000,
        )
        const head = await clients[WATCHED]!.getBlockNumber().catch(() => undefined)
        if (head === undefined || head <= lastSeen) {
          // Failed, or not served yet: not hammering a validator that is being measured.
          await new Promise((r) => setTimeout(r, 25))
          continue
        }
        for (let n = lastSeen + 1n; n <= head; n++) {
          const block = await clients[WATCHED]!.getBlock({ blockNumber: n })
          const at = finalizedTime(n)
          for (const hash of block.transactions) {
            finalizedAt.set(hash, at)
            txBlock.set(hash, Number(n))
          }
        }
        lastSeen = head
      }
    })()

    // Offer a load in 100 ms slices, round-robin over the nodes' RPC.
    const offer = async (load: TypedTransaction[], track: boolean) => {
      const sliceMs = 100
      const perSlice = params.offeredTps / (1000 / sliceMs)
      const from = Date.now()
      let sent = 0
      let slice = 0
      while (sent < load.length) {
        const due = Math.min(load.length, Math.round((slice + 1) * perSlice))
        const batch = load.slice(sent, due)
        sent = due
        const node = members[slice % 4]!
        const body = batch.map((tx, i) => ({
          jsonrpc: '2.0',
          id: i,
          method: 'eth_sendRawTransaction',
          params: [bytesToHex(tx.serialize())],
        }))
        const now = Date.now()
        if (track) for (const tx of batch) submittedAt.set(bytesToHex(tx.hash()), now)
        void fetch(node.rpcUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).catch(() => undefined)
        slice++
        const wait = from + slice * sliceMs - Date.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      }
    }

    // Warm-up, not measured: freshly started nodes run the token's code slowly at first (JIT,
    // cold caches), and the backlog that leaves can take longer than the warm-up itself to
    // clear. Validators in service are warm; the measurement starts once this load is in.
    if (warmUpCount > 0) {
      const warm = txs.slice(0, warmUpCount)
      const warmStarted = Date.now()
      await offer(warm, false)
      await waitFor(() => warm.every((tx) => finalizedAt.has(bytesToHex(tx.hash()))), {
        timeoutMs: 120_000,
        intervalMs: 100,
        what: 'warm-up transfers finalized',
      })
      log(
        `warm-up: ${warm.length} transfers in ${((Date.now() - warmStarted) / 1000).toFixed(1)} s`,
      )
    }
    const started = Date.now()
    const explorerLags: number[] = []
    const sampler =
      explorer === undefined
        ? undefined
        : setInterval(() => {
            const indexed = explorer!.indexer.status().indexed
            if (indexed !== null) explorerLags.push(Math.max(0, Number(watched.head) - indexed))
          }, 250)
    await offer(txs.slice(warmUpCount), true)
    const loadEnd = Date.now()
    clearInterval(sampler)
    log('load offered, waiting for inclusion')
    const measuredIncluded = () => {
      let n = 0
      for (const hash of submittedAt.keys()) if (finalizedAt.has(hash)) n++
      return n
    }
    await waitFor(
      () => measuredIncluded() >= submittedAt.size * 0.999 || Date.now() - loadEnd > 20_000,
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    watching = false
    await watcher

    // For offline analysis (with the nodes' debug logs): when each transaction was
    // submitted and finalized, and in which block.
    const dumpFile = process.env.BENCH_NETWORK_DUMP
    if (dumpFile !== undefined) {
      const rows = [...submittedAt].map(([hash, at]) => [
        at,
        finalizedAt.get(hash) ?? null,
        txBlock.get(hash) ?? null,
      ])
      writeFileSync(dumpFile, JSON.stringify({ started, txs: rows }))
    }
    // A transaction never finalized counts as an infinite latency, so a run that loses
    // some cannot report a better tail than one that keeps them all.
    const latencies: number[] = []
    const steadyLatencies: number[] = []
    let included = 0
    let lastInclusion = started
    for (const [hash, at] of submittedAt) {
      const done = finalizedAt.get(hash)
      const latency = done === undefined ? Number.POSITIVE_INFINITY : done - at
      latencies.push(latency)
      if (at - started >= WARM_UP_MS) steadyLatencies.push(latency)
      if (done !== undefined) {
        included++
        lastInclusion = Math.max(lastInclusion, done)
      }
    }
    const underLoad = finalizedLines()
      .filter((l) => l.time >= started && l.time <= loadEnd)
      .sort((a, b) => a.number - b.number)
    const periods = underLoad.slice(1).map((l, i) => l.time - underLoad[i]!.time)
    const roundChanges = underLoad.filter((l) => l.round > 0).length
    return {
      validators: 4,
      durationSec: params.durationSec,
      warmUpSec,
      offeredTps: params.offeredTps,
      submitted: submittedAt.size,
      included,
      tps: included / ((lastInclusion - started) / 1000),
      blocks: underLoad.length,
      roundChanges,
      blockPeriodMs: { p50: percentile(periods, 50), p99: percentile(periods, 99) },
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
      steadyLatencyMs: {
        p50: percentile(steadyLatencies, 50),
        p99: percentile(steadyLatencies, 99),
      },
      explorerLagBlocks:
        explorer === undefined
          ? null
          : {
              max: Math.max(0, ...explorerLags),
              p99: percentile(explorerLags, 99),
              samples: explorerLags.length,
            },
    }
  } finally {
    await explorer?.stop()
    await Promise.all(procs.map((p) => p.stop()))
    dir.remove()
  }
}
