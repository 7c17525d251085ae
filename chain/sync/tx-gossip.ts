/**
 * The transactions gossip topic. A message is a batch: the RLP list of raw transactions
 * (each the bytes `eth_sendRawTransaction` takes). Batching matters for throughput: per
 * message, libp2p pays framing, encryption, a socket write, a message id and a seen-cache
 * entry on every hop, which at hundreds of transactions per second cost more than the
 * transactions' own validation.
 *
 * - Transactions a local client submits are collected for `flushDelayMs` (or until the
 *   batch is full) and published as one message.
 * - A received batch goes through the pool transaction by transaction (rules in
 *   chain/txpool/gossip-validation.ts): REJECT if any transaction is invalid in itself (an
 *   honest peer only forwards transactions its pool took), ACCEPT (forward the batch as is)
 *   if the pool took at least one, IGNORE otherwise. Transactions taken from a batch are
 *   not published again: gossipsub forwards the batch itself.
 * - A transaction a local client submitted was acknowledged, so it must not vanish while it
 *   waits: a batch is published only when some peer subscribes to the topic (otherwise it
 *   would go nowhere and sit in our seen cache, so that the same bytes could never go out
 *   again), the local transactions still in the pool are announced again to each peer that
 *   completes the status handshake, and every `reannounceIntervalMs` until included.
 */
import { RLP } from '@ethereumjs/rlp'
import type { Logger } from 'pino'
import type { GossipTopic, GossipTopicStats } from '../p2p/gossip.ts'
import {
  type GossipTxSink,
  TxGossipError,
  validateGossipTransaction,
} from '../txpool/gossip-validation.ts'
import type { PoolTx, TxOrigin } from '../txpool/txpool.ts'
import type { Scheduler } from '../util/scheduler.ts'
import type { SyncNetwork } from './network.ts'

export const TRANSACTIONS_TOPIC = 'transactions'

export interface TxGossipOptions {
  /** Largest single transaction (the pool's cap). */
  maxTxBytes: number
  /** Transactions per batch message. Default 256. */
  maxBatchTxs?: number
  /**
   * Bytes of transactions per batch message (default 256 KiB); raised if needed so that one
   * transaction of `maxTxBytes` always fits.
   */
  maxBatchBytes?: number
  /** How long a local transaction waits for others to share its message. Default 20 ms. */
  flushDelayMs?: number
  /** Delay between a new peer's status and the announcement of our local transactions. Default 1 s. */
  peerAnnounceDelayMs?: number
  /**
   * Local transactions still in the pool are published again this often (a batch of a new
   * composition, so the seen caches let it through). Default 30 s.
   */
  reannounceIntervalMs?: number
}

export interface GossipPool extends GossipTxSink {
  on(event: 'added', listener: (tx: PoolTx, origin: TxOrigin) => void): unknown
  off(event: 'added', listener: (tx: PoolTx, origin: TxOrigin) => void): unknown
  /** The pool's entry for a hash, if it still holds it. */
  get(hash: string): PoolTx | undefined
}

/** RLP overhead per batch: the list header (at most 9 bytes) and one item prefix (at most 5 here). */
const BATCH_OVERHEAD_BYTES = 9
const ITEM_OVERHEAD_BYTES = 5

function maxBatchBytesOf(options: TxGossipOptions): number {
  return Math.max(options.maxBatchBytes ?? 256 * 1024, options.maxTxBytes + ITEM_OVERHEAD_BYTES)
}

/** The topic's message size cap for these options (larger messages are rejected undecoded). */
export function txGossipMessageCap(options: TxGossipOptions): number {
  return BATCH_OVERHEAD_BYTES + maxBatchBytesOf(options)
}

/** Encodes raw transactions as one batch message. */
export function encodeTxBatch(raws: readonly Uint8Array[]): Uint8Array {
  return RLP.encode(raws as Uint8Array[])
}

/** Decodes a batch message; throws a REJECT TxGossipError if it is not a list of byte strings. */
export function decodeTxBatch(data: Uint8Array, maxTxs: number): Uint8Array[] {
  let decoded: unknown
  try {
    decoded = RLP.decode(data)
  } catch (cause) {
    throw new TxGossipError('REJECT', 'TX_INVALID_ENCODING', 'batch is not valid RLP', cause)
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length === 0 ||
    decoded.some((item) => !(item instanceof Uint8Array))
  ) {
    throw new TxGossipError(
      'REJECT',
      'TX_INVALID_ENCODING',
      'batch is not a non-empty list of raw transactions',
      undefined,
    )
  }
  if (decoded.length > maxTxs) {
    throw new TxGossipError(
      'REJECT',
      'TX_OVERSIZED',
      `batch of ${decoded.length} transactions (max ${maxTxs})`,
      undefined,
    )
  }
  return decoded as Uint8Array[]
}

export class TxGossip {
  private readonly maxBatchTxs: number
  /** Cap on the transactions' bytes in one batch (items' prefixes included). */
  private readonly maxBatchBytes: number
  private readonly flushDelayMs: number
  private readonly network: SyncNetwork
  private readonly pool: GossipPool
  private readonly logger: Logger
  private readonly scheduler: Scheduler
  private topic: GossipTopic | undefined
  private readonly onAdded: (tx: PoolTx, origin: TxOrigin) => void
  private outgoing: Uint8Array[] = []
  private outgoingBytes = 0
  private flushTimer: unknown
  private readonly peerAnnounceDelayMs: number
  private readonly reannounceIntervalMs: number
  /**
   * Hashes of transactions local clients submitted, oldest first, until the pool no longer
   * holds them (included, replaced, evicted): bounded by the pool's own cap.
   */
  private readonly local = new Set<string>()
  /** Peers that got our local transactions after their handshake. */
  private readonly greeted = new Set<string>()
  private announceTimer: unknown
  private reannounceTimer: unknown
  private readonly onPeerStatus: (peerId: string) => void

  constructor(
    options: TxGossipOptions,
    modules: { network: SyncNetwork; pool: GossipPool; logger: Logger; scheduler: Scheduler },
  ) {
    this.maxBatchTxs = options.maxBatchTxs ?? 256
    this.maxBatchBytes = maxBatchBytesOf(options)
    this.flushDelayMs = options.flushDelayMs ?? 20
    this.network = modules.network
    this.pool = modules.pool
    this.logger = modules.logger
    this.scheduler = modules.scheduler
    this.peerAnnounceDelayMs = options.peerAnnounceDelayMs ?? 1_000
    this.reannounceIntervalMs = options.reannounceIntervalMs ?? 30_000
    this.onAdded = (tx, origin) => {
      if (origin !== 'local') return
      this.local.add(tx.hash)
      this.enqueue(tx)
    }
    this.onPeerStatus = (peerId) => {
      if (this.greeted.has(peerId)) return
      if (this.greeted.size > 1024) this.forgetGoneGreeted()
      this.greeted.add(peerId)
      this.scheduleAnnounce(this.peerAnnounceDelayMs)
    }
  }

  /** Local transactions waiting for inclusion (announced again until then). */
  get localPending(): number {
    this.pruneLocal()
    return this.local.size
  }

  start(): void {
    if (this.topic !== undefined) return
    this.topic = this.network.registerTopic({
      name: TRANSACTIONS_TOPIC,
      maxMessageBytes: BATCH_OVERHEAD_BYTES + this.maxBatchBytes,
      // One at a time: the pool's checks (nonce, balance) are not atomic across awaits.
      concurrency: 1,
      maxQueueLength: 1024,
      validate: (data) => this.validateBatch(data),
    })
    this.pool.on('added', this.onAdded)
    this.network.on('peer:status', this.onPeerStatus)
    this.scheduleReannounce()
  }

  stop(): void {
    if (this.topic === undefined) return
    this.pool.off('added', this.onAdded)
    this.network.off('peer:status', this.onPeerStatus)
    if (this.flushTimer !== undefined) this.scheduler.clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    if (this.announceTimer !== undefined) this.scheduler.clearTimeout(this.announceTimer)
    this.announceTimer = undefined
    if (this.reannounceTimer !== undefined) this.scheduler.clearTimeout(this.reannounceTimer)
    this.reannounceTimer = undefined
    this.local.clear()
    this.greeted.clear()
    this.outgoing = []
    this.outgoingBytes = 0
    this.topic.unregister()
    this.topic = undefined
  }

  stats(): GossipTopicStats | undefined {
    return this.topic?.stats()
  }

  private async validateBatch(data: Uint8Array): Promise<undefined> {
    const raws = decodeTxBatch(data, this.maxBatchTxs)
    let accepted = 0
    let lastRefusal: TxGossipError | undefined
    for (const raw of raws) {
      try {
        await validateGossipTransaction(this.pool, raw)
        accepted++
      } catch (err) {
        if (!(err instanceof TxGossipError)) throw err
        // Invalid in itself: whoever sent the batch did not validate it. Transactions
        // taken before it stay in the pool (each was valid on its own).
        if (err.action === 'REJECT') throw err
        lastRefusal = err
      }
    }
    if (accepted === 0 && lastRefusal !== undefined) throw lastRefusal
    return undefined
  }

  private enqueue(entry: PoolTx): void {
    if (this.topic === undefined) return
    const raw = entry.tx.serialize()
    const bytes = raw.length + ITEM_OVERHEAD_BYTES
    if (this.outgoingBytes + bytes > this.maxBatchBytes) this.flush()
    this.outgoing.push(raw)
    this.outgoingBytes += bytes
    if (this.outgoing.length >= this.maxBatchTxs) {
      this.flush()
      return
    }
    if (this.flushTimer === undefined) {
      this.flushTimer = this.scheduler.setTimeout(() => {
        this.flushTimer = undefined
        this.flush()
      }, this.flushDelayMs)
    }
  }

  private flush(): void {
    if (this.flushTimer !== undefined) this.scheduler.clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    const topic = this.topic
    const batch = this.outgoing
    this.outgoing = []
    this.outgoingBytes = 0
    if (topic === undefined || batch.length === 0) return
    this.publish(topic, batch)
  }

  /**
   * Publishes one batch if some peer subscribes to the topic. Nobody: the transactions stay
   * in `local` and go out with the next announcement (a new peer, or the interval).
   */
  private publish(topic: GossipTopic, batch: Uint8Array[]): void {
    topic.publish(encodeTxBatch(batch), { requirePeers: true }).catch((err) => {
      if ((err as { code?: string }).code === 'P2P_NO_TOPIC_PEERS') {
        this.logger.debug({ txs: batch.length }, 'no peer for transactions yet; announced later')
        // Peers may be connected but not subscribed yet: try again soon while some exist.
        if (this.network.syncPeers().length > 0) this.scheduleAnnounce(this.peerAnnounceDelayMs)
        return
      }
      this.logger.debug({ txs: batch.length, err }, 'publishing transactions failed')
    })
  }

  private scheduleAnnounce(delayMs: number): void {
    if (this.topic === undefined || this.announceTimer !== undefined) return
    this.announceTimer = this.scheduler.setTimeout(() => {
      this.announceTimer = undefined
      this.announceLocal()
    }, delayMs)
  }

  private scheduleReannounce(): void {
    this.reannounceTimer = this.scheduler.setTimeout(() => {
      this.reannounceTimer = undefined
      if (this.topic === undefined) return
      this.announceLocal()
      this.scheduleReannounce()
    }, this.reannounceIntervalMs)
  }

  /** Drops hashes the pool no longer holds. */
  private pruneLocal(): void {
    for (const hash of this.local) if (this.pool.get(hash) === undefined) this.local.delete(hash)
  }

  private forgetGoneGreeted(): void {
    const connected = new Set(this.network.syncPeers().map((p) => p.peerId))
    for (const peer of this.greeted) if (!connected.has(peer)) this.greeted.delete(peer)
  }

  /** Publishes every local transaction the pool still holds, in batches within the caps. */
  private announceLocal(): void {
    const topic = this.topic
    if (topic === undefined) return
    this.pruneLocal()
    let batch: Uint8Array[] = []
    let bytes = 0
    for (const hash of this.local) {
      const entry = this.pool.get(hash)
      if (entry === undefined) continue
      const raw = entry.tx.serialize()
      const size = raw.length + ITEM_OVERHEAD_BYTES
      if (
        batch.length > 0 &&
        (bytes + size > this.maxBatchBytes || batch.length >= this.maxBatchTxs)
      ) {
        this.publish(topic, batch)
        batch = []
        bytes = 0
      }
      batch.push(raw)
      bytes += size
    }
    if (batch.length > 0) this.publish(topic, batch)
  }
}
