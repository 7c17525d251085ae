/**
 * Prometheus metrics, /health and /ready for a node, on their own port. One registry per
 * node (no prom-client globals, so two nodes can run in one process). Gauges are read from
 * the components when scraped (pull); events (blocks imported, built and validated, gossip
 * verdicts, RPC errors) are pushed by the components as they happen, through the narrow
 * interfaces of events.ts that this class implements.
 * /health (liveness) answers 503 when the node cannot write blocks or its head is stuck
 * behind its peers (node-health.ts); /ready also while it syncs. Both bodies say why.
 */
import { createServer, type Server } from 'node:http'
import { bytesToHex } from '@ethereumjs/util'
import type { Logger } from 'pino'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { z } from 'zod'
import type { QbftStatus } from '../consensus/qbft/index.ts'
import { SidechainError } from '../lib/errors.ts'
import type { GossipResult, NodeEventMetrics } from './events.ts'
import { type HealthReport, NodeHealth } from './node-health.ts'
import { type MetricsOptions, type MetricsOptionsInput, metricsOptionsSchema } from './options.ts'

export type NodeMetricsOptions = MetricsOptionsInput

const GOSSIP_COUNTS = ['received', 'accepted', 'ignored', 'rejected', 'published'] as const

/** Seconds of block work: from a few milliseconds (empty blocks) to the block period and past it. */
const BLOCK_WORK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export interface NodeMetricsModules {
  head: () => { number: bigint; timestamp: bigint }
  /** The ledger's count of proposals validated on a speculation, and of fallbacks. */
  speculativeValidations: () => { used: number; fellBack: number }
  txpoolSize: () => number
  peerCount?: () => number
  gossipStats?: () => Record<string, Record<(typeof GOSSIP_COUNTS)[number], number>>
  consensus?: () => QbftStatus | undefined
  evidenceCount?: () => number
  /** This validator's own proposals: all, and those sealed from a block built early. */
  ownProposals?: () => { total: number; early: number } | undefined
  /** false while the node is syncing: /ready answers 503 then. */
  isSynced?: () => boolean
  /** Each ethereumjs patch (chain/execution/upstream) and whether it is in effect. */
  upstreamPatches?: () => Readonly<Record<string, { active: boolean }>>
  /** Heads the connected peers announced, for stall detection. */
  peerHeads?: () => readonly bigint[]
  clock?: { now(): number }
  /** Block writes that failed: in a row (reset by a successful one), the last error, in total. */
  writeFailures?: () => {
    readonly consecutive: number
    readonly lastError: string | undefined
    readonly total: number
  }
  logger?: Logger
  /** The genesis block period: alert rules compare head age and silences with it. */
  blockPeriodMs?: number
}

export class NodeMetrics implements NodeEventMetrics {
  readonly registry = new Registry()
  private readonly options: MetricsOptions
  private readonly modules: NodeMetricsModules
  private server: Server | undefined
  private readonly blockIntervalSeconds: Histogram
  private readonly blockImportSeconds: Histogram
  private readonly blockBuildSeconds: Histogram
  private readonly blockValidationSeconds: Histogram
  private readonly blockTxs: Counter
  private readonly gossipResults: Counter<'topic' | 'result' | 'code'>
  private readonly rpcErrors: Counter<'method' | 'code'>
  private lastHeadAt: number | undefined
  private boundPort = 0
  readonly health: NodeHealth

  constructor(options: NodeMetricsOptions, modules: NodeMetricsModules) {
    const parsed = metricsOptionsSchema.safeParse(options)
    if (!parsed.success) {
      throw new SidechainError(
        'METRICS_OPTIONS_INVALID',
        `invalid metrics options:\n${z.prettifyError(parsed.error)}`,
      )
    }
    this.options = parsed.data
    this.modules = modules
    const registers = [this.registry]
    this.health = new NodeHealth(this.options.health, {
      ledger: {
        get head() {
          return modules.head()
        },
        get writeFailures() {
          return modules.writeFailures?.() ?? { consecutive: 0, lastError: undefined }
        },
      },
      peerHeads: modules.peerHeads,
      clock: modules.clock ?? { now: () => Date.now() },
    })
    collectDefaultMetrics({ register: this.registry, prefix: 'sidechain_' })
    new Gauge({
      name: 'sidechain_head_number',
      help: 'Number of the head (final) block',
      registers,
      collect() {
        this.set(Number(modules.head().number))
      },
    })
    new Gauge({
      name: 'sidechain_head_timestamp_seconds',
      help: 'Timestamp of the head block',
      registers,
      collect() {
        this.set(Number(modules.head().timestamp))
      },
    })
    new Gauge({
      name: 'sidechain_txpool_size',
      help: 'Transactions in the pool',
      registers,
      collect: function () {
        this.set(modules.txpoolSize())
      },
    })
    new Gauge({
      name: 'sidechain_peers',
      help: 'Connected peers',
      registers,
      collect() {
        this.set(modules.peerCount?.() ?? 0)
      },
    })
    new Gauge({
      name: 'sidechain_gossip_messages',
      help: 'Gossip messages by topic and validation result (counts since start)',
      labelNames: ['topic', 'result'],
      registers,
      collect() {
        this.reset()
        for (const [topic, stats] of Object.entries(modules.gossipStats?.() ?? {})) {
          for (const result of GOSSIP_COUNTS) this.set({ topic, result }, stats[result])
        }
      },
    })
    new Gauge({
      name: 'sidechain_qbft_height',
      help: 'QBFT height being decided',
      registers,
      collect() {
        const h = modules.consensus?.()?.height
        this.set(h === null || h === undefined ? 0 : Number(h))
      },
    })
    new Gauge({
      name: 'sidechain_qbft_round',
      help: 'QBFT round of the current height',
      registers,
      collect() {
        this.set(modules.consensus?.()?.round ?? 0)
      },
    })
    new Gauge({
      name: 'sidechain_qbft_validators',
      help: 'Validators in the set of the height being decided (0 on a node that runs no QBFT)',
      registers,
      collect() {
        this.set(modules.consensus?.()?.validators.length ?? 0)
      },
    })
    if (modules.blockPeriodMs !== undefined) {
      const seconds = modules.blockPeriodMs / 1000
      new Gauge({
        name: 'sidechain_block_period_seconds',
        help: 'Block period of the genesis (the time between blocks of a healthy network)',
        registers,
        collect() {
          this.set(seconds)
        },
      })
    }
    new Gauge({
      name: 'sidechain_qbft_equivocations',
      help: 'Equivocation evidence records held',
      registers,
      collect() {
        this.set(modules.evidenceCount?.() ?? 0)
      },
    })
    new Counter({
      name: 'sidechain_qbft_own_proposals_total',
      help: 'Blocks this validator built and proposed (in any round, finalized or not), by how they were built (early: opened when the parent was imported and filled before the slot; at_slot: built at the slot)',
      labelNames: ['build'],
      registers,
      collect() {
        const proposals = modules.ownProposals?.()
        if (proposals === undefined) return
        this.reset()
        this.inc({ build: 'early' }, proposals.early)
        this.inc({ build: 'at_slot' }, proposals.total - proposals.early)
      },
    })
    new Counter({
      name: 'sidechain_qbft_speculative_validations_total',
      help: "Proposals validated on the transactions executed ahead from the proposer's previews (used), and speculations dropped for a full execution (fell_back: the block did not continue it, or it failed)",
      labelNames: ['outcome'],
      registers,
      collect() {
        const { used, fellBack } = modules.speculativeValidations()
        this.reset()
        this.inc({ outcome: 'used' }, used)
        this.inc({ outcome: 'fell_back' }, fellBack)
      },
    })
    new Gauge({
      name: 'sidechain_upstream_patch_active',
      help: 'Whether a patch of ethereumjs internals is in effect (1) or the node runs upstream code there (0)',
      labelNames: ['patch'],
      registers,
      collect() {
        this.reset()
        for (const [patch, status] of Object.entries(modules.upstreamPatches?.() ?? {})) {
          this.set({ patch }, status.active ? 1 : 0)
        }
      },
    })
    const perValidator = (
      name: string,
      help: string,
      pick: (v: QbftStatus['validatorStats'][number]) => number | null,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['validator'],
        registers,
        collect() {
          this.reset()
          for (const v of modules.consensus?.()?.validatorStats ?? []) {
            const value = pick(v)
            if (value !== null) this.set({ validator: bytesToHex(v.address) }, value)
          }
        },
      })
    perValidator(
      'sidechain_validator_last_seen_seconds',
      'When a message of this validator was last seen (unix seconds)',
      (v) => (v.lastSeenAt === null ? null : v.lastSeenAt / 1000),
    )
    perValidator(
      'sidechain_validator_proposals_made',
      'Accepted proposals of this validator',
      (v) => v.proposalsMade,
    )
    perValidator(
      'sidechain_validator_proposals_missed',
      'Rounds of this validator that timed out without a proposal',
      (v) => v.proposalsMissed,
    )
    perValidator(
      'sidechain_validator_commits_included',
      'Decided heights with this validator’s commit',
      (v) => v.commitsIncluded,
    )
    const writeFailures = () =>
      modules.writeFailures?.() ?? { consecutive: 0, lastError: undefined, total: 0 }
    new Counter({
      name: 'sidechain_block_import_failures_total',
      help: 'Block imports that failed to write the block (storage errors); a retried block counts once per attempt',
      registers,
      collect() {
        this.reset()
        this.inc(writeFailures().total)
      },
    })
    const health = this.health
    new Gauge({
      name: 'sidechain_healthy',
      help: '1 when /health answers 200, 0 when it answers 503',
      registers,
      collect() {
        this.set(health.check().healthy ? 1 : 0)
      },
    })
    const readiness = () => this.readiness()
    new Gauge({
      name: 'sidechain_ready',
      help: '1 when /ready answers 200, 0 when it answers 503 (unhealthy or syncing)',
      registers,
      collect() {
        this.set(readiness().ready ? 1 : 0)
      },
    })
    this.blockIntervalSeconds = new Histogram({
      name: 'sidechain_block_interval_seconds',
      help: 'Time between consecutive new heads on this node',
      buckets: [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10],
      registers,
    })
    this.blockImportSeconds = new Histogram({
      name: 'sidechain_block_import_seconds',
      help: 'Time to import a block as the new head: header and seal checks, execution unless the block was built or validated here already, and the synced write',
      buckets: BLOCK_WORK_BUCKETS,
      registers,
    })
    this.blockBuildSeconds = new Histogram({
      name: 'sidechain_block_build_seconds',
      help: "Time this validator spent building one of its blocks: its transactions' execution over all fill passes (thread CPU time, what the build budget counts) plus sealing",
      buckets: BLOCK_WORK_BUCKETS,
      registers,
    })
    this.blockValidationSeconds = new Histogram({
      name: 'sidechain_block_validation_seconds',
      help: "Time to validate another validator's proposal (header rules and execution) before voting on it",
      buckets: BLOCK_WORK_BUCKETS,
      registers,
    })
    this.blockTxs = new Counter({
      name: 'sidechain_transactions_total',
      help: 'Transactions in imported blocks',
      registers,
    })
    this.gossipResults = new Counter({
      name: 'sidechain_gossip_results_total',
      help: 'Received gossip messages by topic, verdict (accept, ignore, reject) and the error code behind it (none for an accept)',
      labelNames: ['topic', 'result', 'code'],
      registers,
    })
    this.rpcErrors = new Counter({
      name: 'sidechain_rpc_errors_total',
      help: 'JSON-RPC calls answered with an error, by method (unknown for names not served) and JSON-RPC error code',
      labelNames: ['method', 'code'],
      registers,
    })
  }

  blockImported(seconds: number, transactions: number): void {
    this.health.headMoved()
    this.blockImportSeconds.observe(seconds)
    this.blockTxs.inc(transactions)
    const now = Date.now()
    if (this.lastHeadAt !== undefined) {
      this.blockIntervalSeconds.observe((now - this.lastHeadAt) / 1000)
    }
    this.lastHeadAt = now
  }

  blockValidated(seconds: number): void {
    this.blockValidationSeconds.observe(seconds)
  }

  blockBuilt(seconds: number): void {
    this.blockBuildSeconds.observe(seconds)
  }

  gossipResult(topic: string, result: GossipResult, code: string): void {
    this.gossipResults.inc({ topic, result, code })
  }

  rpcError(method: string, code: number): void {
    this.rpcErrors.inc({ method, code: String(code) })
  }

  /** What /ready answers: healthy and not syncing. */
  readiness(): { ready: boolean; head: number; reasons: string[] } {
    const report = this.health.check()
    const synced = this.modules.isSynced?.() ?? true
    const reasons = synced ? report.reasons : ['syncing', ...report.reasons]
    return { ready: reasons.length === 0, head: report.head, reasons }
  }

  get url(): string {
    return `http://${this.options.host}:${this.boundPort}`
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (path === '/metrics') {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType })
            res.end(text)
          },
          (err: unknown) => {
            res.writeHead(500)
            res.end(String(err))
          },
        )
      } else if (path === '/health') {
        const report = this.health.check()
        res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' })
        res.end(JSON.stringify(healthBody(report)))
      } else if (path === '/ready') {
        const { ready, head, reasons } = this.readiness()
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ ready, head, ...(ready ? {} : { reasons }) }))
      } else {
        res.writeHead(404)
        res.end()
      }
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port, this.options.host, () => resolve())
    })
    this.boundPort = (server.address() as { port: number }).port
    this.server = server
    this.modules.logger?.info({ url: `${this.url}/metrics` }, 'metrics server listening')
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

function healthBody(report: HealthReport) {
  return report.healthy
    ? { status: 'ok', head: report.head }
    : { status: 'unhealthy', head: report.head, reasons: report.reasons }
}
