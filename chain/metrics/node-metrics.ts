/**
 * Prometheus metrics, /health and /ready for a node, on their own port. One registry per
 * node (no prom-client globals, so two nodes can run in one process). Most values are read
 * from the components when scraped; block import time is observed on each new head.
 * /health (liveness) answers 503 when the node cannot write blocks or its head is stuck
 * behind its peers (node-health.ts); /ready also while it syncs. Both bodies say why.
 */
import { createServer, type Server } from 'node:http'
import { bytesToHex } from '@ethereumjs/util'
import type { Logger } from 'pino'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { QbftStatus } from '../consensus/qbft/index.ts'
import type { ImportedBlock, Ledger } from '../ledger/ledger.ts'
import type { GossipTopicStats } from '../p2p/gossip.ts'
import { type HealthReport, NodeHealth, type NodeHealthOptionsInput } from './node-health.ts'

export interface NodeMetricsOptions {
  host: string
  port: number
  /** When /health and /ready turn unhealthy (node-health.ts has the defaults). */
  health?: NodeHealthOptionsInput
}

export interface NodeMetricsModules {
  ledger: Ledger
  txpoolSize: () => number
  peerCount?: () => number
  gossipStats?: () => Record<string, GossipTopicStats>
  consensus?: () => QbftStatus | undefined
  evidenceCount?: () => number
  /** This validator's own proposals: all, and those sealed from a block built early. */
  ownProposals?: () => { total: number; early: number } | undefined
  /** false while the node is syncing: /ready answers 503 then. */
  isSynced?: () => boolean
  /** Heads the connected peers announced, for stall detection. */
  peerHeads?: () => readonly bigint[]
  clock?: { now(): number }
  logger?: Logger
}

export class NodeMetrics {
  readonly registry = new Registry()
  private readonly options: NodeMetricsOptions
  private readonly modules: NodeMetricsModules
  private server: Server | undefined
  private readonly importSeconds: Histogram
  private readonly blockTxs: Counter
  private lastHeadAt: number | undefined
  private readonly onHead: (imported: ImportedBlock) => void
  private boundPort = 0
  readonly health: NodeHealth

  constructor(options: NodeMetricsOptions, modules: NodeMetricsModules) {
    this.options = options
    this.modules = modules
    const registers = [this.registry]
    this.health = new NodeHealth(options.health ?? {}, {
      ledger: modules.ledger,
      peerHeads: modules.peerHeads,
      clock: modules.clock ?? { now: () => Date.now() },
    })
    collectDefaultMetrics({ register: this.registry, prefix: 'sidechain_' })
    const { ledger } = modules
    new Gauge({
      name: 'sidechain_head_number',
      help: 'Number of the head (final) block',
      registers,
      collect() {
        this.set(Number(ledger.head.number))
      },
    })
    new Gauge({
      name: 'sidechain_head_timestamp_seconds',
      help: 'Timestamp of the head block',
      registers,
      collect() {
        this.set(Number(ledger.head.timestamp))
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
          for (const result of [
            'received',
            'accepted',
            'ignored',
            'rejected',
            'published',
          ] as const) {
            this.set({ topic, result }, stats[result])
          }
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
        const { used, fellBack } = modules.ledger.speculativeValidations
        this.reset()
        this.inc({ outcome: 'used' }, used)
        this.inc({ outcome: 'fell_back' }, fellBack)
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
    new Counter({
      name: 'sidechain_block_import_failures_total',
      help: 'Block imports that failed to write the block (storage errors); a retried block counts once per attempt',
      registers,
      collect() {
        this.reset()
        this.inc(modules.ledger.writeFailures.total)
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
    this.importSeconds = new Histogram({
      name: 'sidechain_block_interval_seconds',
      help: 'Time between consecutive new heads on this node',
      buckets: [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10],
      registers,
    })
    this.blockTxs = new Counter({
      name: 'sidechain_transactions_total',
      help: 'Transactions in imported blocks',
      registers,
    })
    this.onHead = (imported) => {
      this.health.headMoved()
      const now = Date.now()
      if (this.lastHeadAt !== undefined) this.importSeconds.observe((now - this.lastHeadAt) / 1000)
      this.lastHeadAt = now
      this.blockTxs.inc(imported.block.transactions.length)
    }
  }

  get url(): string {
    return `http://${this.options.host}:${this.boundPort}`
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    this.modules.ledger.on('head', this.onHead)
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
        const report = this.health.check()
        const synced = this.modules.isSynced?.() ?? true
        const reasons = synced ? report.reasons : ['syncing', ...report.reasons]
        const ready = reasons.length === 0
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ ready, head: report.head, ...(ready ? {} : { reasons }) }))
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
    this.modules.ledger.off('head', this.onHead)
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

function healthBody(report: HealthReport) {
  return report.healthy
    ? { status: 'ok', head: report.head }
    : { status: 'unhealthy', head: report.head, reasons: report.reasons }
}
