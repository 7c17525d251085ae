/**
 * The JSON-RPC service of a node: validated options (defaults live in the schema), the
 * handler with every namespace registered, the filter/subscription system fed by the
 * ledger and the pool, and the HTTP/WebSocket server. node.ts builds one and starts/stops
 * it with the node; other components add namespaces through `service.handler.register`.
 */
import { createRequire } from 'node:module'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { ImportedBlock } from '../ledger/ledger.ts'
import type { PoolTx } from '../txpool/txpool.ts'
import { ChainView, type RpcLedger } from './chain-view.ts'
import { debugModule } from './debug.ts'
import { RpcServiceError } from './errors.ts'
import { ethModule, type RpcTxPool, type SyncStatusProvider } from './eth.ts'
import { EvmRunner } from './evm.ts'
import { FeeOracle } from './fees.ts'
import { FilterSystem } from './filters.ts'
import { defineMethod, RpcHandler } from './handler.ts'
import { netModule, type PeerCountProvider } from './net.ts'
import { RpcServer } from './transport.ts'
import { txpoolModule } from './txpool.ts'
import { web3Module } from './web3.ts'

const wei = z
  .union([z.bigint(), z.number().int().nonnegative(), z.string().regex(/^\d+$/)])
  .transform((v) => BigInt(v))
const positive = z.number().int().positive()

export const rpcOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(8545),
    /** Browser origins allowed by CORS and for WebSocket upgrades; ['*'] for any. */
    corsOrigins: z.array(z.string().min(1)).default([]),
    maxBodyBytes: positive.default(5 * 1024 * 1024),
    maxBatchLength: positive.default(1000),
    maxWsMessageBytes: positive.default(5 * 1024 * 1024),
    maxWsConnections: positive.default(512),
    maxWsInFlight: positive.default(256),
    maxWsBufferedBytes: positive.default(16 * 1024 * 1024),
    wsHeartbeatMs: positive.default(30_000),
    requestTimeoutMs: positive.default(30_000),
    maxSubscriptionsPerConnection: positive.default(128),
    maxFilters: positive.default(10_000),
    filterTimeoutMs: positive.default(5 * 60_000),
    maxQueuedPerFilter: positive.default(10_000),
    getLogsMaxBlockRange: positive.default(10_000),
    getLogsMaxResults: positive.default(10_000),
    /** Gas of an eth_call without gas, and the most a call/estimate may use (EIP-7825 caps it further). */
    callGasCap: wei.default(50_000_000n),
    callTimeoutMs: positive.default(5_000),
    /** eth_call/estimateGas/debug_trace* running at once (each holds a VM), and waiting. */
    maxConcurrentExecutions: positive.default(8),
    maxQueuedExecutions: positive.default(256),
    traceTimeoutMs: positive.default(10_000),
    traceMaxTimeoutMs: positive.default(60_000),
    maxStructLogs: positive.default(200_000),
    /** Tip suggested when recent blocks carry no paying transactions: 0.01 gwei. */
    defaultTip: wei.default(10_000_000n),
    maxTip: wei.default(500_000_000_000n),
    feeHistoryMaxBlocks: positive.default(1024),
  })
  .strict()

export type RpcOptionsInput = z.input<typeof rpcOptionsSchema>
export type RpcOptions = z.output<typeof rpcOptionsSchema>

export function parseRpcOptions(input: unknown): RpcOptions {
  const result = rpcOptionsSchema.safeParse(input ?? {})
  if (result.success) return result.data
  const summary = result.error.issues
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ')
  throw new RpcServiceError('RPC_OPTIONS_INVALID', `invalid RPC options: ${summary}`)
}

export interface RpcServiceModules {
  ledger: RpcLedger
  txpool: RpcTxPool
  logger?: Logger
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
  readonly evm: EvmRunner
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
    this.evm = new EvmRunner(
      {
        gasCap: o.callGasCap,
        timeoutMs: o.callTimeoutMs,
        maxConcurrent: o.maxConcurrentExecutions,
        maxQueued: o.maxQueuedExecutions,
      },
      { chain: this.chain },
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
        maxSubscriptionsPerConnection: o.maxSubscriptionsPerConnection,
      },
      { chain: this.chain },
    )
    this.handler = new RpcHandler({ maxBatchLength: o.maxBatchLength }, { logger: modules.logger })
    this.handler.register(
      ethModule({
        chain: this.chain,
        txpool: modules.txpool,
        evm: this.evm,
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
        evm: this.evm,
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
          Object.fromEntries(this.handler.namespaces().map((ns) => [ns, '1.0'])),
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
