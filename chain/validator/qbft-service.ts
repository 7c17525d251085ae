/**
 * Runs the pure QBFT engine inside a node: block building and validation through the
 * ledger, decisions imported with their commit seals, the round timer on the node's
 * scheduler, and consensus messages over a transport (the p2p consensus topic, or an
 * in-process hub in tests).
 *
 * Height cadence: after any new head (decided here or imported by sync) the engine starts
 * the next height one block period after the current one started, so the proposer proposes
 * when the period is over and round timers of the next height start then too. Small delays
 * in starting a height do not push the next ones back (scheduleNextHeight). A validator
 * that already holds the next height's proposal (it finished the head later than the
 * others) starts that height at once: it would otherwise stay behind the others' cadence
 * for good, and its own proposals would come late.
 *
 * Early building: the round-0 proposer of the next height does not wait for its slot to
 * build. As soon as the head is imported it opens the block and runs the pool's
 * transactions; when the engine asks for the proposal it adds what arrived since and seals.
 * Building is then off the critical path (validators wait only for validation and votes),
 * and the block still holds every transaction that arrived before the slot. Anything else
 * the ledger must do (a proposal from another validator, a block from sync) abandons it.
 */
import type { Block } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import type { Logger } from 'pino'
import { decodeBlock, type KnownTransactions } from '../codec/decode-block.ts'
import { decodeExtraData } from '../consensus/extra-data.ts'
import {
  DEFAULT_QBFT_OPTIONS,
  type EquivocationEvidence,
  type ProposedBlock,
  type QbftBufferLimits,
  type QbftDecision,
  QbftEngine,
  type QbftStatus,
} from '../consensus/qbft/index.ts'
import { VoteProposals, VoteTally } from '../consensus/validator-votes.ts'
import { keccak256, sign } from '../crypto/index.ts'
import type { BlockExecution } from '../execution/block-executor.ts'
import type { ImportedBlock } from '../ledger/chain-reader.ts'
import type { Ledger } from '../ledger/ledger.ts'
import { type ErrorCode, isSidechainError } from '../lib/errors.ts'
import type { BlockProducer, ProposalInProgress } from '../producer/block-producer.ts'
import type { Scheduler } from '../util/scheduler.ts'
import type { ConsensusRecord } from './consensus-record.ts'
import { type ConsensusEngine, isSigner, type ValidatorKey } from './engine.ts'
import { PREVIEW_TAG, ProposalPreviews } from './speculation.ts'

export type ConsensusVerdict = 'ACCEPT' | 'IGNORE' | 'REJECT'
export type ConsensusMessageHandler = (
  data: Uint8Array,
  fromPeer: string,
) => Promise<ConsensusVerdict>

/** Where consensus messages come from and go to. */
export interface ConsensusTransport {
  attach(handler: ConsensusMessageHandler): ConsensusChannel
}

export interface ConsensusChannel {
  publish(data: Uint8Array): void
  detach(): void
}

export interface QbftServiceOptions {
  chainId: bigint
  /** a local key pair, or a (remote) signer holding the key */
  validatorKey: ValidatorKey
  blockPeriodMs: number
  roundTimeoutMs: number
  roundTimeoutMaxMs: number
  maxMessageBytes?: number
  /** Future-height buffer caps (count and bytes); absent: the engine's defaults. */
  futureBuffer?: Partial<Omit<QbftBufferLimits, 'futureRounds'>>
}

export interface QbftServiceModules {
  ledger: Ledger
  /** This node's validator-set wishes, put into the blocks it proposes. */
  votes?: VoteProposals
  producer: BlockProducer
  scheduler: Scheduler
  transport: ConsensusTransport
  /** The pool: proposals reuse its transaction objects (senders already recovered). */
  knownTransactions?: KnownTransactions
  /**
   * This validator's consensus record (consensus-record.ts): every message it signs is made
   * durable here before it is sent, and the engine is restored from it at start. Absent in
   * tests that do not restart validators.
   */
  record?: Pick<ConsensusRecord, 'entries' | 'evidence' | 'append' | 'addEvidence' | 'prune'>
  logger?: Logger
}

/** Backoff of a decided block's import after a failure: doubling from the first, capped. */
const DECIDED_IMPORT_RETRY_MS = 100
const DECIDED_IMPORT_RETRY_MAX_MS = 5_000

/** Errors that say "not decidable by us now" rather than "this block is invalid". */
/** Import refusals that do not make a proposal invalid: not on our head (yet), or ahead of our clock. */
const UNDECIDABLE = new Set<ErrorCode>([
  'LEDGER_NOT_NEXT_BLOCK',
  'LEDGER_KNOWN_BLOCK',
  'LEDGER_FUTURE_TIMESTAMP',
])

interface EarlyBuild {
  /** Set once the block is open. */
  proposal: ProposalInProgress | undefined
  /** Opening it and the first pass over the pool (never rejects). */
  firstFill: Promise<void>
  /** A later head started another one (or the service stopped): give this one up. */
  superseded: boolean
  /** The first pass is done. */
  filled: boolean
  /** Transactions announced to the validators so far (speculation.ts). */
  announced: number
}

interface PreparedBlock {
  block: Block
  execution?: BlockExecution
}

export class QbftService implements ConsensusEngine {
  private readonly options: QbftServiceOptions
  private readonly ledger: Ledger
  private readonly producer: BlockProducer
  private readonly scheduler: Scheduler
  private readonly transport: ConsensusTransport
  private readonly logger: Logger | undefined
  private readonly knownTransactions: KnownTransactions | undefined
  private readonly votes: VoteProposals
  private readonly record: QbftServiceModules['record']
  readonly engine: QbftEngine
  /** Early blocks announced to validators, and the next proposer's followed (speculation.ts). */
  readonly previews: ProposalPreviews
  private channel: ConsensusChannel | undefined
  private roundTimer: unknown
  private heightTimer: unknown
  /** When the current height started (scheduler ms), for the block cadence. */
  private heightStartedAt = 0
  private running = false
  /** Blocks we built or validated for the current height, by hash. */
  private readonly candidates = new Map<string, PreparedBlock>()
  /** The next height's round-0 block being filled before its slot (see header). */
  private early: EarlyBuild | undefined
  /** Height of the latest proposal that arrived before its height started here. */
  private proposalWaiting: bigint | undefined
  /** Blocks this validator proposed, and how many of them were built early. */
  readonly proposals = { total: 0, early: 0 }
  private readonly onHead: (imported: ImportedBlock) => void

  constructor(options: QbftServiceOptions, modules: QbftServiceModules) {
    this.options = options
    this.ledger = modules.ledger
    this.producer = modules.producer
    this.scheduler = modules.scheduler
    this.transport = modules.transport
    this.logger = modules.logger
    this.knownTransactions = modules.knownTransactions
    this.votes = modules.votes ?? new VoteProposals()
    const record = modules.record
    this.record = record
    const key = options.validatorKey
    this.engine = new QbftEngine(
      {
        ...DEFAULT_QBFT_OPTIONS,
        chainId: options.chainId,
        roundTimeoutBaseMs: options.roundTimeoutMs,
        roundTimeoutMaxMs: options.roundTimeoutMaxMs,
        maxMessageBytes: options.maxMessageBytes ?? DEFAULT_QBFT_OPTIONS.maxMessageBytes,
        bufferLimits: { ...DEFAULT_QBFT_OPTIONS.bufferLimits, ...options.futureBuffer },
      },
      {
        signer: isSigner(key)
          ? key
          : { address: key.address, sign: (hash) => sign(hash, key.privateKey) },
        clock: { now: () => this.scheduler.now() },
        validatorsAt: (height) => this.validatorsAt(height),
        blockHash: (encoded) => blockHashOf(encoded),
        buildBlock: (height, round) => this.buildBlock(height, round),
        validateBlock: (block, height, round, preparedRound) =>
          this.validateBlock(block, height, round, preparedRound),
        ...(record === undefined ? {} : { record: (entry) => record.append(entry) }),
        broadcast: (message) => this.channel?.publish(message),
        decide: (decision) => {
          this.decide(decision).catch((err) =>
            this.logger?.error({ err }, 'importing a decided block failed'),
          )
        },
        evidence: (record) => this.onEvidence(record),
        timerSet: (deadline) => this.setRoundTimer(deadline),
        logger: this.logger,
      },
    )
    this.previews = new ProposalPreviews(
      { chainId: options.chainId, validatorKey: key },
      {
        ledger: this.ledger,
        knownTransactions: this.knownTransactions ?? new Map(),
        nextProposer: () => {
          const height = this.ledger.head.number + 1n
          const validators = this.validatorsAt(height)
          if (validators === null || validators.length === 0) return null
          return this.engine.proposerOf(validators, height, 0)
        },
        publish: (data) => this.channel?.publish(data),
        logger: this.logger,
      },
    )
    this.onHead = (imported) => {
      this.candidates.clear()
      // What this validator signed at or below a stored head can no longer matter.
      // A failure to compact is the record's to log: it must not fail the import that emitted this.
      try {
        this.record?.prune(imported.block.header.number)
      } catch (err) {
        this.logger?.warn({ err }, 'pruning the consensus record failed')
      }
      // Keep the cadence: the next height starts one period after this one started, not one
      // period after it was finalized (which would add consensus latency to every block).
      const next = imported.block.header.number + 1n
      const due = this.heightStartedAt + this.options.blockPeriodMs
      const proposed = this.proposalWaiting === next
      this.scheduleNextHeight(next, proposed ? this.scheduler.now() : due)
      this.buildEarly(next)
    }
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    const record = this.record
    if (record !== undefined && this.engine.status().height === null) {
      record.prune(this.ledger.head.number)
      this.engine.restore({ entries: record.entries(), evidence: record.evidence() })
    }
    this.engine.start()
    this.channel = this.transport.attach((data, from) => this.onMessage(data, from))
    this.ledger.on('head', this.onHead)
    this.scheduleNextHeight(this.ledger.head.number + 1n, this.scheduler.now())
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.ledger.off('head', this.onHead)
    this.channel?.detach()
    this.channel = undefined
    if (this.heightTimer !== undefined) this.scheduler.clearTimeout(this.heightTimer)
    if (this.roundTimer !== undefined) this.scheduler.clearTimeout(this.roundTimer)
    this.heightTimer = undefined
    this.roundTimer = undefined
    const early = this.early
    this.early = undefined
    if (early !== undefined) early.superseded = true
    await early?.firstFill
    await early?.proposal?.abandon()
    await this.previews.stop()
    await this.engine.stop()
  }

  status(): QbftStatus {
    return this.engine.status()
  }

  /** The next height's block being built early, if one is open (observability, tests). */
  earlyBuild(): { height: bigint; filled: boolean; transactions: number } | undefined {
    const proposal = this.early?.proposal
    if (proposal === undefined || !proposal.open) return undefined
    return {
      height: proposal.height,
      filled: this.early!.filled,
      transactions: proposal.transactions,
    }
  }

  evidence(): EquivocationEvidence[] {
    return this.engine.evidence()
  }

  /** Feeds a consensus message from the network; the verdict drives peer scoring. */
  async onMessage(data: Uint8Array, fromPeer: string): Promise<ConsensusVerdict> {
    if (data[0] === PREVIEW_TAG) return this.previews.onMessage(data)
    const outcome = await this.engine.onMessage(data, fromPeer)
    if (
      outcome.action === 'ACCEPT' &&
      outcome.buffered &&
      outcome.kind === 'PROPOSAL' &&
      this.isValidatorAt(outcome.height, outcome.author)
    ) {
      this.proposalWaiting = outcome.height
      // Already past the head we were finishing: start its height now (see header).
      if (outcome.height === this.ledger.head.number + 1n && this.heightTimer !== undefined)
        this.scheduleNextHeight(outcome.height, this.scheduler.now())
    }
    return outcome.action
  }

  private isValidatorAt(height: bigint, address: Uint8Array): boolean {
    return this.validatorsAt(height)?.some((v) => equalsBytes(v, address)) === true
  }

  private validatorsAt(height: bigint): readonly Uint8Array[] | null {
    // Sets are known up to the next block; later ones may change by vote.
    if (height > this.ledger.head.number + 1n) return null
    return this.ledger.rules.validatorSet.validatorsAt(height)
  }

  /**
   * Starts `height` at `startAt` (scheduler ms), or at once if that has passed. A start late
   * by less than a quarter period (a busy event loop, an import that took long) counts as on
   * time for the cadence, so such delays do not add up over heights and the period stays the
   * configured one on average; a later start (round changes, a restart) resets the cadence.
   */
  private scheduleNextHeight(height: bigint, startAt: number): void {
    if (!this.running) return
    if (this.heightTimer !== undefined) this.scheduler.clearTimeout(this.heightTimer)
    this.heightTimer = this.scheduler.setTimeout(
      () => {
        this.heightTimer = undefined
        if (!this.running || this.ledger.head.number + 1n !== height) return
        const current = this.engine.status().height
        if (current !== null && current >= height) return
        const now = this.scheduler.now()
        // A clock stepped back (the timer fired before startAt) records now: startAt would
        // lie in the future and push the next height back by as much.
        const late = now - startAt
        const onTime = late >= 0 && late < this.options.blockPeriodMs / 4
        this.heightStartedAt = onTime ? startAt : now
        this.engine.startHeight(height)
      },
      Math.max(0, startAt - this.scheduler.now()),
    )
  }

  private setRoundTimer(deadline: number | null): void {
    if (this.roundTimer !== undefined) this.scheduler.clearTimeout(this.roundTimer)
    this.roundTimer = undefined
    if (deadline === null || !this.running) return
    this.roundTimer = this.scheduler.setTimeout(
      () => {
        this.roundTimer = undefined
        this.engine.onTick()
      },
      Math.max(0, deadline - this.scheduler.now()),
    )
  }

  /** What goes into our proposal at (height, round) on the current head. */
  private proposalRequest(height: bigint, round: number) {
    const commit = this.ledger.headCommit
    const set = this.ledger.rules.validatorSet
    const tally = set instanceof VoteTally ? set : undefined
    return {
      round,
      coinbase: this.options.validatorKey.address,
      parentCommitRound: commit.round,
      parentCommitSeals: commit.seals,
      vote: tally === undefined ? null : this.votes.voteFor(height, tally),
      validators: set.isEpochBlock?.(height) === true ? set.validatorsAt(height) : [],
    }
  }

  /** Opens the next height's block now if we are its round-0 proposer (see header). */
  private buildEarly(height: bigint): void {
    if (!this.running || this.ledger.head.number + 1n !== height) return
    const validators = this.validatorsAt(height)
    if (validators === null || validators.length === 0) return
    const me = this.options.validatorKey.address
    if (!equalsBytes(this.engine.proposerOf(validators, height, 0), me)) return
    if (this.early !== undefined) this.early.superseded = true
    const early: EarlyBuild = {
      proposal: undefined,
      firstFill: Promise.resolve(),
      superseded: false,
      filled: false,
      announced: 0,
    }
    this.early = early
    early.firstFill = (async () => {
      const proposal = await this.producer.begin(this.proposalRequest(height, 0))
      early.proposal = proposal
      if (!this.running || early.superseded) {
        await proposal.abandon()
        return
      }
      this.scheduleAnnouncements(early)
      await proposal.fill()
      early.filled = true
      if (proposal.open) early.announced = this.previews.announce(proposal, early.announced)
      this.scheduleRefill(early)
    })().catch((err) => {
      // Abandoned (the ledger was needed first) or failed: the slot builds in one go instead.
      this.logger?.debug({ height: Number(height), err }, 'early build dropped')
    })
  }

  /**
   * Announces the early block's transactions every twentieth of a period, also while a pass
   * runs (the executor lets timers in between transactions): validators then execute a long
   * first pass alongside the proposer instead of after it (a backlog, a cold start).
   */
  private scheduleAnnouncements(early: EarlyBuild): void {
    const interval = Math.max(10, Math.floor(this.options.blockPeriodMs / 20))
    this.scheduler.setTimeout(() => {
      const proposal = early.proposal
      if (this.early !== early || proposal === undefined || !proposal.open) return
      early.announced = this.previews.announce(proposal, early.announced)
      this.scheduleAnnouncements(early)
    }, interval)
  }

  /**
   * Runs the pool's new arrivals into the early block every twentieth of a period while it
   * waits (as often as it announces), so that little is left for the pass at the slot:
   * validators run what that pass adds after the proposal arrives, on the critical path.
   */
  private scheduleRefill(early: EarlyBuild): void {
    const interval = Math.max(20, Math.floor(this.options.blockPeriodMs / 20))
    this.scheduler.setTimeout(() => {
      const proposal = early.proposal
      // Taken for the slot, replaced by a later head's, or abandoned: nothing more to add.
      if (this.early !== early || proposal === undefined || !proposal.open) return
      proposal
        .fill()
        .then(() => {
          if (this.early === early && proposal.open)
            early.announced = this.previews.announce(proposal, early.announced)
          this.scheduleRefill(early)
        })
        .catch((err) => {
          this.logger?.debug({ err }, 'early build dropped')
        })
    }, interval)
  }

  /** The early block for (height, round), if one is open on the current head. */
  private async takeEarly(height: bigint, round: number): Promise<ProposalInProgress | undefined> {
    const early = this.early
    if (early === undefined) return undefined
    this.early = undefined
    await early.firstFill
    const { proposal } = early
    if (proposal === undefined) return undefined
    // On the current head (buildBlock checked the height) and for this round.
    const fits =
      proposal.open &&
      proposal.round === round &&
      equalsBytes(proposal.parentHash, this.ledger.head.hash())
    if (fits) return proposal
    this.logger?.debug(
      {
        height: Number(height),
        round,
        open: proposal.open,
        builtFor: Number(proposal.height),
        builtRound: proposal.round,
      },
      'early build not usable',
    )
    await proposal.abandon()
    return undefined
  }

  private async buildBlock(height: bigint, round: number): Promise<ProposedBlock> {
    if (this.ledger.head.number + 1n !== height) {
      throw new Error(`cannot build height ${height}: head is ${this.ledger.head.number}`)
    }
    const buildStarted = this.scheduler.now()
    const early = await this.takeEarly(height, round)
    let built: Awaited<ReturnType<BlockProducer['propose']>> | undefined
    if (early !== undefined) {
      built = await early.finish().catch((err) => {
        if (isSidechainError(err, 'LEDGER_BUILD_ABANDONED')) return undefined
        throw err
      })
    }
    const fromEarly = built !== undefined
    built ??= await this.producer.propose(this.proposalRequest(height, round))
    const { block, execution } = built
    this.proposals.total++
    if (fromEarly) this.proposals.early++
    const hash = block.hash()
    this.candidates.set(bytesToHex(hash), { block, execution })
    this.logger?.debug(
      {
        height: Number(height),
        round,
        txs: block.transactions.length,
        early: fromEarly,
        buildMs: this.scheduler.now() - buildStarted,
        // Time the transactions took to run; at the build budget the block is full.
        executionMs: Math.round(built.executionMs),
      },
      'proposing block',
    )
    return { hash, encoded: block.serialize() }
  }

  private async validateBlock(
    proposed: ProposedBlock,
    height: bigint,
    round: number,
    preparedRound: number | null,
  ): Promise<boolean> {
    const key = bytesToHex(proposed.hash)
    if (this.candidates.has(key)) return true
    let block: Block
    try {
      block = decodeBlock(proposed.encoded, this.ledger.common, this.knownTransactions)
    } catch {
      return false
    }
    if (!equalsBytes(block.hash(), proposed.hash) || block.header.number !== height) return false
    if (this.ledger.head.number + 1n !== height)
      throw new Error('proposal is not for the next block; cannot validate now')
    const blockRound = decodeExtraData(block.header.extraData).round
    if (preparedRound === null ? blockRound !== round : blockRound > preparedRound) return false
    try {
      const validationStarted = this.scheduler.now()
      const aheadBefore = this.ledger.speculativeValidations.used
      const execution = await this.ledger.validateBlock(block)
      this.candidates.set(key, { block, execution })
      this.logger?.debug(
        {
          height: Number(height),
          round,
          txs: block.transactions.length,
          executionMs: this.scheduler.now() - validationStarted,
          executedAhead: this.ledger.speculativeValidations.used > aheadBefore,
          sinceHeightStartMs: this.scheduler.now() - this.heightStartedAt,
        },
        'validated proposal',
      )
      return true
    } catch (err) {
      if (isSidechainError(err) && UNDECIDABLE.has(err.code)) throw err
      this.logger?.warn({ height: Number(height), round, err }, 'invalid proposal')
      return false
    }
  }

  /**
   * Imports a decided block. A failed import (a full or failing disk) is retried with
   * backoff until it succeeds, the head reaches the height some other way (sync), or the
   * service stops: the engine counts the height as decided and runs no timer for it, so
   * without a retry the node would stall until restarted. Failures are logged at attempts
   * 1, 2, 4, 8, ... so a long outage writes few lines (health and metrics show it).
   */
  private async decide(decision: QbftDecision): Promise<void> {
    const key = bytesToHex(decision.block.hash)
    const prepared = this.candidates.get(key)
    const block =
      prepared?.block ??
      decodeBlock(decision.block.encoded, this.ledger.common, this.knownTransactions)
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ledger.importBlock(block, {
          seals: decision.commitSeals,
          sealRound: decision.round,
          execution: prepared?.execution,
        })
        this.logger?.info(
          {
            number: Number(decision.height),
            round: decision.round,
            txs: block.transactions.length,
            seals: decision.commitSeals.length,
            hash: key,
            sinceHeightStartMs: this.scheduler.now() - this.heightStartedAt,
            ...(attempt > 1 ? { attempts: attempt } : {}),
          },
          'finalized block',
        )
        return
      } catch (err) {
        if (isSidechainError(err, 'LEDGER_KNOWN_BLOCK')) return
        if (!this.running || this.ledger.head.number >= decision.height) return
        const delayMs = Math.min(
          DECIDED_IMPORT_RETRY_MS * 2 ** Math.min(attempt - 1, 16),
          DECIDED_IMPORT_RETRY_MAX_MS,
        )
        if ((attempt & (attempt - 1)) === 0) {
          this.logger?.error(
            {
              number: Number(decision.height),
              attempt,
              retryInMs: delayMs,
              err,
            },
            'importing a decided block failed; retrying',
          )
        }
        await new Promise<void>((resolve) => this.scheduler.setTimeout(resolve, delayMs))
        if (!this.running || this.ledger.head.number >= decision.height) return
      }
    }
  }

  private onEvidence(record: EquivocationEvidence): void {
    try {
      this.record?.addEvidence(record)
    } catch (err) {
      this.logger?.warn({ err }, 'keeping equivocation evidence failed')
    }
    this.logger?.warn(
      {
        author: bytesToHex(record.author),
        height: Number(record.height),
        round: record.round,
        kind: record.kind,
      },
      'validator equivocated',
    )
  }
}

/** Header hash of an RLP-encoded block, without decoding its transactions. */
export function blockHashOf(encoded: Uint8Array): Uint8Array {
  const decoded = RLP.decode(encoded) as unknown
  if (!Array.isArray(decoded) || !Array.isArray(decoded[0])) throw new Error('not an RLP block')
  return keccak256(RLP.encode(decoded[0] as Uint8Array[]))
}

/** Delivers consensus messages between services in one process (tests, simulations). */
export class LocalConsensusHub {
  private readonly members = new Map<
    string,
    { handler: ConsensusMessageHandler; online: boolean }
  >()
  private nextId = 0

  transport(name?: string): ConsensusTransport & { readonly id: string } {
    const id = name ?? `member-${this.nextId++}`
    return {
      id,
      attach: (handler) => {
        this.members.set(id, { handler, online: true })
        return {
          publish: (data) => this.deliver(id, data),
          detach: () => {
            this.members.delete(id)
          },
        }
      },
    }
  }

  /** Cut a member off (messages to and from it are dropped) or bring it back. */
  setOnline(id: string, online: boolean): void {
    const member = this.members.get(id)
    if (member !== undefined) member.online = online
  }

  private deliver(from: string, data: Uint8Array): void {
    const sender = this.members.get(from)
    if (sender === undefined || !sender.online) return
    for (const [id, member] of this.members) {
      if (id === from || !member.online) continue
      queueMicrotask(() => {
        member.handler(data, from).catch(() => undefined)
      })
    }
  }
}
