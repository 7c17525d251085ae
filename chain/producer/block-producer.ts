/**
 * Builds block proposals from the transaction pool on top of the ledger's head. Used by
 * every consensus engine (single validator and QBFT) when it is the proposer.
 */
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import type { Logger } from 'pino'
import { emptyVanity, encodeExtraData, type ValidatorVote } from '../consensus/extra-data.ts'
import type { BuildResult } from '../execution/block-executor.ts'
import type { Ledger, LedgerBuild } from '../ledger/ledger.ts'
import type { ProducerMetrics } from '../metrics/events.ts'
import type { TxPool } from '../txpool/txpool.ts'
import { type Scheduler, threadCpuMs } from '../util/scheduler.ts'

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

/**
 * A proposal being filled from the pool ahead of its slot: `fill` runs what the pool holds
 * now (again later for transactions that arrived since), `finish` adds the latest arrivals
 * and seals. Abandoned (methods throw LEDGER_BUILD_ABANDONED) if the ledger is needed for
 * anything else first.
 */
export interface ProposalInProgress {
  readonly height: bigint
  readonly round: number
  readonly parentHash: Uint8Array
  /** The block's timestamp (seconds), fixed when it was opened. */
  readonly timestamp: bigint
  readonly open: boolean
  /** Transactions in the block so far. */
  readonly transactions: number
  /** Hashes of the block's transactions so far, in block order. */
  transactionHashes(): Uint8Array[]
  fill(): Promise<void>
  finish(): Promise<ProposalBuilt>
  abandon(): Promise<void>
}

/** A sealed proposal, and the time its transactions took to run over all passes. */
export interface ProposalBuilt extends BuildResult {
  /** Counts against BlockProducerOptions.buildBudgetMs (a block at the budget is full). */
  executionMs: number
}

export interface BlockProducerOptions {
  /**
   * Execution-time budget of a block, over all its passes: it bounds the block's
   * execution, hence its validation on the other validators, whenever the building
   * happens, so building never eats the block period. Counted in CPU time of this thread
   * (see threadCpuMs): a machine busy with other processes does not make blocks smaller.
   * Wall time is capped too, at WALL_BUDGET_FACTOR times this (reads from disk are not
   * CPU time of this thread).
   */
  buildBudgetMs: number
}

/** The build's wall-time cap, as a multiple of its CPU-time budget (see buildBudgetMs). */
const WALL_BUDGET_FACTOR = 2

/** The ledger as the producer uses it: it builds on the head, holding the executor (a write). */
export type ProducerLedger = Pick<Ledger, 'nextHeaderFields' | 'startBuild'>

export class BlockProducer {
  private readonly options: BlockProducerOptions
  private readonly ledger: ProducerLedger
  private readonly txpool: TxPool
  private readonly scheduler: Scheduler
  private readonly cpuClock: () => number
  private readonly logger: Logger | undefined
  private readonly metrics: ProducerMetrics | null

  constructor(
    options: BlockProducerOptions,
    modules: {
      ledger: ProducerLedger
      txpool: TxPool
      scheduler: Scheduler
      /** What the build budget is counted in (ms): this thread's CPU time by default. */
      cpuClock?: () => number
      logger?: Logger
      metrics?: ProducerMetrics | null
    },
  ) {
    this.options = options
    this.ledger = modules.ledger
    this.txpool = modules.txpool
    this.scheduler = modules.scheduler
    this.cpuClock = modules.cpuClock ?? threadCpuMs
    this.logger = modules.logger
    this.metrics = modules.metrics ?? null
  }

  /** Builds a block from the pool in one go. */
  async propose(request: ProposalRequest): Promise<ProposalBuilt> {
    const proposal = await this.begin(request)
    return proposal.finish()
  }

  /** Opens a proposal on the head that is filled from the pool in passes (see ProposalInProgress). */
  async begin(request: ProposalRequest): Promise<ProposalInProgress> {
    const extraData = encodeExtraData({
      vanity: emptyVanity(),
      round: request.round,
      vote: request.vote ?? null,
      validators: request.validators ?? [],
      parentCommitRound: request.parentCommitRound,
      parentCommitSeals: [...request.parentCommitSeals],
    })
    const fields = this.ledger.nextHeaderFields(request.coinbase, extraData, this.scheduler.now())
    const build = await this.ledger.startBuild(fields)
    const pass: FillState = {
      build,
      baseFee: fields.baseFeePerGas,
      gasLimit: fields.gasLimit,
      poolAdditions: -1,
      included: new Set(),
      failedSenders: new Set(),
    }
    // Passes run one after another (a refill may still run when the slot's pass starts).
    let passes: Promise<void> = Promise.resolve()
    const fill = () => {
      const next = passes.then(() => this.fill(pass))
      passes = next.catch(() => undefined)
      return next
    }
    return {
      height: fields.parent.number + 1n,
      round: request.round,
      parentHash: build.parentHash,
      timestamp: fields.timestamp,
      get open() {
        return build.open
      },
      get transactions() {
        return build.included.length
      },
      transactionHashes: () => build.included.map((tx) => tx.hash()),
      fill,
      finish: async () => {
        await fill()
        const executionMs = build.executionMs
        const sealStarted = performance.now()
        const built = await build.seal()
        this.metrics?.blockBuilt((executionMs + performance.now() - sealStarted) / 1000)
        return { ...built, executionMs }
      },
      abandon: () => build.abort(),
    }
  }

  /**
   * One pass: the pool's candidates not yet in the block. All passes share the build
   * budget: it bounds the block's execution time, hence its validation time on the other
   * validators, whenever the building happens.
   */
  private async fill(pass: FillState): Promise<void> {
    const { build, included, failedSenders } = pass
    if (build.executionMs >= this.options.buildBudgetMs) return
    // Within one build only new arrivals can add candidates (the parent state is fixed).
    if (pass.poolAdditions === this.txpool.additions) return
    pass.poolAdditions = this.txpool.additions
    // The pool already knows each sender (ethereumjs would rehash the public key per call).
    const senders = new Map<TypedTransaction, string>()
    let gasBudget = pass.gasLimit * 2n
    for await (const entry of this.txpool.candidates(pass.baseFee)) {
      if (included.has(entry.hash)) continue
      senders.set(entry.tx, entry.sender)
      gasBudget -= entry.tx.gasLimit
      if (gasBudget <= 0n) break
    }
    if (senders.size === 0) return
    const rejected = await build.add(senders.keys(), {
      executionBudgetMs: this.options.buildBudgetMs,
      now: this.cpuClock,
      // Waits on disk are not CPU time; validators wait for them all the same.
      wallBudgetMs: WALL_BUDGET_FACTOR * this.options.buildBudgetMs,
      accept: (tx) => !failedSenders.has(senders.get(tx)!),
      onRejected: (tx, error) => {
        failedSenders.add(senders.get(tx)!)
        this.logger?.debug({ tx: tx.hash(), err: error }, 'dropping transaction that cannot run')
      },
    })
    for (const tx of build.included.slice(included.size)) included.add(poolKey(tx))
    for (const { tx } of rejected) this.txpool.drop(poolKey(tx))
  }
}

/** A proposal's state across its fill passes. */
interface FillState {
  build: LedgerBuild
  baseFee: bigint
  gasLimit: bigint
  /** The pool's addition count at the last pass (none yet: -1). */
  poolAdditions: number
  /** Pool keys of the transactions in the block so far. */
  included: Set<string>
  /** Senders whose transaction failed: their later nonces cannot run either. */
  failedSenders: Set<string>
}

/** The pool's key for a transaction (its hash, hex). */
const poolKey = (tx: TypedTransaction): string => bytesToHex(tx.hash())
