/**
 * Range sync: when peers are ahead (a node that starts behind or comes back after
 * downtime), download blocks-by-range in batches from several peers at once and import them
 * in order. Every block goes through `importBlock` with its seals, so the ledger verifies
 * the seals against the validator set of the block's height (and the parent seals in the
 * header) before executing it. Gossip keeps importing meanwhile; whichever path is first
 * wins and the other sees a known block.
 *
 * Peers that serve invalid or foreign blocks are banned; slow or empty answers cost score.
 * Progress is logged (height x/y, blocks/s, time left) and exposed through `status()` in
 * the shape of eth_syncing.
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { Logger } from 'pino'
import type { ImportedBlock } from '../ledger/chain-reader.ts'
import { errorMessage, isSidechainError } from '../lib/errors.ts'
import type { Scheduler } from '../util/scheduler.ts'
import type { SyncNetwork } from './network.ts'
import {
  type BlockCommitLike,
  type BlockMessage,
  classifyImportError,
  decodeBlockMessage,
} from './validation.ts'

export interface RangeSyncOptions {
  /** Blocks per request (at most the peers' maxBlocksPerRequest). */
  batchSize: number
  /** Batches downloading or waiting to be imported. */
  maxBatchesInFlight: number
  maxRequestsPerPeer: number
  maxAttemptsPerBatch: number
  /** Start syncing when the best peer is this many blocks ahead... */
  minGap: number
  /** ...or at least one block ahead and our head did not move for this long. */
  stallMs: number
  checkIntervalMs: number
  progressLogMs: number
  /** Pause for a peer that answered "rate limited". */
  rateLimitBackoffMs: number
}

export const defaultRangeSyncOptions: RangeSyncOptions = {
  batchSize: 64,
  maxBatchesInFlight: 8,
  maxRequestsPerPeer: 2,
  maxAttemptsPerBatch: 8,
  minGap: 2,
  stallMs: 3_000,
  checkIntervalMs: 1_000,
  progressLogMs: 2_000,
  rateLimitBackoffMs: 1_000,
}

/** eth_syncing: false, or where a running sync stands. */
export type SyncStatus =
  | false
  | { startingBlock: bigint; currentBlock: bigint; highestBlock: bigint }

export interface SyncStatusProvider {
  syncStatus(): SyncStatus
}

export interface SyncChain {
  readonly head: BlockHeader
  readonly common: Common
}

export type NetworkBlockImporter = (
  block: Block,
  commit: BlockCommitLike,
  peer: string,
) => Promise<ImportedBlock>

interface Batch {
  start: bigint
  count: number
  peer: string | undefined
  download: Promise<BlockMessage[]> | undefined
  /** The download finished (ok or not); it may wait in the queue until its turn to import. */
  settled: boolean
  /** Peers that failed this batch; not asked again unless nobody else can serve it. */
  tried: Set<string>
  attempts: number
}

export class RangeSync implements SyncStatusProvider {
  private readonly options: RangeSyncOptions
  private readonly network: SyncNetwork
  private readonly chain: SyncChain
  private readonly importer: NetworkBlockImporter
  private readonly logger: Logger
  private readonly scheduler: Scheduler
  private running = false
  private loop: Promise<void> | undefined
  private abort: AbortController | undefined
  private timer: unknown
  private active: { startingBlock: bigint; highestBlock: bigint; startedAt: number } | undefined
  private readonly inFlight = new Map<string, number>()
  private readonly cooldownUntil = new Map<string, number>()
  private lastHead = -1n
  private lastHeadChangeAt = 0
  private readonly onStatus: () => void
  private rotation = 0

  constructor(
    options: Partial<RangeSyncOptions>,
    modules: {
      network: SyncNetwork
      chain: SyncChain
      importer: NetworkBlockImporter
      logger: Logger
      scheduler: Scheduler
    },
  ) {
    this.options = { ...defaultRangeSyncOptions, ...options }
    this.network = modules.network
    this.chain = modules.chain
    this.importer = modules.importer
    this.logger = modules.logger
    this.scheduler = modules.scheduler
    this.onStatus = () => this.poke()
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.abort = new AbortController()
    this.lastHead = this.chain.head.number
    this.lastHeadChangeAt = this.scheduler.now()
    this.network.on('peer:status', this.onStatus)
    this.tick()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.network.off('peer:status', this.onStatus)
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer)
    this.timer = undefined
    this.abort?.abort(new Error('sync stopped'))
    await this.loop
  }

  get isSyncing(): boolean {
    return this.active !== undefined
  }

  syncStatus(): SyncStatus {
    const active = this.active
    if (active === undefined) return false
    const current = this.chain.head.number
    const highest = maxBigInt(active.highestBlock, current)
    // A node one block behind is following the tip (gossip is just in flight), not syncing:
    // tools treat eth_syncing !== false as "not ready".
    if (highest - current <= 1n) return false
    return { startingBlock: active.startingBlock, currentBlock: current, highestBlock: highest }
  }

  private tick(): void {
    if (!this.running) return
    this.poke()
    this.timer = this.scheduler.setTimeout(() => {
      this.timer = undefined
      this.tick()
    }, this.options.checkIntervalMs)
  }

  /** Best head among ready peers. */
  private target(): bigint {
    let best = 0n
    for (const peer of this.network.syncPeers()) if (peer.head > best) best = peer.head
    return best
  }

  /** Starts a sync round if peers are ahead enough. Cheap; called often. */
  poke(): void {
    if (!this.running || this.loop !== undefined) return
    const head = this.chain.head.number
    const now = this.scheduler.now()
    if (head !== this.lastHead) {
      this.lastHead = head
      this.lastHeadChangeAt = now
    }
    const target = this.target()
    const behind = target - head
    if (
      behind >= BigInt(this.options.minGap) ||
      (behind > 0n && now - this.lastHeadChangeAt >= this.options.stallMs)
    ) {
      this.loop = this.run(target).finally(() => {
        this.loop = undefined
      })
    }
  }

  private async run(initialTarget: bigint): Promise<void> {
    const startHead = this.chain.head.number
    const startedAt = this.scheduler.now()
    this.active = { startingBlock: startHead, highestBlock: initialTarget, startedAt }
    this.logger.info(
      {
        head: Number(startHead),
        target: Number(initialTarget),
        peers: this.network.syncPeers().length,
      },
      'sync started',
    )
    let outcome = 'complete'
    try {
      outcome = await this.pipeline()
    } catch (err) {
      outcome = 'failed'
      if (this.running) this.logger.error({ err }, 'sync failed')
    } finally {
      const head = this.chain.head.number
      const seconds = (this.scheduler.now() - startedAt) / 1000
      const blocks = Number(head - startHead)
      this.logger.info(
        {
          head: Number(head),
          target: Number(this.active?.highestBlock ?? initialTarget),
          blocks,
          seconds: Number(seconds.toFixed(1)),
          blocksPerSecond: seconds > 0 ? Math.round(blocks / seconds) : blocks,
        },
        outcome === 'complete' ? 'sync complete' : `sync ${outcome}`,
      )
      this.active = undefined
      this.lastHead = head
      this.lastHeadChangeAt = this.scheduler.now()
    }
  }

  private async pipeline(): Promise<string> {
    const queue: Batch[] = []
    let next = this.chain.head.number + 1n
    let lastLog = { at: this.scheduler.now(), head: this.chain.head.number }
    let idleWaits = 0
    const signal = this.abort!.signal
    while (this.running) {
      const head = this.chain.head.number
      const target = this.target()
      if (this.active !== undefined && target > this.active.highestBlock)
        this.active.highestBlock = target
      // Gossip may have moved the head past queued batches.
      while (queue.length > 0 && queue[0]!.start + BigInt(queue[0]!.count) - 1n <= head)
        queue.shift()
      if (queue.length > 0 && queue[0]!.start > head + 1n) {
        queue.unshift(this.newBatch(head + 1n, Number(queue[0]!.start - head - 1n)))
      }
      if (next <= head) next = head + 1n
      while (queue.length < this.options.maxBatchesInFlight && next <= target) {
        const count = Number(
          target - next + 1n < BigInt(this.options.batchSize)
            ? target - next + 1n
            : BigInt(this.options.batchSize),
        )
        queue.push(this.newBatch(next, count))
        next += BigInt(count)
      }
      if (queue.length === 0) return 'complete'
      for (const batch of queue) if (batch.download === undefined) this.assign(batch, signal)
      const first = queue[0]!
      if (first.download === undefined) {
        // Nobody can take the next batch right now. Wait for a download still on the wire
        // (only those: racing finished ones would spin without ever yielding), or a moment.
        const onTheWire = queue.filter((b) => b.download !== undefined && !b.settled)
        if (onTheWire.length > 0) {
          await Promise.race(onTheWire.map((b) => b.download!.catch(() => undefined)))
          continue
        }
        if (this.network.syncPeers().length === 0 || ++idleWaits > 20) {
          return 'paused (no peer can serve the next blocks)'
        }
        await this.sleep(this.options.rateLimitBackoffMs / 4)
        continue
      }
      idleWaits = 0
      let blocks: BlockMessage[]
      try {
        blocks = await first.download
      } catch (err) {
        if (!this.running) return 'stopped'
        this.downloadFailed(first, err)
        if (first.attempts >= this.options.maxAttemptsPerBatch)
          return `paused (batch ${first.start} failed ${first.attempts} times)`
        continue
      }
      queue.shift()
      const imported = await this.importBatch(first, blocks)
      if (imported < first.count) {
        const retry = this.newBatch(first.start + BigInt(imported), first.count - imported)
        if (imported < blocks.length || blocks.length === 0) {
          retry.tried = first.tried
          retry.attempts = first.attempts + 1
          if (retry.attempts >= this.options.maxAttemptsPerBatch)
            return `paused (batch ${retry.start} failed ${retry.attempts} times)`
        }
        queue.unshift(retry)
      }
      const now = this.scheduler.now()
      if (now - lastLog.at >= this.options.progressLogMs) {
        this.logProgress(lastLog, now, target)
        lastLog = { at: now, head: this.chain.head.number }
      }
    }
    return 'stopped'
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort?.signal
      const timer = this.scheduler.setTimeout(() => {
        signal?.removeEventListener('abort', done)
        resolve()
      }, ms)
      const done = () => {
        this.scheduler.clearTimeout(timer)
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  private logProgress(last: { at: number; head: bigint }, now: number, target: bigint): void {
    const head = this.chain.head.number
    const rate = Number(head - last.head) / ((now - last.at) / 1000)
    const left = Number(target - head)
    this.logger.info(
      {
        height: Number(head),
        target: Number(target),
        blocksPerSecond: Math.round(rate),
        etaSeconds: rate > 0 ? Math.ceil(left / rate) : null,
        peers: this.network.syncPeers().length,
      },
      `syncing ${head}/${target}`,
    )
  }

  private newBatch(start: bigint, count: number): Batch {
    return {
      start,
      count,
      peer: undefined,
      download: undefined,
      settled: false,
      tried: new Set(),
      attempts: 0,
    }
  }

  /** Picks the least busy peer that has the batch's first block; spreads batches over peers. */
  private assign(batch: Batch, signal: AbortSignal): void {
    const now = this.scheduler.now()
    const candidates = this.network
      .syncPeers()
      .filter((p) => p.head >= batch.start)
      .filter((p) => (this.cooldownUntil.get(p.peerId) ?? 0) <= now)
      .filter((p) => (this.inFlight.get(p.peerId) ?? 0) < this.options.maxRequestsPerPeer)
    let eligible = candidates.filter((p) => !batch.tried.has(p.peerId))
    if (eligible.length === 0 && candidates.length > 0 && batch.tried.size > 0) {
      // Everyone failed it once: give them another chance rather than stall.
      batch.tried.clear()
      eligible = candidates
    }
    if (eligible.length === 0) return
    const load = (peer: string) => this.inFlight.get(peer) ?? 0
    const least = Math.min(...eligible.map((p) => load(p.peerId)))
    const pool = eligible.filter((p) => load(p.peerId) === least)
    const peer = pool[this.rotation++ % pool.length]!
    batch.peer = peer.peerId
    this.inFlight.set(peer.peerId, load(peer.peerId) + 1)
    const download = this.download(peer.peerId, batch, signal)
    download
      .catch(() => undefined)
      .finally(() => {
        if (batch.download === download) batch.settled = true
        const n = (this.inFlight.get(peer.peerId) ?? 1) - 1
        if (n <= 0) this.inFlight.delete(peer.peerId)
        else this.inFlight.set(peer.peerId, n)
      })
    batch.download = download
  }

  private async download(peer: string, batch: Batch, signal: AbortSignal): Promise<BlockMessage[]> {
    const chunks = await this.network.requestBlocksByRange(peer, batch.start, batch.count, signal)
    const blocks: BlockMessage[] = []
    for (const [i, chunk] of chunks.entries()) {
      const msg = decodeBlockMessage(chunk, this.chain.common)
      if (msg.block.header.number !== batch.start + BigInt(i)) {
        throw new SyncPeerError(
          'low-tolerance',
          `served block ${msg.block.header.number} where ${batch.start + BigInt(i)} was asked`,
        )
      }
      blocks.push(msg)
    }
    return blocks
  }

  private downloadFailed(batch: Batch, err: unknown): void {
    const peer = batch.peer
    batch.download = undefined
    batch.settled = false
    batch.peer = undefined
    batch.attempts++
    if (peer === undefined) return
    batch.tried.add(peer)
    const reason = errorMessage(err)
    if (err instanceof SyncPeerError) {
      this.network.penalize(peer, err.penalty, err.message)
    } else if (isSidechainError(err, 'P2P_RATE_LIMITED')) {
      this.cooldownUntil.set(peer, this.scheduler.now() + this.options.rateLimitBackoffMs)
    } else if ((err as { action?: unknown }).action === 'REJECT') {
      // An undecodable block chunk: the peer speaks the protocol wrong or lies.
      this.network.penalize(peer, 'fatal', `served a malformed block: ${reason}`)
    } else if (isSidechainError(err, 'P2P_BAD_RESPONSE')) {
      this.network.penalize(peer, 'low-tolerance', reason)
    } else {
      this.network.penalize(peer, 'high-tolerance', `blocks-by-range failed: ${reason}`)
    }
    this.logger.debug(
      { peer, start: Number(batch.start), count: batch.count, err: reason },
      'batch download failed',
    )
  }

  /** Imports a downloaded batch in order; returns how many leading blocks are now in the chain. */
  private async importBatch(batch: Batch, blocks: BlockMessage[]): Promise<number> {
    const peer = batch.peer ?? 'unknown'
    if (blocks.length === 0) {
      batch.tried.add(peer)
      this.network.penalize(
        peer,
        'high-tolerance',
        `no blocks from ${batch.start} although its head is past it`,
      )
      return 0
    }
    let done = 0
    for (const msg of blocks) {
      const { block } = msg
      if (!this.running) return done
      try {
        await this.importer(block, msg, peer)
        done++
      } catch (err) {
        const outcome = classifyImportError(err)
        if (outcome === 'known') {
          done++
          continue
        }
        if (outcome === 'internal') throw err
        const number = block.header.number
        if (outcome === 'not-next' && number > this.chain.head.number + 1n) return done
        batch.tried.add(peer)
        const why =
          outcome === 'invalid'
            ? 'served an invalid block'
            : 'served a block that does not extend our chain'
        this.logger.warn({ peer, number: Number(number), err }, `sync peer ${why}`)
        this.network.penalize(peer, 'fatal', `${why} (${number}): ${errorMessage(err)}`)
        return done
      }
    }
    return done
  }
}

function maxBigInt(a: bigint, b: bigint): bigint {
  return a > b ? a : b
}

class SyncPeerError extends Error {
  readonly penalty: 'low-tolerance' | 'high-tolerance'
  constructor(penalty: 'low-tolerance' | 'high-tolerance', message: string) {
    super(message)
    this.penalty = penalty
  }
}
