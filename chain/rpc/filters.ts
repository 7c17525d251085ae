/**
 * Polling filters (eth_newFilter / eth_newBlockFilter / eth_newPendingTransactionFilter +
 * eth_getFilterChanges) and push subscriptions (eth_subscribe over WebSocket). Both are fed
 * by the same two sources: the ledger's 'head' event (one imported block with its
 * receipts: every block is final, so there are never removed logs) and the txpool's
 * 'added' event.
 *
 * Filters that are not polled for `filterTimeoutMs` are dropped (geth: 5 minutes); each
 * filter buffers a bounded number of changes in a ring (the oldest is overwritten in O(1)),
 * and all filters together buffer at most `maxQueuedTotal`: past it, the least recently
 * polled filter is dropped (its owner stopped polling; its next poll says "filter not
 * found"). Subscriptions die with their connection.
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
  /** Changes buffered by all filters together. */
  maxQueuedTotal: number
  maxSubscriptionsPerConnection: number
}

/**
 * A fixed-capacity FIFO: pushing onto a full ring overwrites the oldest item, so a filter
 * nobody polls costs O(1) per change (an array trimmed with splice costs its length).
 */
export class ChangeRing<T> {
  private items: Array<T | undefined> = []
  private start = 0
  private count = 0
  private readonly capacity: number

  constructor(capacity: number) {
    this.capacity = capacity
  }

  get size(): number {
    return this.count
  }

  /** Adds `item`; returns 1 if the ring grew, 0 if the oldest item was overwritten. */
  push(item: T): 0 | 1 {
    if (this.count < this.capacity) {
      // Grows on demand: most filters hold few changes between polls.
      this.items[(this.start + this.count) % this.capacity] = item
      this.count++
      return 1
    }
    this.items[this.start] = item
    this.start = (this.start + 1) % this.capacity
    return 0
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out: T[] = new Array(this.count)
    for (let i = 0; i < this.count; i++) out[i] = this.items[(this.start + i) % this.capacity] as T
    this.items = []
    this.start = 0
    this.count = 0
    return out
  }
}

type Filter =
  | {
      kind: 'logs'
      criteria: LogFilter
      from?: bigint
      to?: bigint
      queue: ChangeRing<RpcLog>
      lastPoll: number
    }
  | { kind: 'blocks'; queue: ChangeRing<string>; lastPoll: number }
  | { kind: 'pending'; queue: ChangeRing<string>; lastPoll: number }

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
  /** In order of last poll (a poll moves a filter to the end): the first is the stalest. */
  private readonly filters = new Map<string, Filter>()
  /** Changes buffered by all filters. */
  private queued = 0
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
    this.queued = 0
    this.subscriptions.clear()
    this.perConnection.clear()
  }

  get filterCount(): number {
    return this.filters.size
  }

  /** Changes buffered by all filters together. */
  get queuedChanges(): number {
    return this.queued
  }

  get subscriptionCount(): number {
    return this.subscriptions.size
  }

  /** Drops filters nobody polled recently. */
  sweep(): void {
    const cutoff = this.now() - this.options.filterTimeoutMs
    for (const [id, filter] of this.filters) if (filter.lastPoll < cutoff) this.remove(id)
  }

  private remove(id: string): boolean {
    const filter = this.filters.get(id)
    if (filter === undefined) return false
    this.queued -= filter.queue.size
    this.filters.delete(id)
    return true
  }

  /** Moves a polled filter to the end of the staleness order. */
  private touch(id: string, filter: Filter): void {
    filter.lastPoll = this.now()
    this.filters.delete(id)
    this.filters.set(id, filter)
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
      if (filter.kind === 'blocks') this.enqueue(filter, [blockHash])
      else if (filter.kind === 'logs') {
        if (filter.from !== undefined && number < filter.from) continue
        if (filter.to !== undefined && number > filter.to) continue
        this.enqueue(
          filter,
          logs.filter((log) => logMatches(filter.criteria, log)),
        )
      }
    }
    this.trimQueued()
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
      if (filter.kind === 'pending') this.enqueue(filter, [entry.hash])
    }
    this.trimQueued()
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

  private enqueue<T>(filter: { queue: ChangeRing<T> }, items: readonly T[]): void {
    for (const item of items) this.queued += filter.queue.push(item)
  }

  /** Drops the least recently polled filters until all buffered changes fit the total cap. */
  private trimQueued(): void {
    while (this.queued > this.options.maxQueuedTotal) {
      const stalest = this.filters.keys().next()
      if (stalest.done === true) break
      this.remove(stalest.value)
    }
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
      throw invalidParams(
        `invalid block range params: fromBlock (${from}) is after toBlock (${to})`,
      )
    }
    // A filter may end in the future (it reports new blocks), but one starting past the
    // head is refused like eth_getLogs (anvil answers the same).
    const head = this.chain.head.number
    if (from !== undefined && from > head) {
      throw invalidParams(`invalid block range params: fromBlock ${from} is past the head ${head}`)
    }
    return this.install({
      kind: 'logs',
      criteria,
      from,
      to,
      queue: new ChangeRing(this.options.maxQueuedPerFilter),
      lastPoll: this.now(),
    })
  }

  newBlockFilter(): string {
    return this.install({
      kind: 'blocks',
      queue: new ChangeRing(this.options.maxQueuedPerFilter),
      lastPoll: this.now(),
    })
  }

  newPendingTransactionFilter(): string {
    return this.install({
      kind: 'pending',
      queue: new ChangeRing(this.options.maxQueuedPerFilter),
      lastPoll: this.now(),
    })
  }

  /** Changes since the last poll. */
  changes(id: string): unknown[] {
    const filter = this.filters.get(id)
    if (filter === undefined) throw filterNotFound()
    this.touch(id, filter)
    this.queued -= filter.queue.size
    return filter.queue.drain()
  }

  /** Criteria of a log filter (eth_getFilterLogs re-runs them as eth_getLogs). */
  logCriteria(id: string): LogFilter {
    const filter = this.filters.get(id)
    if (filter === undefined || filter.kind !== 'logs') throw filterNotFound()
    this.touch(id, filter)
    return filter.criteria
  }

  uninstall(id: string): boolean {
    return this.remove(id)
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
