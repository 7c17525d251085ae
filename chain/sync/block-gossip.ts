/**
 * The finalized-blocks gossip topic: validates (imports) incoming blocks with the rules in
 * validation.ts, keeps a few blocks that arrived ahead of the head until their parent is
 * in, and publishes the blocks this node finalized itself (consensus engine) with their
 * seals. Blocks imported from the network, by gossip or range sync, are never republished:
 * gossipsub already forwards accepted messages, and sync must not flood old blocks.
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import { bytesToHex } from '@ethereumjs/util'
import type { Logger } from 'pino'
import type { ChainReader, ImportedBlock } from '../ledger/chain-reader.ts'
import type { GossipTopic, GossipTopicStats } from '../p2p/gossip.ts'
import type { Scheduler } from '../util/scheduler.ts'
import type { SyncNetwork } from './network.ts'
import {
  type BlockCommitLike,
  BlockGossipError,
  type BlockMessage,
  type BlockValidationChain,
  encodeBlockMessage,
  validateGossipBlock,
} from './validation.ts'

export const BLOCKS_TOPIC = 'blocks'

/**
 * The ledger as the block topic uses it: its reads, and the one write of the network side,
 * importing a finalized block with its seals.
 */
export type GossipLedger = BlockValidationChain &
  Pick<ChainReader, 'headCommit' | 'on' | 'off'> & {
    importBlock(
      block: Block,
      options: { seals: readonly Uint8Array[]; sealRound: number },
    ): Promise<ImportedBlock>
  }

export interface BlockGossipOptions {
  maxMessageBytes: number
  maxFutureSeconds: number
  /** Blocks ahead of the head kept until their parent arrives. */
  maxPending: number
}

export type BlockSource = 'gossip' | 'sync' | 'pending'

export class BlockGossip {
  private readonly options: BlockGossipOptions
  private readonly network: SyncNetwork
  private readonly ledger: GossipLedger
  private readonly logger: Logger
  private readonly scheduler: Scheduler
  private topic: GossipTopic | undefined
  /** Hashes (hex) being imported from the network: the head listener must not publish them. */
  private readonly fromNetwork = new Set<string>()
  private readonly pending = new Map<bigint, BlockMessage>()
  private readonly onHead: (imported: ImportedBlock) => void

  constructor(
    options: BlockGossipOptions,
    modules: { network: SyncNetwork; ledger: GossipLedger; logger: Logger; scheduler: Scheduler },
  ) {
    this.options = options
    this.network = modules.network
    this.ledger = modules.ledger
    this.logger = modules.logger
    this.scheduler = modules.scheduler
    this.onHead = (imported) => this.headChanged(imported)
  }

  start(): void {
    if (this.topic !== undefined) return
    this.topic = this.network.registerTopic({
      name: BLOCKS_TOPIC,
      maxMessageBytes: this.options.maxMessageBytes,
      // Blocks import one after the other; a deeper queue only delays the head.
      concurrency: 1,
      maxQueueLength: 256,
      validate: (data, meta) => this.validate(data, meta.from),
    })
    this.ledger.on('head', this.onHead)
  }

  stop(): void {
    if (this.topic === undefined) return
    this.ledger.off('head', this.onHead)
    this.topic.unregister()
    this.topic = undefined
    this.pending.clear()
  }

  stats(): GossipTopicStats | undefined {
    return this.topic?.stats()
  }

  /** The one way network blocks enter the ledger (gossip, buffered, range sync). */
  async importFromNetwork(
    block: Block,
    commit: BlockCommitLike,
    source: BlockSource,
    peer?: string,
  ): Promise<ImportedBlock> {
    const key = bytesToHex(block.hash())
    this.fromNetwork.add(key)
    try {
      const imported = await this.ledger.importBlock(block, {
        seals: commit.seals,
        sealRound: commit.round,
      })
      if (source !== 'sync')
        logImported(
          this.logger,
          imported.block.header,
          imported.block.transactions.length,
          source,
          peer,
        )
      return imported
    } finally {
      this.fromNetwork.delete(key)
    }
  }

  private async validate(data: Uint8Array, from: string): Promise<undefined> {
    try {
      const { msg } = await validateGossipBlock(
        data,
        this.ledger,
        (block, commit) => this.importFromNetwork(block, commit, 'gossip', from),
        { nowMs: this.scheduler.now(), maxFutureSeconds: this.options.maxFutureSeconds },
      )
      this.network.notePeerHead(from, msg.block.header.number)
      return undefined
    } catch (err) {
      if (err instanceof BlockGossipError && err.decoded !== undefined) {
        const number = err.decoded.block.header.number
        if (err.code === 'BLOCK_FUTURE' || err.code === 'BLOCK_UNKNOWN_PARENT') {
          this.keepPending(err.decoded)
          // The relaying peer has it, so it is at least that far: sync picks this up.
          this.network.notePeerHead(from, number)
        } else if (err.code === 'BLOCK_CONFLICT') {
          this.logger.error(
            { number: Number(number), peer: from, details: err.details },
            'conflicting finalized block received',
          )
        }
      }
      throw err
    }
  }

  private keepPending(msg: BlockMessage): void {
    const number = msg.block.header.number
    if (this.pending.has(number)) return
    if (this.pending.size >= this.options.maxPending) {
      // Keep the blocks closest to the head: they are the ones that unblock progress.
      let highest = number
      for (const key of this.pending.keys()) if (key > highest) highest = key
      if (highest <= number) return
      this.pending.delete(highest)
    }
    this.pending.set(number, msg)
  }

  private headChanged(imported: ImportedBlock): void {
    const { header } = imported.block
    const key = bytesToHex(header.hash())
    if (!this.fromNetwork.has(key)) this.publishOwn(imported.block)
    for (const number of [...this.pending.keys()])
      if (number <= header.number) this.pending.delete(number)
    const next = this.pending.get(header.number + 1n)
    if (next !== undefined) {
      this.pending.delete(header.number + 1n)
      this.importFromNetwork(next.block, next, 'pending').catch((err) => {
        this.logger.debug(
          { number: Number(next.block.header.number), err },
          'buffered block not imported',
        )
      })
    }
  }

  private publishOwn(block: Block): void {
    const topic = this.topic
    if (topic === undefined) return
    const data = encodeBlockMessage(block, this.ledger.headCommit)
    topic.publish(data).catch((err) => {
      this.logger.warn({ number: Number(block.header.number), err }, 'publishing block failed')
    })
  }
}

function logImported(
  logger: Logger,
  header: BlockHeader,
  txs: number,
  source: BlockSource,
  peer?: string,
): void {
  logger.info(
    {
      number: Number(header.number),
      hash: bytesToHex(header.hash()),
      stateRoot: bytesToHex(header.stateRoot),
      txs,
      source,
      peer,
    },
    'imported block',
  )
}
