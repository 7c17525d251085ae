/**
 * The transactions gossip topic: gossiped transactions go through the pool (rules in
 * chain/txpool/gossip-validation.ts); every transaction the pool accepts (RPC or gossip) is
 * published. A transaction that came by gossip is already in gossipsub's seen cache, so
 * publishing it again is a no-op and it is forwarded only once.
 */
import type { Logger } from 'pino'
import { errorMessage } from '../errors.ts'
import type { GossipTopic, GossipTopicStats } from '../p2p/gossip.ts'
import { type GossipTxSink, validateGossipTransaction } from '../txpool/gossip-validation.ts'
import type { PoolTx } from '../txpool/txpool.ts'
import type { SyncNetwork } from './network.ts'

export const TRANSACTIONS_TOPIC = 'transactions'

export interface GossipPool extends GossipTxSink {
  on(event: 'added', listener: (tx: PoolTx) => void): unknown
  off(event: 'added', listener: (tx: PoolTx) => void): unknown
}

export class TxGossip {
  private readonly maxTxBytes: number
  private readonly network: SyncNetwork
  private readonly pool: GossipPool
  private readonly logger: Logger
  private topic: GossipTopic | undefined
  private readonly onAdded: (tx: PoolTx) => void

  constructor(
    options: { maxTxBytes: number },
    modules: { network: SyncNetwork; pool: GossipPool; logger: Logger },
  ) {
    this.maxTxBytes = options.maxTxBytes
    this.network = modules.network
    this.pool = modules.pool
    this.logger = modules.logger
    this.onAdded = (tx) => this.publish(tx)
  }

  start(): void {
    if (this.topic !== undefined) return
    this.topic = this.network.registerTopic({
      name: TRANSACTIONS_TOPIC,
      maxMessageBytes: this.maxTxBytes,
      // One at a time: the pool's checks (nonce, balance) are not atomic across awaits.
      concurrency: 1,
      maxQueueLength: 4096,
      validate: async (data) => {
        await validateGossipTransaction(this.pool, data)
        return undefined
      },
    })
    this.pool.on('added', this.onAdded)
  }

  stop(): void {
    if (this.topic === undefined) return
    this.pool.off('added', this.onAdded)
    this.topic.unregister()
    this.topic = undefined
  }

  stats(): GossipTopicStats | undefined {
    return this.topic?.stats()
  }

  private publish(entry: PoolTx): void {
    const topic = this.topic
    if (topic === undefined) return
    topic.publish(entry.tx.serialize()).catch((err) => {
      this.logger.debug({ tx: entry.hash, err: errorMessage(err) }, 'publishing transaction failed')
    })
  }
}
