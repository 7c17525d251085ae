/**
 * Keeps the node on the network's chain: block and transaction gossip plus range sync,
 * started after p2p and stopped before it. Exposes the sync status for eth_syncing.
 */
import type { Logger } from 'pino'
import type { GossipTopicStats } from '../p2p/gossip.ts'
import type { Scheduler } from '../util/scheduler.ts'
import { BlockGossip, type GossipLedger } from './block-gossip.ts'
import type { SyncNetwork } from './network.ts'
import {
  RangeSync,
  type RangeSyncOptions,
  type SyncStatus,
  type SyncStatusProvider,
} from './range-sync.ts'
import { type GossipPool, TxGossip } from './tx-gossip.ts'

export interface SyncServiceOptions {
  /** Cap on a gossiped block message (block + seals). */
  maxBlockMessageBytes: number
  /** Cap on a gossiped transaction (the pool's maxTxSize). */
  maxTxBytes: number
  maxFutureSeconds?: number
  rangeSync?: Partial<RangeSyncOptions>
}

export interface SyncServiceModules {
  network: SyncNetwork
  ledger: GossipLedger
  txpool: GossipPool
  logger: Logger
  scheduler: Scheduler
}

export class SyncService implements SyncStatusProvider {
  readonly blocks: BlockGossip
  readonly transactions: TxGossip
  readonly range: RangeSync
  private running = false

  constructor(options: SyncServiceOptions, modules: SyncServiceModules) {
    this.blocks = new BlockGossip(
      {
        maxMessageBytes: options.maxBlockMessageBytes,
        maxFutureSeconds: options.maxFutureSeconds ?? 15,
        maxPending: 64,
      },
      {
        network: modules.network,
        ledger: modules.ledger,
        logger: modules.logger,
        scheduler: modules.scheduler,
      },
    )
    this.transactions = new TxGossip(
      { maxTxBytes: options.maxTxBytes },
      {
        network: modules.network,
        pool: modules.txpool,
        logger: modules.logger,
        scheduler: modules.scheduler,
      },
    )
    this.range = new RangeSync(options.rangeSync ?? {}, {
      network: modules.network,
      chain: modules.ledger,
      importer: (block, commit, peer) => this.blocks.importFromNetwork(block, commit, 'sync', peer),
      logger: modules.logger,
      scheduler: modules.scheduler,
    })
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.blocks.start()
    this.transactions.start()
    this.range.start()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.range.stop()
    this.transactions.stop()
    this.blocks.stop()
  }

  syncStatus(): SyncStatus {
    return this.range.syncStatus()
  }

  gossipStats(): { blocks?: GossipTopicStats; transactions?: GossipTopicStats } {
    return { blocks: this.blocks.stats(), transactions: this.transactions.stats() }
  }
}
