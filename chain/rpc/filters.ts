/**
 * Polling filters (eth_newFilter / eth_newBlockFilter / eth_newPendingTransactionFilter +
 * eth_getFilterChanges) and push subscriptions (eth_subscribe over WebSocket). Both are fed
 * by the same two sources: the ledger's 'head' event (one imported block with its
 * receipts: every block is final, so there are never removed logs) and the txpool's
 * 'added' event.
 *
 * Filters that are not polled for `filterTimeoutMs` are dropped (geth: 5 minutes); each
 * filter buffers a bounded number of changes. Subscriptions die with their connection.
 */
import { randomBytes } from 'node:crypto'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { ImportedBlock } from '../ledger/chain-reader.ts'
import type { PoolTx } from '../txpool/txpool.ts'
import { blockLogs, type ChainView, logMatches } from './chain-view.ts'
import { invalidParams, limitExceeded, RPC_ERROR, RpcError } from './errors.ts'
import { formatHeader, formatTransaction, hex, type RpcLog } from './format.ts'
import type { RpcConnection } from './handler.ts'
import { type LogFilter, ParamError, parseBoolean, parseLogFilter } from './params.ts'

export interface FilterOptions {
  /** Filters not polled for this long are uninstalled. */
  filterTimeoutMs: number
  maxFilters: number
  /** Changes buffered per filter between polls (oldest dropped beyond). */
  maxQueuedPerFilter: number
  maxSubscriptionsPerConnection: number
}

type Filter =
  | {
      kind: 'logs'
      criteria: LogFilter
      from?: bigint
      to?: bigint
      queue: RpcLog[]
      lastPoll: number
    }
  | { kind: 'blocks'; queue: string[]; lastPoll: number }
  | { kind: 'pending'; queue: string[]; lastPoll: number }

type Subscription =
  | { kind: 'newHeads'; connection: RpcConnection }
  | { kind: 'logs'; connection: RpcConnection; criteria: LogFilter }
  | { kind: 'newPendingTransactions'; connection: RpcConnection; full: boolean }

function newId(): string {
  return `0x${randomBytes(16).toString('hex')}`
}

function filterNotFound(): RpcError {
  return new RpcError(RPC_ERROR.SERVER, 'filter not found')
}

export class FilterSystem {
  private readonly options: FilterOptions
  private readonly chain: ChainView
  private readonly filters = new Map<string, Filter>()
  private readonly subscriptions = new Map<string, Subscription>()
  private readonly perConnection = new Map<RpcConnection, Set<string>>()
  private sweeper: NodeJS.Timeout | undefined
  private readonly now: () => number

  constructor(options: FilterOptions, modules: { chain: ChainView; now?: () => number }) {
    this.options = options
    this.chain = modules.chain
    this.now = modules.now ?? Date.now
  }

  start(): void {
    if (this.sweeper !== undefined) return
    this.sweeper = setInterval(
      () => this.sweep(),
      Math.max(1_000, Math.floor(this.options.filterTimeoutMs / 4)),
    )
    this.sweeper.unref()
  }

  stop(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    this.sweeper = undefined
    this.filters.clear()
    this.subscriptions.clear()
    this.perConnection.clear()
  }

  get filterCount(): number {
    return this.filters.size
  }

  get subscriptionCount(): number {
    return this.subscriptions.size
  }

  /** Drops filters nobody polled recently. */
  sweep(): void {
    const cutoff = this.now() - this.options.filterTimeoutMs
    for (const [id, filter] of this.filters) if (filter.lastPoll < cutoff) this.filters.delete(id)
  }

  // ---------------------------------------------------------------- feeds

  onHead(imported: ImportedBlock): void {
    const { block, receipts } = imported
    this.chain.rememberReceipts(block.hash(), receipts)
    const wantLogs =
      [...this.filters.values()].some((f) => f.kind === 'logs') ||
      [...this.subscriptions.values()].some((s) => s.kind === 'logs')
    const logs = wantLogs ? blockLogs({ block, receipts }) : []
    const number = block.header.number
    const blockHash = hex(block.hash())
    for (const filter of this.filters.values()) {
      if (filter.kind === 'blocks') this.enqueue(filter.queue, [blockHash])
      else if (filter.kind === 'logs') {
        if (filter.from !== undefined && number < filter.from) continue
        if (filter.to !== undefined && number > filter.to) continue
        this.enqueue(
          filter.queue,
          logs.filter((log) => logMatches(filter.criteria, log)),
        )
      }
    }
    let header: Record<string, unknown> | undefined
    for (const [id, sub] of this.subscriptions) {
      if (sub.kind === 'newHeads') {
        header ??= formatHeader(block.header)
        sub.connection.notify('eth_subscription', { subscription: id, result: header })
      } else if (sub.kind === 'logs') {
        for (const log of logs) {
          if (logMatches(sub.criteria, log))
            sub.connection.notify('eth_subscription', { subscription: id, result: log })
        }
      }
    }
  }

  onPendingTransaction(entry: PoolTx): void {
    for (const filter of this.filters.values()) {
      if (filter.kind === 'pending') this.enqueue(filter.queue, [entry.hash])
    }
    let full: Record<string, unknown> | undefined
    for (const [id, sub] of this.subscriptions) {
      if (sub.kind !== 'newPendingTransactions') continue
      if (sub.full) full ??= formatTransaction(entry.tx as TypedTransaction, undefined)
      sub.connection.notify('eth_subscription', {
        subscription: id,
        result: sub.full ? full : entry.hash,
      })
    }
  }

  private enqueue<T>(queue: T[], items: readonly T[]): void {
    if (items.length === 0) return
    queue.push(...items)
    const excess = queue.length - this.options.maxQueuedPerFilter
    if (excess > 0) queue.splice(0, excess)
  }

  // ---------------------------------------------------------------- polling filters

  private install(filter: Filter): string {
    if (this.filters.size >= this.options.maxFilters) this.sweep()
    if (this.filters.size >= this.options.maxFilters) {
      throw limitExceeded(
        `too many installed filters (limit ${this.options.maxFilters}); uninstall unused ones`,
      )
    }
    const id = newId()
    this.filters.set(id, filter)
    return id
  }

  newLogFilter(criteria: LogFilter): string {
    if (criteria.blockHash !== undefined)
      throw invalidParams(
        'invalid argument 0 (filter): blockHash is not supported for filters, use eth_getLogs',
      )
    // Numeric bounds restrict which new blocks' logs are reported; tags mean "open".
    const from =
      criteria.fromBlock?.kind === 'number'
        ? criteria.fromBlock.number
        : criteria.fromBlock?.tag === 'earliest'
          ? 0n
          : undefined
    const to = criteria.toBlock?.kind === 'number' ? criteria.toBlock.number : undefined
    if (from !== undefined && to !== undefined && from > to) {
      throw invalidParams(`invalid block range: fromBlock (${from}) is after toBlock (${to})`)
    }
    return this.install({ kind: 'logs', criteria, from, to, queue: [], lastPoll: this.now() })
  }

  newBlockFilter(): string {
    return this.install({ kind: 'blocks', queue: [], lastPoll: this.now() })
  }

  newPendingTransactionFilter(): string {
    return this.install({ kind: 'pending', queue: [], lastPoll: this.now() })
  }

  /** Changes since the last poll. */
  changes(id: string): unknown[] {
    const filter = this.filters.get(id)
    if (filter === undefined) throw filterNotFound()
    filter.lastPoll = this.now()
    const out = filter.queue
    filter.queue = []
    return out
  }

  /** Criteria of a log filter (eth_getFilterLogs re-runs them as eth_getLogs). */
  logCriteria(id: string): LogFilter {
    const filter = this.filters.get(id)
    if (filter === undefined || filter.kind !== 'logs') throw filterNotFound()
    filter.lastPoll = this.now()
    return filter.criteria
  }

  uninstall(id: string): boolean {
    return this.filters.delete(id)
  }

  // ---------------------------------------------------------------- subscriptions

  subscribe(connection: RpcConnection | undefined, kind: string, args: unknown[]): string {
    if (connection === undefined) {
      throw new RpcError(
        RPC_ERROR.METHOD_NOT_FOUND,
        'notifications not supported: use a WebSocket connection for eth_subscribe',
      )
    }
    let sub: Subscription
    const extra = (i: number) => {
      if (args.length > i) throw invalidParams(`too many arguments for a ${kind} subscription`)
    }
    try {
      switch (kind) {
        case 'newHeads':
          extra(0)
          sub = { kind, connection }
          break
        case 'logs': {
          extra(1)
          const criteria =
            args[0] === undefined || args[0] === null
              ? { addresses: [], topics: [] }
              : parseLogFilter(args[0])
          sub = { kind, connection, criteria }
          break
        }
        case 'newPendingTransactions':
          extra(1)
          sub = {
            kind,
            connection,
            full: args[0] === undefined || args[0] === null ? false : parseBoolean(args[0]),
          }
          break
        default:
          throw invalidParams(
            `invalid argument 0 (subscription): unsupported subscription type "${kind.slice(0, 40)}", want newHeads, logs or newPendingTransactions`,
          )
      }
    } catch (err) {
      if (err instanceof ParamError)
        throw invalidParams(`invalid argument 1 (options): ${err.message}`)
      throw err
    }
    let ids = this.perConnection.get(connection)
    if ((ids?.size ?? 0) >= this.options.maxSubscriptionsPerConnection) {
      throw limitExceeded(
        `too many subscriptions on this connection (limit ${this.options.maxSubscriptionsPerConnection})`,
      )
    }
    const id = newId()
    this.subscriptions.set(id, sub)
    if (ids === undefined) {
      ids = new Set()
      this.perConnection.set(connection, ids)
      connection.onClose(() => {
        for (const subId of this.perConnection.get(connection) ?? [])
          this.subscriptions.delete(subId)
        this.perConnection.delete(connection)
      })
    }
    ids.add(id)
    return id
  }

  unsubscribe(connection: RpcConnection | undefined, id: string): boolean {
    if (connection === undefined) {
      throw new RpcError(
        RPC_ERROR.METHOD_NOT_FOUND,
        'notifications not supported: use a WebSocket connection for eth_unsubscribe',
      )
    }
    const sub = this.subscriptions.get(id)
    if (sub === undefined || sub.connection !== connection) return false
    this.subscriptions.delete(id)
    this.perConnection.get(connection)?.delete(id)
    return true
  }
}
