/**
 * ethereumjs' MerkleStateManager with a batched flush. The caches absorb a whole block
 * (one checkpoint per block, see block-executor.ts); at its end `flush` writes them to the
 * tries. Upstream puts the keys one by one, rehashing the path of each; here each storage
 * trie and then the account trie take all their changes in one batched update
 * (batched-trie.ts). The state roots are the same (tested against the upstream flush).
 *
 * `putStorage` only writes the storage cache. Upstream means to do the same, but its
 * `caches.storage.put(...) ?? writeToTrie(...)` always takes the right side (put returns
 * undefined): every SSTORE also went into the storage trie at once, rehashing its path, and
 * the account got a new storage root, with every intermediate node kept for the block's
 * batch. The storage root of an account changed in the block is now brought up to date
 * at the flush; within the block only EIP-7610's collision check reads it, and an account
 * whose storage the block changed has code or a nonce, which that check looks at first.
 *
 * Assumptions, true of the tries `createStateTrie` makes: keys hashed, no DB key prefix, no
 * pruning, no root persistence. The batch does not take the trie's lock: the executor is
 * the only user of its tries and runs one operation at a time. The storage cache must keep
 * every write until the flush (the default ordered-map cache never evicts; an LRU cache
 * would lose writes that no longer go through to the trie).
 *
 * All of this reads private parts of MerkleStateManager 10.1.3 (`_caches` and the shape of
 * their entries, `_trie` and its `_opts`, `_getStorageTrie`, `_getCodeDB`,
 * `_prefixCodeHashes`, `_prefixStorageTrieKeys`). The constructor checks them, and the
 * assumptions above, with `batchedFlushBlocker`; if anything is off, every method here
 * hands over to upstream's (same state roots, upstream's speed) and `batchedFlush` says why.
 */
import { RLP } from '@ethereumjs/rlp'
import {
  Caches,
  CacheType,
  CODEHASH_PREFIX,
  MerkleStateManager,
  type MerkleStateManagerOpts,
} from '@ethereumjs/statemanager'
import {
  Account,
  type Address,
  concatBytes,
  createAccountFromRLP,
  createAddressFromString,
  equalsBytes,
  unpadBytes,
  unprefixedHexToBytes,
} from '@ethereumjs/util'
import { rlpIntegerBytes } from '../../util/bigint-bytes.ts'
import { encodeRlp } from '../../util/rlp-encode.ts'
import { applyTrieBatch, type TrieChange } from '../batched-trie.ts'
import type { PatchStatus } from './status.ts'

const EMPTY = new Uint8Array(0)

export class BatchedMerkleStateManager extends MerkleStateManager {
  /** Whether the batched paths run (the internals they use are as in 10.1.3), or why not. */
  readonly batchedFlush: PatchStatus

  /**
   * Decoded accounts by the cache entry bytes they came from. ethereumjs' account cache
   * holds RLP and decodes it at every `getAccount`, several times per transaction (sender,
   * recipient, journal cleanup), a visible share of a validator's CPU under load. A put stores new bytes and a revert restores old ones, never changing bytes in place, so
   * a decoding stays right for as long as its bytes are in the cache.
   */
  private readonly decodedAccounts = new WeakMap<Uint8Array, Account>()

  /**
   * Accounts the flushes wrote to the trie since the last `takeFlushedAccounts`: unprefixed
   * address hex to the account's RLP, or null when deleted. The executor hands a block's
   * list to the ledger, which keeps the head's accounts current with it. Undefined when not
   * known (an upstream flush).
   */
  private flushedAccounts: Map<string, Uint8Array | null> | undefined = new Map()

  constructor(opts: MerkleStateManagerOpts) {
    super(opts)
    const blocker = batchedFlushBlocker(this)
    this.batchedFlush =
      blocker === undefined ? { active: true } : { active: false, reason: blocker }
  }

  /** The accounts flushed since the last call (see `flushedAccounts`), and a fresh start. */
  takeFlushedAccounts(): ReadonlyMap<string, Uint8Array | null> | undefined {
    const taken = this.flushedAccounts
    this.flushedAccounts = new Map()
    return taken
  }

  override async getAccount(address: Address): Promise<Account | undefined> {
    if (!this.batchedFlush.active) return super.getAccount(address)
    const element = this._caches?.account?.get(address)
    if (element === undefined) return super.getAccount(address)
    const rlp = element.accountRLP
    if (rlp === undefined) return undefined
    let account = this.decodedAccounts.get(rlp)
    if (account === undefined) {
      account = createAccountFromRLP(rlp)
      this.decodedAccounts.set(rlp, account)
    }
    return copyAccount(account)
  }

  override async putAccount(address: Address, account: Account | undefined): Promise<void> {
    if (!this.batchedFlush.active) return super.putAccount(address, account)
    // Most puts are read back within the transaction: keep the caller's fields (a copy, taken
    // now: the caller may go on changing its object) instead of decoding the new bytes.
    // The copy also serializes faster than the caller's object (see SerializingAccount).
    const copy = account === undefined ? undefined : copyAccount(account)
    await super.putAccount(address, copy)
    if (copy === undefined) return
    const rlp = this._caches?.account?.get(address)?.accountRLP
    if (rlp !== undefined) this.decodedAccounts.set(rlp, copy)
  }

  override async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    const storageCache = this._caches?.storage
    if (
      !this.batchedFlush.active ||
      storageCache === undefined ||
      key.length !== 32 ||
      value.length > 32
    ) {
      // Upstream writes to the trie without a cache, and throws its errors on bad input.
      return super.putStorage(address, key, value)
    }
    if ((await this.getAccount(address)) === undefined) {
      return super.putStorage(address, key, value)
    }
    storageCache.put(address, key, RLP.encode(unpadBytes(value)))
  }

  override async flush(): Promise<void> {
    const hash = this.common.customCrypto.keccak256
    if (hash === undefined || !this.batchedFlush.active) {
      // The node's Common always carries our keccak; without it, stay on the upstream path.
      this.flushedAccounts = undefined
      await super.flush()
      return
    }
    const caches = this._caches
    // New code (contract creations): as upstream.
    for (const [addressHex, element] of caches?.code?.flush() ?? []) {
      const code = element.code
      if (code === undefined) continue
      const address = createAddressFromString(`0x${addressHex}`)
      const codeHash = hash(code)
      const key = this._prefixCodeHashes ? concatBytes(CODEHASH_PREFIX, codeHash) : codeHash
      await this._getCodeDB().put(key, code)
      if ((await this.getAccount(address)) === undefined) {
        await this.putAccount(address, new Account())
      }
      await this.modifyAccountFields(address, { codeHash })
    }

    // Storage: one batch per account's trie, then the account gets its new storage root.
    const slotsByAccount = new Map<string, TrieChange[]>()
    for (const [addressHex, keyHex, cached] of caches?.storage?.flush() ?? []) {
      let slots = slotsByAccount.get(addressHex)
      if (slots === undefined) {
        slots = []
        slotsByAccount.set(addressHex, slots)
      }
      // As upstream: the cache holds the RLP of the trimmed value; an empty value deletes.
      const value = RLP.decode(cached ?? EMPTY) as Uint8Array
      slots.push({
        key: unprefixedHexToBytes(keyHex),
        value: value.length > 0 ? RLP.encode(value) : null,
      })
    }
    for (const [addressHex, slots] of slotsByAccount) {
      const address = createAddressFromString(`0x${addressHex}`)
      const account = await this.getAccount(address)
      if (account === undefined) continue
      const storageTrie = this._getStorageTrie(address, account)
      account.storageRoot = await applyTrieBatch(storageTrie, slots, { hash, hashKeys: true })
      await this.putAccount(address, account)
    }

    // Accounts last: they include the storage roots just written.
    const accounts: TrieChange[] = []
    for (const [addressHex, element] of caches?.account?.flush() ?? []) {
      accounts.push({
        key: unprefixedHexToBytes(addressHex),
        value: element.accountRLP ?? null,
      })
      this.flushedAccounts?.set(addressHex, element.accountRLP ?? null)
    }
    await applyTrieBatch(this._trie, accounts, { hash, hashKeys: true })
  }
}

/**
 * An account whose `serialize` (called by the account cache at every put, several times per
 * transaction) writes the RLP in one buffer with fast integer bytes: upstream's RLP-encodes
 * each field, concatenates, and turns each bigint into bytes through a validated hex
 * string. Same bytes (tested).
 */
export class SerializingAccount extends Account {
  constructor(account: Account) {
    super(account.nonce, account.balance, account.storageRoot, account.codeHash)
  }

  override serialize(): Uint8Array {
    return encodeRlp([
      rlpIntegerBytes(this.nonce),
      rlpIntegerBytes(this.balance),
      this.storageRoot,
      this.codeHash,
    ])
  }
}

/**
 * A fresh account with the same fields (callers modify what `getAccount` returns). The
 * storage root and code hash arrays are shared: accounts get new ones, never change them.
 */
export function copyAccount(account: Account): SerializingAccount {
  return new SerializingAccount(account)
}

/** The private parts of MerkleStateManager the batched paths use. */
interface StateManagerInternals {
  _caches?: unknown
  _trie?: { _opts?: Record<string, unknown>; root?: unknown; database?: unknown }
  _getStorageTrie?: unknown
  _getCodeDB?: unknown
  _prefixCodeHashes?: unknown
  _prefixStorageTrieKeys?: unknown
}

const PROBE_ADDRESS = createAddressFromString('0x00000000000000000000000000000000000000aa')
const PROBE_KEY = new Uint8Array(32).fill(1)
const PROBE_VALUE = RLP.encode(new Uint8Array([7]))
const PROBE_CODE = new Uint8Array([0x60, 0x00])

/**
 * Why the batched paths cannot run on `manager`, or undefined if they can: each private
 * member they use must be there, the trie must be set up as `createStateTrie` does, and the
 * caches must hand back entries of the shapes `getAccount` and `flush` read (checked on a
 * fresh `Caches`: a put, a get and a flush of each kind).
 */
export function batchedFlushBlocker(manager: MerkleStateManager): string | undefined {
  const internals = manager as unknown as StateManagerInternals
  for (const method of ['_getStorageTrie', '_getCodeDB'] as const) {
    if (typeof internals[method] !== 'function') return `MerkleStateManager.${method} is missing`
  }
  if (typeof internals._prefixCodeHashes !== 'boolean') {
    return 'MerkleStateManager._prefixCodeHashes is not a boolean'
  }
  if (internals._prefixStorageTrieKeys !== false) {
    return 'MerkleStateManager._prefixStorageTrieKeys is not false (storage tries with a key prefix)'
  }
  const trie = internals._trie
  const trieOptions = trie?._opts
  if (typeof trie?.root !== 'function' || typeof trie.database !== 'function') {
    return 'MerkleStateManager._trie is not a trie'
  }
  if (
    trieOptions === undefined ||
    trieOptions.useKeyHashing !== true ||
    trieOptions.keyPrefix !== undefined ||
    trieOptions.useNodePruning === true ||
    trieOptions.useRootPersistence === true
  ) {
    return 'the state trie is not a hashed-key trie without prefix, pruning or root persistence'
  }
  const caches = internals._caches
  if (!(caches instanceof Caches)) return 'MerkleStateManager._caches is not a Caches'
  if (caches.account === undefined || caches.storage === undefined || caches.code === undefined) {
    return 'the account, storage and code caches are not all enabled'
  }
  if (caches.settings.storage.type !== CacheType.ORDERED_MAP) {
    return 'the storage cache may evict (not an ordered map)'
  }
  return cacheShapeBlocker()
}

/** Why the cache entries do not look as the batched paths read them, or undefined. */
function cacheShapeBlocker(): string | undefined {
  try {
    const probe = new Caches()
    const account = new Account(1n, 2n)
    const addressHex = PROBE_ADDRESS.toString().slice(2)
    probe.account!.put(PROBE_ADDRESS, account)
    const element = probe.account!.get(PROBE_ADDRESS) as { accountRLP?: unknown } | undefined
    if (!isBytes(element?.accountRLP, account.serialize())) {
      return 'account cache entries have no accountRLP'
    }
    const accounts = probe.account!.flush() as unknown as Array<[unknown, { accountRLP?: unknown }]>
    if (
      accounts[0]?.[0] !== addressHex ||
      !isBytes(accounts[0][1].accountRLP, account.serialize())
    ) {
      return 'the account cache flush is not [addressHex, { accountRLP }]'
    }
    probe.storage!.put(PROBE_ADDRESS, PROBE_KEY, PROBE_VALUE)
    const slots = probe.storage!.flush() as unknown as Array<[unknown, unknown, unknown]>
    const [slot] = slots
    if (
      slots.length !== 1 ||
      slot?.[0] !== addressHex ||
      slot[1] !== Buffer.from(PROBE_KEY).toString('hex') ||
      !isBytes(slot[2], PROBE_VALUE)
    ) {
      return 'the storage cache flush is not [addressHex, keyHex, value]'
    }
    probe.code!.put(PROBE_ADDRESS, PROBE_CODE)
    const codes = probe.code!.flush() as unknown as Array<[unknown, { code?: unknown }]>
    if (codes[0]?.[0] !== addressHex || !isBytes(codes[0][1].code, PROBE_CODE)) {
      return 'the code cache flush is not [addressHex, { code }]'
    }
  } catch (err) {
    return `the cache probe failed: ${err instanceof Error ? err.message : String(err)}`
  }
  return undefined
}

function isBytes(value: unknown, expected: Uint8Array): boolean {
  return value instanceof Uint8Array && equalsBytes(value, expected)
}
