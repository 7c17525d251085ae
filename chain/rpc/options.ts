/**
 * JSON-RPC options and their defaults, apart from the service so that the CLI can read the
 * defaults for `--help` without loading the EVM.
 */
import { z } from 'zod'

const wei = z
  .union([z.bigint(), z.number().int().nonnegative(), z.string().regex(/^\d+$/)])
  .transform((v) => BigInt(v))
const positive = z.number().int().positive()

/**
 * Namespaces a node can serve. `rpc_` (modules) is always on. The rest of `qbft_` (votes),
 * `admin_` and `debug_` (CPU-heavy traces) change or expose node internals, so the public
 * port serves them only when the operator names them (geth's --http.api, Besu's --rpc-http-api).
 */
export const RPC_NAMESPACES = ['eth', 'net', 'web3', 'txpool', 'qbft', 'admin', 'debug'] as const
export type RpcNamespace = (typeof RPC_NAMESPACES)[number]
export const DEFAULT_RPC_APIS: readonly RpcNamespace[] = ['eth', 'net', 'web3', 'txpool']

export const rpcOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(8545),
    /** Browser origins allowed by CORS and for WebSocket upgrades; ['*'] for any. */
    corsOrigins: z.array(z.string().min(1)).default([]),
    /** Namespaces served (`--rpc-api`); methods of the others answer -32601 naming the flag. */
    apis: z
      .array(z.enum(RPC_NAMESPACES))
      .default([...DEFAULT_RPC_APIS])
      .transform((apis) => [...new Set(apis)]),
    maxBodyBytes: positive.default(5 * 1024 * 1024),
    maxBatchLength: positive.default(1000),
    /**
     * Bytes of one answer (a batch's answers together); requests past it answer -32003
     * "response too large" (geth's batch response cap is 25 MB too).
     */
    maxResponseBytes: positive.default(25 * 1024 * 1024),
    /** Open HTTP connections (keep-alive sockets included); beyond: 503 and close. */
    maxHttpConnections: positive.default(256),
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
    /** Changes buffered by all filters together; beyond, the least recently polled filter is dropped. */
    maxQueuedFilterChanges: positive.default(1_000_000),
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
