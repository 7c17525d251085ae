/**
 * Consensus for a one-validator network (n = 1, q = 1): every block period the validator
 * proposes, seals and imports. It uses the same extraData, seal and import path as QBFT,
 * so a single-validator chain is verifiable by any node with the generic rules.
 */
import type { Logger } from 'pino'
import { commitSealDigest, commitSealPreimage, signCommitSeal } from '../consensus/seals.ts'
import type { Ledger } from '../ledger/ledger.ts'
import type { Signer } from '../lib/signer.ts'
import type { BlockProducer } from '../producer/block-producer.ts'
import type { Scheduler } from '../util/scheduler.ts'
import type { ConsensusEngine } from './engine.ts'

export interface SingleValidatorOptions {
  blockPeriodMs: number
  /** the private key in this process, or `signer` */
  validatorKey?: Uint8Array
  /** a (remote) signer holding the key instead */
  signer?: Signer
  validatorAddress: Uint8Array
}

export class SingleValidatorEngine implements ConsensusEngine {
  private readonly options: SingleValidatorOptions
  private readonly ledger: Ledger
  private readonly producer: BlockProducer
  private readonly scheduler: Scheduler
  private readonly logger: Logger | undefined
  private timer: unknown
  private running = false
  private inFlight: Promise<void> | undefined
  private lastBlockAt = 0
  /** Periods in a row whose block failed (a failing disk retries every period). */
  private failuresInARow = 0

  constructor(
    options: SingleValidatorOptions,
    modules: { ledger: Ledger; producer: BlockProducer; scheduler: Scheduler; logger?: Logger },
  ) {
    this.options = options
    this.ledger = modules.ledger
    this.producer = modules.producer
    this.scheduler = modules.scheduler
    this.logger = modules.logger
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    this.lastBlockAt = this.scheduler.now()
    this.schedule()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer)
    this.timer = undefined
    await this.inFlight
  }

  private schedule(): void {
    if (!this.running) return
    const due = this.lastBlockAt + this.options.blockPeriodMs
    this.timer = this.scheduler.setTimeout(
      () => {
        this.timer = undefined
        this.inFlight = this.produce().finally(() => {
          this.inFlight = undefined
          this.schedule()
        })
      },
      Math.max(0, due - this.scheduler.now()),
    )
  }

  /** The validator list an epoch block must carry; empty on other blocks. */
  private epochValidators(): Uint8Array[] {
    const number = this.ledger.head.number + 1n
    const set = this.ledger.rules.validatorSet
    return set.isEpochBlock?.(number) === true ? set.validatorsAt(number) : []
  }

  private async seal(hash: Uint8Array): Promise<Uint8Array> {
    const { signer, validatorKey } = this.options
    if (signer !== undefined) {
      return await signer.sign(commitSealDigest(hash, 0), commitSealPreimage(hash, 0))
    }
    if (validatorKey === undefined) throw new Error('SingleValidatorEngine needs a key or a signer')
    return signCommitSeal(hash, 0, validatorKey)
  }

  /** Proposes, seals and imports one block. Exposed for tests and tools. */
  async produce(): Promise<void> {
    // The period is measured from when the block was due, not when it finished, so the
    // chain keeps its cadence as long as building fits in the period.
    const due = this.lastBlockAt + this.options.blockPeriodMs
    const now = this.scheduler.now()
    this.lastBlockAt = now - due > this.options.blockPeriodMs ? now : due
    try {
      const { block, execution } = await this.producer.propose({
        round: 0,
        coinbase: this.options.validatorAddress,
        parentCommitRound: this.ledger.headCommit.round,
        parentCommitSeals: this.ledger.headCommit.seals,
        validators: this.epochValidators(),
      })
      const seal = await this.seal(block.hash())
      await this.ledger.importBlock(block, { seals: [seal], execution, sealsVerified: true })
      this.logger?.info(
        {
          number: Number(block.header.number),
          txs: block.transactions.length,
          gasUsed: Number(block.header.gasUsed),
        },
        'sealed block',
      )
      this.failuresInARow = 0
    } catch (err) {
      // Every period tries again; logged at failures 1, 2, 4, 8, ... so a long outage
      // writes few lines (health and metrics show it).
      const failures = ++this.failuresInARow
      if ((failures & (failures - 1)) === 0)
        this.logger?.error({ err, failures }, 'block production failed')
    }
  }
}
