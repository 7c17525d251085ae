/**
 * Persistent chain storage on classic-level (embedded LevelDB). One sublevel per kind of
 * record; every imported block is written as ONE atomic batch (header, body, receipts,
 * canonical index, tx lookups, seals, state trie nodes and the head pointer), so after a
 * crash at any point the node restarts at the last complete block with consistent state.
 * Block batches are synced (fsync) before `write` resolves: the ledger announces a block
 * (gossip, RPC, the next height) only after that, so a power loss cannot take back a block
 * anyone was shown. Writes of other records are not synced; they are rebuilt or re-fetched.
 *
 * This module knows bytes and keys only; encoding of blocks/receipts lives with their users.
 */
import { ClassicLevel } from 'classic-level'
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

type Bytes = Uint8Array
export type StorageErrorCode = ErrorCodeOf<'storage'>

export class StorageError extends SidechainError<StorageErrorCode> {
  override readonly name: string = 'StorageError'
}

/** Schema version of the on-disk layout; bumped on incompatible changes. */
export const STORAGE_SCHEMA_VERSION = 1

export const META_KEYS = {
  head: 'head',
  genesis: 'genesis',
  validatorTally: 'validator-tally',
  schema: 'schema',
} as const

/** A pending write set for one block; applied atomically by `ChainDb.write`. */
export interface BlockWrite {
  hash: Bytes
  number: bigint
  header: Bytes
  body: Bytes
  receipts: Bytes
  /** tx hash -> encoded (block hash, index) */
  txLookups: Array<[Bytes, Bytes]>
  /** seals that finalize this block (kept beside the tip until the child carries them) */
  seals?: Bytes
  /** seals of the parent, now final in this block's header too (rewritten for convenience) */
  stateNodes: Array<[string, Bytes]>
  /** Metadata written with the block (e.g. the validator vote tally at this block). */
  meta?: Array<[string, Bytes]>
  setHead: boolean
}

export function numberKey(n: bigint): Bytes {
  const key = new Uint8Array(8)
  new DataView(key.buffer).setBigUint64(0, n)
  return key
}

export class ChainDb {
  readonly path: string
  private readonly db: ClassicLevel<string, Bytes>
  private readonly headers
  private readonly bodies
  private readonly receipts
  private readonly canonical
  private readonly txLookup
  private readonly seals
  private readonly state
  private readonly meta

  constructor(path: string) {
    this.path = path
    this.db = new ClassicLevel<string, Bytes>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const bytesLevel = (name: string) =>
      this.db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'view', valueEncoding: 'view' })
    this.headers = bytesLevel('headers')
    this.bodies = bytesLevel('bodies')
    this.receipts = bytesLevel('receipts')
    this.canonical = bytesLevel('canonical')
    this.txLookup = bytesLevel('txlookup')
    this.seals = bytesLevel('seals')
    this.state = this.db.sublevel<string, Bytes>('state', {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
    })
    this.meta = this.db.sublevel<string, Bytes>('meta', {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
    })
  }

  async open(): Promise<void> {
    try {
      await this.db.open()
    } catch (cause) {
      const locked = (cause as { cause?: { code?: string } })?.cause?.code === 'LEVEL_LOCKED'
      throw new StorageError(
        'STORAGE_OPEN_FAILED',
        locked
          ? `datadir ${this.path} is in use by another process`
          : `cannot open database at ${this.path}`,
        { cause },
      )
    }
  }

  async close(): Promise<void> {
    await this.db.close()
  }

  get isOpen(): boolean {
    return this.db.status === 'open'
  }

  getHeader(hash: Bytes): Promise<Bytes | undefined> {
    return this.headers.get(hash)
  }
  getBody(hash: Bytes): Promise<Bytes | undefined> {
    return this.bodies.get(hash)
  }
  getReceipts(hash: Bytes): Promise<Bytes | undefined> {
    return this.receipts.get(hash)
  }
  getCanonicalHash(number: bigint): Promise<Bytes | undefined> {
    return this.canonical.get(numberKey(number))
  }
  getTxLookup(txHash: Bytes): Promise<Bytes | undefined> {
    return this.txLookup.get(txHash)
  }
  getSeals(hash: Bytes): Promise<Bytes | undefined> {
    return this.seals.get(hash)
  }
  getStateNode(key: string): Promise<Bytes | undefined> {
    return this.state.get(key)
  }
  getMeta(key: string): Promise<Bytes | undefined> {
    return this.meta.get(key)
  }
  putMeta(key: string, value: Bytes): Promise<void> {
    return this.meta.put(key, value)
  }

  /**
   * Writes everything for one block atomically and durably: it resolves once the batch is
   * synced to disk. Fails with STORAGE_WRITE_FAILED (nothing of the block is written).
   */
  async write(block: BlockWrite): Promise<void> {
    // Sublevel batch ops keep the whole block in one LevelDB write batch.
    const ops: Array<{ type: 'put'; sublevel: unknown; key: unknown; value: Bytes }> = []
    const put = (sublevel: unknown, key: unknown, value: Bytes) =>
      ops.push({ type: 'put', sublevel, key, value })
    for (const [key, value] of block.stateNodes) put(this.state, key, value)
    put(this.headers, block.hash, block.header)
    put(this.bodies, block.hash, block.body)
    put(this.receipts, block.hash, block.receipts)
    for (const [txHash, location] of block.txLookups) put(this.txLookup, txHash, location)
    if (block.seals !== undefined) put(this.seals, block.hash, block.seals)
    for (const [key, value] of block.meta ?? []) put(this.meta, key, value)
    if (block.setHead) {
      put(this.canonical, numberKey(block.number), block.hash)
      put(this.meta, META_KEYS.head, block.hash)
    }
    try {
      await this.db.batch(ops as never, { sync: true })
    } catch (cause) {
      throw new StorageError(
        'STORAGE_WRITE_FAILED',
        `writing block ${block.number} failed: ${(cause as Error).message}`,
        { details: { number: block.number.toString() }, cause },
      )
    }
  }
}
