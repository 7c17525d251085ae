/**
 * The JSON-RPC service of a node: validated options (defaults live in the schema), the
 * handler with every namespace registered, the filter/subscription system fed by the
 * ledger and the pool, and the HTTP/WebSocket server. node.ts builds one and starts/stops
 * it with the node; other components add namespaces through `service.handler.register`.
 */
import { createRequire } from 'node:module'
import type { Logger } from 'pino'
import { z } from 'zod'
import { CallSimulator } from '../execution/simulation/runner.ts'
import type { ImportedBlock } from '../ledger/chain-reader.ts'
import type { RpcMetrics } from '../metrics/events.ts'
import type { PoolTx } from '../txpool/txpool.ts'
import { ChainView, type RpcLedger } from './chain-view.ts'
import { debugModule } from './debug.ts'
import { RpcServiceError } from './errors.ts'
import { ethModule, type RpcTxPool, type SyncStatusProvider } from './eth.ts'
import { FeeOracle } from './fees.ts'
import { FilterSystem } from './filters.ts'
import { defineMethod, RpcHandler } from './handler.ts'
import { netModule, type PeerCountProvider } from './net.ts'
import { type RpcOptions, type RpcOptionsInput, rpcOptionsSchema } from './options.ts'
import { RpcServer } from './transport.ts'
import { txpoolModule } from './txpool.ts'
import { web3Module } from './web3.ts'

export {
  type RpcOptions,
  type RpcOptionsInput,
  rpcOptionsSchema,
} from './options.ts'

export function parseRpcOptions(input: unknown): RpcOptions {
  const result = rpcOptionsSchema.safeParse(input ?? {})
  if (result.success) return result.data
  throw new RpcServiceError(
    'RPC_OPTIONS_INVALID',
    `invalid RPC options:\n${z.prettifyError(result.error)}`,
  )
}

export interface RpcServiceModules {
  ledger: RpcLedger
  txpool: RpcTxPool
  logger?: Logger
  /** JSON-RPC errors by method and code, as they happen; null or absent: not counted. */
  metrics?: RpcMetrics | null
  syncStatus?: SyncStatusProvider
  peerCount?: PeerCountProvider
  clientVersion?: string
}

export function defaultClientVersion(): string {
  const require = createRequire(import.meta.url)
  let version = '0.0.0'
  try {
    version = (require('../../package.json') as { version: string }).version
  } catch {
    // running from an unusual layout; the version is informational only
  }
  return `sidechain/v${version}/${process.platform}-${process.arch}/node${process.versions.node}`
}

export class RpcService {
  readonly options: RpcOptions
  readonly handler: RpcHandler
  readonly server: RpcServer
  readonly chain: ChainView
  readonly simulator: CallSimulator
  readonly fees: FeeOracle
  readonly filters: FilterSystem
  private readonly ledger: RpcLedger
  private readonly txpool: RpcTxPool
  private readonly logger: Logger | undefined
  private running = false
  private readonly onHead = (imported: ImportedBlock) => {
    try {
      this.filters.onHead(imported)
    } catch (err) {
      this.logger?.error({ err }, 'RPC filters failed on new head')
    }
  }
  private readonly onPending = (entry: PoolTx) => {
    try {
      this.filters.onPendingTransaction(entry)
    } catch (err) {
      this.logger?.error({ err }, 'RPC filters failed on pending transaction')
    }
  }

  constructor(options: RpcOptionsInput, modules: RpcServiceModules) {
    const o = parseRpcOptions(options)
    this.options = o
    this.ledger = modules.ledger
    this.txpool = modules.txpool
    this.logger = modules.logger
    this.chain = new ChainView(modules.ledger)
    this.simulator = new CallSimulator(
      {
        gasCap: o.callGasCap,
        timeoutMs: o.callTimeoutMs,
        maxConcurrent: o.maxConcurrentExecutions,
        maxQueued: o.maxQueuedExecutions,
      },
      { chain: modules.ledger },
    )
    this.fees = new FeeOracle(
      {
        defaultTip: o.defaultTip,
        maxTip: o.maxTip,
        sampleBlocks: 20,
        maxHistoryBlocks: o.feeHistoryMaxBlocks,
      },
      { chain: this.chain, baseFeeFloor: modules.ledger.genesis.config.baseFeeFloor },
    )
    this.filters = new FilterSystem(
      {
        filterTimeoutMs: o.filterTimeoutMs,
        maxFilters: o.maxFilters,
        maxQueuedPerFilter: o.maxQueuedPerFilter,
        maxQueuedTotal: o.maxQueuedFilterChanges,
        maxSubscriptionsPerConnection: o.maxSubscriptionsPerConnection,
      },
      { chain: this.chain },
    )
    this.handler = new RpcHandler(
      { maxBatchLength: o.maxBatchLength, maxResponseBytes: o.maxResponseBytes, apis: o.apis },
      { logger: modules.logger, metrics: modules.metrics },
    )
    this.handler.register(
      ethModule({
        chain: this.chain,
        txpool: modules.txpool,
        simulator: this.simulator,
        fees: this.fees,
        filters: this.filters,
        logLimits: { maxBlockRange: o.getLogsMaxBlockRange, maxResults: o.getLogsMaxResults },
        syncStatus: modules.syncStatus ?? (() => false),
      }),
    )
    this.handler.register(
      netModule({ ledger: modules.ledger, peerCount: modules.peerCount ?? (() => 0) }),
    )
    this.handler.register(
      web3Module({ clientVersion: modules.clientVersion ?? defaultClientVersion() }),
    )
    this.handler.register(txpoolModule({ txpool: modules.txpool }))
    this.handler.register(
      debugModule({
        chain: this.chain,
        simulator: this.simulator,
        limits: {
          timeoutMs: o.traceTimeoutMs,
          maxTimeoutMs: o.traceMaxTimeoutMs,
          maxStructLogs: o.maxStructLogs,
        },
      }),
    )
    this.handler.register({
      namespace: 'rpc',
      methods: {
        modules: defineMethod([], () =>
          Object.fromEntries(this.handler.servedNamespaces().map((ns) => [ns, '1.0'])),
        ),
      },
    })
    this.server = new RpcServer(
      {
        host: o.host,
        port: o.port,
        corsOrigins: o.corsOrigins,
        maxBodyBytes: o.maxBodyBytes,
        maxWsMessageBytes: o.maxWsMessageBytes,
        maxWsConnections: o.maxWsConnections,
        maxHttpConnections: o.maxHttpConnections,
        maxWsInFlight: o.maxWsInFlight,
        maxWsBufferedBytes: o.maxWsBufferedBytes,
        wsHeartbeatMs: o.wsHeartbeatMs,
        requestTimeoutMs: o.requestTimeoutMs,
      },
      { handler: this.handler, logger: modules.logger },
    )
  }

  /** Feeds filters and starts listening. Idempotent. */
  async start(): Promise<void> {
    if (this.running) return
    this.ledger.on('head', this.onHead)
    this.txpool.on('added', this.onPending)
    this.filters.start()
    try {
      await this.server.start()
    } catch (err) {
      this.detach()
      const code = (err as NodeJS.ErrnoException).code
      throw new RpcServiceError(
        'RPC_LISTEN_FAILED',
        `cannot listen on ${this.options.host}:${this.options.port}: ${(err as Error).message}`,
        {
          details: { code },
          cause: err,
        },
      )
    }
    this.running = true
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.server.stop()
    this.detach()
  }

  private detach(): void {
    this.ledger.off('head', this.onHead)
    this.txpool.off('added', this.onPending)
    this.filters.stop()
  }

  get url(): string {
    return this.server.url
  }

  get wsUrl(): string {
    return this.server.wsUrl
  }
}
