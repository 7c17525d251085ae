/**
 * Transaction pool: per-sender nonce queues, replacement with a fee bump, global and
 * per-sender limits with eviction of the cheapest tail, and an iterator for block building
 * that yields transactions by effective tip while keeping each sender's nonce order.
 *
 * It reads account state at the head through the narrow `PoolState` interface and learns
 * about new blocks through `onNewHead`.
 */

import { EventEmitter } from 'node:events'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToHex } from '@ethereumjs/util'
import { publicKeyToAddress } from '../crypto/index.ts'
import { decodeRawTransaction } from './decode.ts'
import { TxPoolError } from './errors.ts'
import { txpoolLimitsSchema } from './options.ts'

export interface PoolAccount {
  nonce: bigint
  balance: bigint
}

/** What the pool needs to know about the chain. */
export interface PoolState {
  getAccount(address: Address): Promise<PoolAccount>
  /** Base fee of the next block. */
  nextBaseFee(): bigint
  blockGasLimit(): bigint
}

export interface TxPoolOptions {
  common: Common
  maxTxSize: number
  baseFeeFloor: bigint
  maxTransactions?: number
  /**
   * Bytes of all pooled transactions. The count alone would let 20,000 transactions of the
   * largest size (GiBs) in; past it, the cheapest tail is evicted for a better-paying one.
   */
  maxBytes?: number
  maxPerSender?: number
  /** How far above the account nonce a queued tx may be. */
  maxNonceGap?: number
  /** Replacement must raise both fee cap and tip by this percent. */
  priceBumpPercent?: number
}

export interface PoolTx {
  tx: TypedTransaction
  hash: string
  /** The recovered sender (ethereumjs rehashes the public key on every getSenderAddress). */
  senderAddress: Address
  sender: string
  nonce: bigint
  size: number
  addedAt: number
}

/** Where a transaction came from: a local client (RPC) or a peer (gossip). */
export type TxOrigin = 'local' | 'gossip'

interface TxPoolEvents {
  /** A transaction was accepted (new or replacement). */
  added: [PoolTx, TxOrigin]
  removed: [PoolTx, 'included' | 'replaced' | 'evicted' | 'stale' | 'invalid']
}

/** Tip the proposer earns per gas at `baseFee`. */
export function effectiveTip(tx: TypedTransaction, baseFee: bigint): bigint {
  if ('maxPriorityFeePerGas' in tx) {
    const headroom = tx.maxFeePerGas - baseFee
    return tx.maxPriorityFeePerGas < headroom ? tx.maxPriorityFeePerGas : headroom
  }
  return (tx as { gasPrice: bigint }).gasPrice - baseFee
}

function feeCap(tx: TypedTransaction): bigint {
  return 'maxFeePerGas' in tx ? tx.maxFeePerGas : (tx as { gasPrice: bigint }).gasPrice
}

function tipCap(tx: TypedTransaction): bigint {
  return 'maxPriorityFeePerGas' in tx
    ? tx.maxPriorityFeePerGas
    : (tx as { gasPrice: bigint }).gasPrice
}

/** EIP-7825 (Osaka): no single transaction may use more than 2^24 gas. */
const TX_GAS_CAP = 1n << 24n

export class TxPool extends EventEmitter<TxPoolEvents> {
  private readonly options: Required<TxPoolOptions>
  private readonly state: PoolState
  private readonly bySender = new Map<string, Map<bigint, PoolTx>>()
  private readonly byHash = new Map<string, PoolTx>()
  private readonly now: () => number
  private addQueue: Promise<unknown> = Promise.resolve()
  private additionCount = 0
  private totalBytes = 0

  constructor(options: TxPoolOptions, modules: { state: PoolState; now?: () => number }) {
    super()
    this.options = { ...txpoolLimitsSchema.parse({}), ...options }
    this.state = modules.state
    this.now = modules.now ?? Date.now
  }

  get size(): number {
    return this.byHash.size
  }

  /** Serialized bytes of the pooled transactions. */
  get bytes(): number {
    return this.totalBytes
  }

  /** Transactions accepted so far (new or replacement): lets a builder skip an unchanged pool. */
  get additions(): number {
    return this.additionCount
  }

  has(hash: string): boolean {
    return this.byHash.has(hash)
  }

  get(hash: string): PoolTx | undefined {
    return this.byHash.get(hash)
  }

  /**
   * Next nonce of `sender` (lowercase 0x address) counting its pool transactions that
   * continue `accountNonce` without a gap (eth_getTransactionCount with "pending").
   */
  pendingNonce(sender: string, accountNonce: bigint): bigint {
    const queue = this.bySender.get(sender)
    let next = accountNonce
    while (queue?.has(next) === true) next++
    return next
  }

  /** Decodes, validates and adds a raw transaction. Returns its hash. */
  async addRaw(raw: Uint8Array, origin: TxOrigin = 'local'): Promise<PoolTx> {
    const tx = decodeRawTransaction(raw, this.options.common, this.options.maxTxSize)
    return this.add(tx, raw.length, origin)
  }

  /** Validates against head state and adds. Throws TxPoolError; on error nothing changes. */
  add(
    tx: TypedTransaction,
    size = tx.serialize().length,
    origin: TxOrigin = 'local',
  ): Promise<PoolTx> {
    // Validation reads account state across an await; adds run one at a time so two
    // concurrent adds cannot both pass the checks and then both insert.
    const run = this.addQueue.then(
      () => this.addNow(tx, size, origin),
      () => this.addNow(tx, size, origin),
    )
    this.addQueue = run.catch(() => undefined)
    return run
  }

  private async addNow(tx: TypedTransaction, size: number, origin: TxOrigin): Promise<PoolTx> {
    const hash = bytesToHex(tx.hash())
    if (this.byHash.has(hash))
      throw new TxPoolError('TX_ALREADY_KNOWN', 'already known', { details: { hash } })
    if (size > this.options.maxTxSize) {
      throw new TxPoolError('TX_OVERSIZED', 'oversized data', {
        details: { size, max: this.options.maxTxSize },
      })
    }
    // From the public key the decoder recovered (cached on the tx), hashed natively:
    // ethereumjs' getSenderAddress rehashes it with pure-JS keccak at every call.
    const senderAddress = new Address(publicKeyToAddress(tx.getSenderPublicKey()))
    const sender = senderAddress.toString()
    const intrinsic = tx.getMinimumGasLimit()
    if (tx.gasLimit < intrinsic) {
      throw new TxPoolError('TX_INTRINSIC_GAS_TOO_LOW', 'intrinsic gas too low', {
        details: { gas: tx.gasLimit, intrinsic },
      })
    }
    if (tx.gasLimit > this.state.blockGasLimit() || tx.gasLimit > TX_GAS_CAP) {
      throw new TxPoolError('TX_GAS_LIMIT_EXCEEDED', 'exceeds block gas limit', {
        details: { gas: tx.gasLimit },
      })
    }
    if (tipCap(tx) > feeCap(tx)) {
      throw new TxPoolError(
        'TX_TIP_ABOVE_FEE_CAP',
        'max priority fee per gas higher than max fee per gas',
      )
    }
    if (feeCap(tx) < this.options.baseFeeFloor) {
      throw new TxPoolError('TX_FEE_CAP_TOO_LOW', 'max fee per gas less than block base fee', {
        details: { feeCap: feeCap(tx), floor: this.options.baseFeeFloor },
      })
    }
    const account = await this.state.getAccount(senderAddress)
    if (tx.nonce < account.nonce) {
      throw new TxPoolError('TX_NONCE_TOO_LOW', 'nonce too low', {
        details: { nonce: tx.nonce, next: account.nonce },
      })
    }
    if (tx.nonce > account.nonce + BigInt(this.options.maxNonceGap)) {
      throw new TxPoolError('TX_NONCE_TOO_HIGH', 'nonce too high', {
        details: { nonce: tx.nonce, next: account.nonce },
      })
    }
    const cost = tx.gasLimit * feeCap(tx) + tx.value
    if (account.balance < cost) {
      throw new TxPoolError('TX_INSUFFICIENT_FUNDS', 'insufficient funds for gas * price + value', {
        details: { balance: account.balance, cost },
      })
    }
    const queue = this.bySender.get(sender)
    const existing = queue?.get(tx.nonce)
    if (existing !== undefined) {
      const bump = BigInt(100 + this.options.priceBumpPercent)
      if (
        feeCap(tx) * 100n < feeCap(existing.tx) * bump ||
        tipCap(tx) * 100n < tipCap(existing.tx) * bump
      ) {
        throw new TxPoolError('TX_REPLACEMENT_UNDERPRICED', 'replacement transaction underpriced', {
          details: { replaces: existing.hash },
        })
      }
    } else {
      if ((queue?.size ?? 0) >= this.options.maxPerSender) {
        throw new TxPoolError('TX_SENDER_LIMIT', 'too many pending transactions from this sender', {
          details: { sender },
        })
      }
      if (this.byHash.size >= this.options.maxTransactions) this.evictFor(tx)
    }
    // The replaced transaction leaves, so only growth counts; it is never evicted for itself.
    const growth = size - (existing?.size ?? 0)
    while (this.totalBytes + growth > this.options.maxBytes) this.evictFor(tx, existing)
    const entry: PoolTx = {
      tx,
      hash,
      senderAddress,
      sender,
      nonce: tx.nonce,
      size,
      addedAt: this.now(),
    }
    if (existing !== undefined) this.remove(existing, 'replaced')
    let senderQueue = this.bySender.get(sender)
    if (senderQueue === undefined) {
      senderQueue = new Map()
      this.bySender.set(sender, senderQueue)
    }
    senderQueue.set(tx.nonce, entry)
    this.byHash.set(hash, entry)
    this.totalBytes += size
    this.additionCount++
    this.emit('added', entry, origin)
    return entry
  }

  /** Makes room by evicting the cheapest tail transaction (never `keep`), if `tx` pays more. */
  private evictFor(tx: TypedTransaction, keep?: PoolTx): void {
    const baseFee = this.state.nextBaseFee()
    let cheapest: PoolTx | undefined
    for (const queue of this.bySender.values()) {
      let tail: PoolTx | undefined
      for (const entry of queue.values())
        if (tail === undefined || entry.nonce > tail.nonce) tail = entry
      if (
        tail !== undefined &&
        tail !== keep &&
        (cheapest === undefined ||
          effectiveTip(tail.tx, baseFee) < effectiveTip(cheapest.tx, baseFee))
      ) {
        cheapest = tail
      }
    }
    if (cheapest === undefined || effectiveTip(cheapest.tx, baseFee) >= effectiveTip(tx, baseFee)) {
      throw new TxPoolError('TX_POOL_FULL', 'txpool is full')
    }
    this.remove(cheapest, 'evicted')
  }

  private remove(
    entry: PoolTx,
    reason: 'included' | 'replaced' | 'evicted' | 'stale' | 'invalid',
  ): void {
    if (!this.byHash.delete(entry.hash)) return
    this.totalBytes -= entry.size
    const queue = this.bySender.get(entry.sender)
    if (queue?.get(entry.nonce) === entry) {
      queue.delete(entry.nonce)
      if (queue.size === 0) this.bySender.delete(entry.sender)
    }
    this.emit('removed', entry, reason)
  }

  /** Drops a transaction that failed during block building (it cannot run now). */
  drop(hash: string): void {
    const entry = this.byHash.get(hash)
    if (entry !== undefined) this.remove(entry, 'invalid')
  }

  /** After a block: forget included transactions and any made stale by new nonces. */
  async onNewHead(included: readonly TypedTransaction[]): Promise<void> {
    const touched = new Set<string>()
    for (const tx of included) {
      const entry = this.byHash.get(bytesToHex(tx.hash()))
      if (entry !== undefined) this.remove(entry, 'included')
      touched.add(entry?.sender ?? tx.getSenderAddress().toString())
    }
    for (const sender of touched) {
      const queue = this.bySender.get(sender)
      if (queue === undefined) continue
      const first = queue.values().next().value
      if (first === undefined) continue
      const { nonce } = await this.state.getAccount(first.senderAddress)
      for (const entry of [...queue.values()]) if (entry.nonce < nonce) this.remove(entry, 'stale')
    }
  }

  /** Executable transactions of each sender (contiguous from the account nonce), for RPC. */
  async content(): Promise<{ pending: PoolTx[]; queued: PoolTx[] }> {
    const pending: PoolTx[] = []
    const queued: PoolTx[] = []
    for (const queue of this.bySender.values()) {
      const entries = [...queue.values()].sort((a, b) => (a.nonce < b.nonce ? -1 : 1))
      const { nonce } = await this.state.getAccount(entries[0]!.senderAddress)
      let next = nonce
      for (const entry of entries) {
        if (entry.nonce === next) {
          pending.push(entry)
          next++
        } else queued.push(entry)
      }
    }
    return { pending, queued }
  }

  /**
   * Candidates for the next block: the highest effective tip first, each sender's
   * transactions in nonce order starting at its account nonce. Lazy, so a builder that
   * stops early does no extra work. `skipSender` lets the builder drop a sender whose
   * transaction failed (its later nonces cannot run either).
   */
  async *candidates(baseFee: bigint): AsyncGenerator<PoolTx, void, string | undefined> {
    const lanes: PoolTx[][] = []
    for (const queue of this.bySender.values()) {
      const entries = [...queue.values()].sort((a, b) => (a.nonce < b.nonce ? -1 : 1))
      const { nonce } = await this.state.getAccount(entries[0]!.senderAddress)
      const lane: PoolTx[] = []
      let next = nonce
      for (const entry of entries) {
        if (entry.nonce < next) continue
        if (entry.nonce !== next) break
        if (feeCap(entry.tx) < baseFee) break
        lane.push(entry)
        next++
      }
      if (lane.length > 0) lanes.push(lane.reverse())
    }
    // Lanes by their next transaction: the highest tip first and, among equal tips, the
    // one that arrived first. Without the arrival order a backlog of equal-fee transfers
    // left the same senders at the back block after block (tens of seconds of wait).
    const next = (lane: PoolTx[]) => lane[lane.length - 1]!
    const tips = new Map<PoolTx, bigint>()
    const tipOf = (entry: PoolTx) => {
      let tip = tips.get(entry)
      if (tip === undefined) {
        tip = effectiveTip(entry.tx, baseFee)
        tips.set(entry, tip)
      }
      return tip
    }
    const heap = new LaneHeap((a, b) => {
      const [x, y] = [next(a), next(b)]
      const [tx, ty] = [tipOf(x), tipOf(y)]
      return tx !== ty ? tx > ty : x.addedAt < y.addedAt
    })
    for (const lane of lanes) heap.push(lane)
    for (;;) {
      const lane = heap.pop()
      if (lane === undefined) return
      const entry = lane.pop()!
      const skip = yield entry
      if (skip === entry.sender) continue
      if (lane.length > 0) heap.push(lane)
    }
  }
}

/** A binary heap of lanes; `before(a, b)` says whether lane a goes first. */
class LaneHeap {
  private readonly items: PoolTx[][] = []
  private readonly before: (a: PoolTx[], b: PoolTx[]) => boolean
  constructor(before: (a: PoolTx[], b: PoolTx[]) => boolean) {
    this.before = before
  }
  push(lane: PoolTx[]): void {
    const items = this.items
    items.push(lane)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.before(lane, items[parent]!)) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = lane
  }
  pop(): PoolTx[] | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && this.before(items[right]!, items[left]!) ? right : left
      if (!this.before(items[child]!, last)) break
      items[i] = items[child]!
      i = child
    }
    items[i] = last
    return top
  }
}
