/**
 * Builds block proposals from the transaction pool on top of the ledger's head. Used by
 * every consensus engine (single validator and QBFT) when it is the proposer.
 */
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Logger } from 'pino'
import { emptyVanity, encodeExtraData, type ValidatorVote } from '../consensus/extra-data.ts'
import type { BuildResult } from '../execution/block-executor.ts'
import type { Ledger } from '../ledger/ledger.ts'
import type { TxPool } from '../txpool/txpool.ts'
import type { Scheduler } from '../util/scheduler.ts'

export interface ProposalRequest {
  round: number
  coinbase: Uint8Array
  /** The commit finalizing the parent (the ledger's head). */
  parentCommitRound: number
  parentCommitSeals: readonly Uint8Array[]
  vote?: ValidatorVote | null
  /** Full validator list, on epoch blocks only. */
  validators?: Uint8Array[]
}

export interface BlockProducerOptions {
  /** Time budget for adding transactions, so building never eats the block period. */
  buildBudgetMs: number
}

export class BlockProducer {
  private readonly options: BlockProducerOptions
  private readonly ledger: Ledger
  private readonly txpool: TxPool
  private readonly scheduler: Scheduler
  private readonly logger: Logger | undefined

  constructor(
    options: BlockProducerOptions,
    modules: { ledger: Ledger; txpool: TxPool; scheduler: Scheduler; logger?: Logger },
  ) {
    this.options = options
    this.ledger = modules.ledger
    this.txpool = modules.txpool
    this.scheduler = modules.scheduler
    this.logger = modules.logger
  }

  async propose(request: ProposalRequest): Promise<BuildResult> {
    const extraData = encodeExtraData({
      vanity: emptyVanity(),
      round: request.round,
      vote: request.vote ?? null,
      validators: request.validators ?? [],
      parentCommitRound: request.parentCommitRound,
      parentCommitSeals: [...request.parentCommitSeals],
    })
    const fields = this.ledger.nextHeaderFields(request.coinbase, extraData, this.scheduler.now())
    const candidates: TypedTransaction[] = []
    let gasBudget = fields.gasLimit * 2n
    for await (const entry of this.txpool.candidates(fields.baseFeePerGas)) {
      candidates.push(entry.tx)
      gasBudget -= entry.tx.gasLimit
      if (gasBudget <= 0n) break
    }
    const failedSenders = new Set<string>()
    const result = await this.ledger.buildBlock(fields, candidates, {
      deadlineMs: this.options.buildBudgetMs,
      accept: (tx) => !failedSenders.has(tx.getSenderAddress().toString()),
      onRejected: (tx, error) => {
        failedSenders.add(tx.getSenderAddress().toString())
        this.logger?.debug(
          { tx: tx.hash(), err: (error as Error).message },
          'dropping transaction that cannot run',
        )
      },
    })
    for (const { tx } of result.rejected)
      this.txpool.drop(`0x${Buffer.from(tx.hash()).toString('hex')}`)
    return result
  }
}
