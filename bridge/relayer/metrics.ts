/**
 * Prometheus metrics of one relayer, on a registry of its own (several relayers can run in one process in tests),
 * and the HTTP endpoint that serves them with `/health` (the loops are alive) and `/ready` (started and both
 * chains answered recently).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { closeHttp, listenHttp } from '../../chain/lib/http-server.ts'

export class RelayerMetrics {
  readonly registry = new Registry()
  readonly lastScannedBlock: Gauge<'chain'>
  readonly scanTargetBlock: Gauge<'chain'>
  readonly pendingDeposits: Gauge
  readonly pendingWithdrawals: Gauge
  readonly oldestPendingWithdrawalSeconds: Gauge
  readonly depositsConfirmed: Counter
  readonly signaturesSubmitted: Counter
  readonly releases: Counter
  readonly gasSpentWei: Gauge<'chain'>
  readonly spendCapWei: Gauge
  readonly errors: Counter<'kind'>
  readonly replacements: Counter<'chain'>
  readonly lockedOnL1: Gauge<'token'>
  readonly wrappedSupply: Gauge<'token'>
  readonly supplyBacked: Gauge<'token'>
  readonly l1Halted: Gauge
  readonly ready: Gauge
  readonly gasReserve: Gauge
  readonly gasDrops: Gauge
  readonly gasDropRefusals: Gauge<'reason'>
  readonly gasDropWindowRemaining: Gauge
  readonly parkedItems: Gauge<'reason'>
  readonly spendInWindowWei: Gauge
  readonly verificationRefusals: Counter<'code'>
  readonly lightClientVerifiedBlock: Gauge
  readonly proofVerifySeconds: Histogram

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry]
    this.lastScannedBlock = new Gauge({
      name: 'bridge_relayer_last_scanned_block',
      help: 'Last block fully scanned, per chain (l1 counts only blocks past the confirmations)',
      labelNames: ['chain'],
      registers,
    })
    this.scanTargetBlock = new Gauge({
      name: 'bridge_relayer_scan_target_block',
      help: 'Newest block the relayer may scan, per chain (l1: the newest with the confirmations; sidechain: the head); minus bridge_relayer_last_scanned_block it is the scan lag',
      labelNames: ['chain'],
      registers,
    })
    this.pendingDeposits = new Gauge({
      name: 'bridge_relayer_pending_deposits',
      help: 'L1 deposits past the confirmations and not yet minted on the sidechain',
      registers,
    })
    this.pendingWithdrawals = new Gauge({
      name: 'bridge_relayer_pending_withdrawals',
      help: 'Sidechain withdrawals not yet released on L1',
      registers,
    })
    this.oldestPendingWithdrawalSeconds = new Gauge({
      name: 'bridge_relayer_oldest_pending_withdrawal_seconds',
      help: 'Age of the oldest withdrawal not yet released, counted from when this relayer process first saw it (0 when none)',
      registers,
    })
    this.depositsConfirmed = new Counter({
      name: 'bridge_relayer_deposits_confirmed_total',
      help: 'Deposit confirmations (votes) this relayer got mined on the sidechain',
      registers,
    })
    this.signaturesSubmitted = new Counter({
      name: 'bridge_relayer_signatures_submitted_total',
      help: 'Withdrawal signatures this relayer stored on the sidechain',
      registers,
    })
    this.releases = new Counter({
      name: 'bridge_relayer_releases_total',
      help: 'Releases this relayer executed on L1',
      registers,
    })
    this.gasSpentWei = new Gauge({
      name: 'bridge_relayer_gas_spent_wei',
      help: "Total gas cost of this relayer's mined transactions, in wei (l1 is what the spend cap limits)",
      labelNames: ['chain'],
      registers,
    })
    this.spendCapWei = new Gauge({
      name: 'bridge_relayer_spend_cap_wei',
      help: 'Configured L1 spend cap, in wei',
      registers,
    })
    this.errors = new Counter({
      name: 'bridge_relayer_errors_total',
      help: 'Failures by kind (network, timeout, nonce, underpriced, paused, revert, spend-cap, conflict, ...)',
      labelNames: ['kind'],
      registers,
    })
    this.replacements = new Counter({
      name: 'bridge_relayer_tx_replacements_total',
      help: 'Stuck transactions replaced with higher fees',
      labelNames: ['chain'],
      registers,
    })
    this.lockedOnL1 = new Gauge({
      name: 'bridge_locked_on_l1',
      help: 'Balance of the vault per L1 token (base units), from the periodic audit',
      labelNames: ['token'],
      registers,
    })
    this.wrappedSupply = new Gauge({
      name: 'bridge_wrapped_supply',
      help: 'Total supply of the wrapped token per L1 token (base units), from the periodic audit',
      labelNames: ['token'],
      registers,
    })
    this.supplyBacked = new Gauge({
      name: 'bridge_supply_backed',
      help: '1 when the audit found the wrapped supply backed by the vault (security invariant 7), else 0',
      labelNames: ['token'],
      registers,
    })
    this.l1Halted = new Gauge({
      name: 'bridge_relayer_l1_halted',
      help: '1 while L1 processing is halted (a reorg deeper than the confirmations): no deposit is voted until an operator looks',
      registers,
    })
    this.ready = new Gauge({
      name: 'bridge_relayer_ready',
      help: '1 when /ready answers 200 (started, and both chains answered recently), else 0; set at each scrape',
      registers,
    })
    this.gasReserve = new Gauge({
      name: 'bridge_gas_reserve_wei',
      help: "Native coin in the sidechain bridge's gas drop reserve, in wei",
      registers,
    })
    this.gasDrops = new Gauge({
      name: 'bridge_gas_drops',
      help: 'Gas drops the sidechain bridge sent with mints so far (its own counter)',
      registers,
    })
    this.gasDropRefusals = new Gauge({
      name: 'bridge_gas_drop_refusals',
      help: 'Mints to a recipient that qualified for a gas drop but got none, by reason (reserve-empty, window-full, recipient-rejected)',
      labelNames: ['reason'],
      registers,
    })
    this.gasDropWindowRemaining = new Gauge({
      name: 'bridge_gas_drop_window_remaining_wei',
      help: 'Native coin the bridge can still drop in the current 24 h window, in wei',
      registers,
    })
    this.parkedItems = new Gauge({
      name: 'bridge_relayer_parked_items',
      help: 'Items (deposits, withdrawals) parked after a permanent failure, by reason (out-of-gas, gas-cap, revert, conflict, ...); each is looked at again on a timer',
      labelNames: ['reason'],
      registers,
    })
    this.spendInWindowWei = new Gauge({
      name: 'bridge_relayer_spend_in_window_wei',
      help: 'L1 gas cost of this relayer within the current spend window plus what in-flight transactions may still cost, in wei (limited by the spend cap)',
      registers,
    })
    this.verificationRefusals = new Counter({
      name: 'bridge_relayer_verification_refusals_total',
      help: 'Sidechain answers the relayer refused to act on, by error code (a header without a quorum of seals, a proof that does not verify, a payload the proof contradicts): a lying or broken sidechain endpoint',
      labelNames: ['code'],
      registers,
    })
    this.lightClientVerifiedBlock = new Gauge({
      name: 'bridge_relayer_light_client_verified_block',
      help: 'Newest sidechain block whose commit seals the relayer verified (withdrawals are proven against it)',
      registers,
    })
    this.proofVerifySeconds = new Histogram({
      name: 'bridge_relayer_proof_verify_seconds',
      help: 'Time to verify one eth_getProof answer of the bridge state against a verified header (not the time the endpoint took to answer)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    })
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }
}

export interface ProbeStatus {
  ok: boolean
  details: Record<string, unknown>
}

export interface MetricsServerModules {
  metrics: RelayerMetrics
  health: () => ProbeStatus
  ready: () => ProbeStatus
}

/** `/metrics`, `/health`, `/ready` over plain HTTP. */
export class MetricsServer {
  private server: Server | undefined
  private readonly options: { host: string; port: number }
  private readonly modules: MetricsServerModules

  constructor(options: { host: string; port: number }, modules: MetricsServerModules) {
    this.options = options
    this.modules = modules
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end()
        return
      }
      if (url === '/metrics') {
        this.modules.metrics.ready.set(this.modules.ready().ok ? 1 : 0)
        this.modules.metrics.registry.metrics().then(
          (body) => {
            res
              .writeHead(200, { 'content-type': this.modules.metrics.registry.contentType })
              .end(body)
          },
          (err: unknown) => {
            res.writeHead(500).end(String(err))
          },
        )
        return
      }
      if (url === '/health' || url === '/ready') {
        const status = url === '/health' ? this.modules.health() : this.modules.ready()
        res
          .writeHead(status.ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(
            `${JSON.stringify({ status: status.ok ? 'ok' : 'unavailable', ...status.details })}\n`,
          )
        return
      }
      res.writeHead(404).end()
    })
    await listenHttp(server, this.options.port, this.options.host)
    this.server = server
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    await closeHttp(server)
  }
}
