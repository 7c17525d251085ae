/**
 * Key/value store behind the state trie (the `DB` interface @ethereumjs/mpt expects).
 * Trie nodes and code are content-addressed (keyed by their hash), so writes are never
 * overwritten with different values and nothing is ever deleted (no pruning: historical
 * state stays readable for eth_call at old blocks).
 *
 * Writes during block execution go to an in-memory overlay (`pending`); the ledger takes
 * them with `takePending()` and writes them in the block's single atomic batch. Reads go
 * overlay -> bounded LRU of committed nodes -> LevelDB.
 */
import type { BatchDBOp, DB } from '@ethereumjs/util'
import { setRecent } from '../util/recent-map.ts'

export interface StateNodeSource {
  getStateNode(key: string): Promise<Uint8Array | undefined>
}

export interface StateStoreOptions {
  /** Committed nodes kept in memory (LRU by insertion/refresh order). */
  cacheEntries?: number
}

export class StateStore implements DB<string, Uint8Array> {
  private readonly source: StateNodeSource
  private readonly parent: StateStore | undefined
  private pending = new Map<string, Uint8Array>()
  private readonly committed: Map<string, Uint8Array>
  private readonly cacheEntries: number

  constructor(source: StateNodeSource, options: StateStoreOptions = {}, parent?: StateStore) {
    this.source = source
    this.parent = parent
    this.cacheEntries = options.cacheEntries ?? 250_000
    this.committed = parent === undefined ? new Map() : new Map()
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const own = this.pending.get(key)
    if (own !== undefined) return own
    if (this.parent !== undefined) return this.parent.get(key)
    const cached = this.committed.get(key)
    if (cached !== undefined) return cached
    const stored = await this.source.getStateNode(key)
    if (stored !== undefined) this.remember(key, stored)
    return stored
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    this.pending.set(key, value)
  }

  /** Content-addressed nodes are never deleted (see header). */
  async del(_key: string): Promise<void> {}

  async batch(ops: BatchDBOp<string, Uint8Array>[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.pending.set(op.key, op.value)
    }
  }

  /**
   * ethereumjs' contract: a copy sharing the same underlying data. Storage tries are
   * created through this, so their writes must land in the same overlay as the account
   * trie's (they are part of the same block's batch).
   */
  shallowCopy(): StateStore {
    return this
  }

  /** A scratch view for queries: reads fall through to this store, writes stay in the view. */
  scratchView(): StateStore {
    return new StateStore(this.source, {}, this)
  }

  async open(): Promise<void> {}

  /** Hands the overlay to the caller (to persist) and moves it into the read cache. */
  takePending(): Array<[string, Uint8Array]> {
    const entries = [...this.pending]
    for (const [key, value] of entries) this.remember(key, value)
    this.pending = new Map()
    return entries
  }

  discardPending(): void {
    this.pending = new Map()
  }

  get pendingSize(): number {
    return this.pending.size
  }

  private remember(key: string, value: Uint8Array): void {
    if (this.parent !== undefined) return
    setRecent(this.committed, key, value, this.cacheEntries)
  }
}
