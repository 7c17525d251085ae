/**
 * The QBFT consensus engine: pure rules, no I/O. Messages (bytes), timer ticks and height
 * starts go in; messages to broadcast, decisions, evidence and timer deadlines come out
 * through the callbacks in `modules`. Time comes only from the injected clock.
 *
 * Follows the QBFT formal specification (Saltini et al.; ConsenSys qbft-formal-spec):
 * - proposer(h, r) proposes at round 0, or at r > 0 once it holds q ROUND-CHANGEs for r,
 *   re-proposing the block of the highest prepared round among them, if any;
 * - a valid PROPOSAL (current round, or a higher round it justifies) -> PREPARE;
 * - q PREPAREs for the accepted proposal -> prepared (round, block), COMMIT with seal;
 * - q COMMITs with valid seals for a block we hold -> decide (any round of the height: the
 *   seals are the same finality proof that block import and sync check);
 * - round timer expiry (base * 2^r, capped) -> round r+1 and ROUND-CHANGE(r+1, prepared);
 * - f+1 validators' latest ROUND-CHANGEs above our round -> jump to the lowest round among
 *   the f+1 highest (at least one honest validator is there) and send ROUND-CHANGE.
 *
 * Concurrency: every state transition is a synchronous section, so it is atomic in
 * JavaScript. Only the embedder's async hooks (buildBlock, validateBlock)
 * run outside; their continuations re-check that height and round are still current.
 * The engine's own messages are queued and processed through the same path as peers'.
 *
 * Wiring (embedding code):
 * - timers: keep one timer; on `timerSet(deadline)` re-arm it for `deadline` (clock ms) or
 *   clear it on null; when it fires call `onTick()`. Stale ticks are no-ops; an early one
 *   re-announces the same deadline (re-arm again).
 * - gossip: `broadcast(bytes)` publishes on the consensus topic; the topic validator calls
 *   `onMessage(bytes, peerId)` and maps the outcome to ACCEPT / IGNORE / REJECT.
 * - blocks: `blockHash` decodes the header and hashes it; `validateBlock` executes the
 *   block on its parent (cache by hash: the same block may come back re-proposed);
 *   `buildBlock` builds on the head (it may wait for the block timestamp; the engine does
 *   not block while it runs).
 * - decide: import `decision.block` with `decision.commitSeals`, which sign
 *   (hash, decision.round); then, after the block period, `startHeight(height + 1)`.
 *   After sync imports blocks, `startHeight(head + 1)` moves the engine forward too.
 * - consensus record (crash safety): `record(entry)` is called, synchronously, with every
 *   message this validator signs before the message is processed or broadcast; it must
 *   return only once the entry is durable (throw = the message is not sent). After a
 *   restart, `restore()` the entries kept for heights above the stored head before the
 *   first `startHeight`: the engine then resumes in the recorded round with its prepared
 *   certificate (its lock), re-sends what it signed, re-proposes the block it proposed,
 *   and never signs another digest for a (height, round, kind) it signed before. Without
 *   this a restarted validator forgets its lock and two blocks can be final at one height.
 */
import { bytesToHex, equalsBytes, hexToBytes } from '@ethereumjs/util'
import { sha256 } from '../../crypto/index.ts'
import { commitSealDigest, commitSealPreimage } from '../seals.ts'
import { QbftError, type QbftErrorCode, QbftUsageError, type QbftUsageErrorCode } from './errors.ts'
import {
  type CommitMessage,
  decodeMessage,
  decodeSignedPayload,
  encodeMessage,
  encodeSignedPayload,
  type MessageKind,
  type PrepareMessage,
  type PreparePayload,
  type ProposalMessage,
  type ProposalPayload,
  type ProposedBlock,
  payloadKey,
  type QbftAsyncSigner,
  type QbftMessage,
  type RoundChangeMessage,
  recoverAuthor,
  type Signed,
  signPayloadWith,
} from './messages.ts'
import {
  highestPrepared,
  type ProposerPolicy,
  roundRobinProposer,
  roundTimeoutMs,
  type ValidatorSet,
  validatorSet,
  verifyCommitSeal,
  verifyProposalJustification,
  verifyRoundChange,
} from './validation.ts'

export interface QbftBufferLimits {
  /** buffered messages per future height (all authors) */
  perHeight: number
  /** buffered messages per author per future height */
  perAuthor: number
  /**
   * Bytes one author may have buffered over all future heights. Counts alone would let one
   * Byzantine validator park window x perAuthor proposals of maxMessageBytes each (GiBs).
   */
  perAuthorBytes: number
  /** Bytes buffered over all future heights and authors. */
  totalBytes: number
  /**
   * Rounds above (and, for COMMITs, below) the current round whose messages are kept.
   * ROUND-CHANGEs beyond it still count for the f+1 jump (latest one per validator), and a
   * PROPOSAL for any higher round is accepted when its justification holds.
   */
  futureRounds: number
}

export interface QbftOptions {
  /** bound into every message signature: messages cannot be replayed across chains */
  chainId: bigint
  roundTimeoutBaseMs: number
  roundTimeoutMaxMs: number
  /** messages for heights current+1 .. current+window are buffered; beyond: IGNORE */
  futureHeightWindow: number
  bufferLimits: QbftBufferLimits
  /** whole-message cap; must exceed the largest encoded block plus justification */
  maxMessageBytes: number
  /** evidence records kept in memory (oldest dropped first) */
  maxEvidence: number
}

export const DEFAULT_QBFT_OPTIONS = {
  roundTimeoutBaseMs: 4_000,
  roundTimeoutMaxMs: 60_000,
  futureHeightWindow: 8,
  bufferLimits: {
    perHeight: 512,
    perAuthor: 32,
    futureRounds: 10,
    // An honest validator sends one proposal (a block) and a few small votes per height.
    perAuthorBytes: 24 * 1024 * 1024,
    totalBytes: 128 * 1024 * 1024,
  },
  maxMessageBytes: 10 * 1024 * 1024,
  maxEvidence: 1_000,
} as const satisfies Omit<QbftOptions, 'chainId'>

export interface QbftDecision {
  height: bigint
  /** the round whose COMMITs finalized the block: the round the seals sign */
  round: number
  block: ProposedBlock
  /** the valid commit seals collected (>= quorum, distinct validators) */
  commitSeals: Uint8Array[]
  /** their signers, in the same order */
  signers: Uint8Array[]
}

export interface EquivocationEvidence {
  author: Uint8Array
  height: bigint
  round: number
  kind: MessageKind
  /** both signed payloads, `encodeSignedPayload` form: checkable with `verifyEvidence` */
  messages: [Uint8Array, Uint8Array]
  detectedAt: number
  /** the peer that delivered the second message, if the embedder said */
  fromPeer?: string
}

/** A prepared certificate: q PREPAREs for `block` in `round`. The validator's lock. */
export interface QbftPreparedCertificate {
  round: number
  block: ProposedBlock
  prepares: Signed<PreparePayload>[]
}

/**
 * One message this validator signed, as the consensus record holds it (durably) before the
 * message leaves. `digest` is what the message binds: the block digest of a PROPOSAL,
 * PREPARE or COMMIT, the prepared digest of a ROUND-CHANGE (null when it carries none).
 */
export interface QbftRecordEntry {
  height: bigint
  round: number
  kind: MessageKind
  digest: Uint8Array | null
  /** the message exactly as broadcast (encodeMessage) */
  message: Uint8Array
  /** with a COMMIT: the prepared certificate it rests on (a ROUND-CHANGE carries its own) */
  prepared: QbftPreparedCertificate | null
}

/** What a restarted validator gives back to its engine (see `QbftEngine.restore`). */
export interface QbftRestoredState {
  entries: readonly QbftRecordEntry[]
  evidence?: readonly EquivocationEvidence[]
}

export interface ValidatorStats {
  address: Uint8Array
  lastHeight: bigint | null
  lastRound: number | null
  /** clock time of the last authenticated message */
  lastSeenAt: number | null
  /** proposals of theirs we accepted */
  proposalsMade: number
  /** rounds of theirs that timed out here without an accepted proposal */
  proposalsMissed: number
  /** decided heights for which we hold their valid COMMIT */
  commitsIncluded: number
  equivocations: number
}

export interface QbftStatus {
  running: boolean
  height: bigint | null
  round: number | null
  roundStartedAt: number | null
  roundDeadline: number | null
  proposer: Uint8Array | null
  isValidator: boolean
  validators: Uint8Array[]
  prepared: { round: number; digest: Uint8Array } | null
  decided: { round: number; digest: Uint8Array } | null
  decidedHeights: number
  bufferedFutureMessages: number
  /** Bytes of those messages (capped per author and in total). */
  bufferedFutureBytes: number
  evidenceCount: number
  validatorStats: ValidatorStats[]
}

export type MessageOutcome =
  | {
      action: 'ACCEPT'
      kind: MessageKind
      author: Uint8Array
      /** the message's height */
      height: bigint
      /** for a future height: kept until that height starts */
      buffered: boolean
    }
  | { action: 'IGNORE' | 'REJECT'; error: QbftError; kind?: MessageKind; author?: Uint8Array }

/** pino-compatible subset */
export interface QbftLogger {
  debug(obj: Record<string, unknown>, msg: string): void
  warn(obj: Record<string, unknown>, msg: string): void
}

export interface QbftModules {
  /**
   * Signs this validator's messages. A local key answers at once; a remote signer
   * (`remote: true`) answers later, and each request is preceded by an intent entry in the
   * record (see `record`).
   */
  signer: QbftAsyncSigner & { readonly remote?: boolean }
  clock: { now(): number }
  /**
   * Validator list (strictly ascending addresses) for a height. Must answer for the height
   * being started; for later heights return null when not known yet (votes pending).
   */
  validatorsAt(height: bigint): readonly Uint8Array[] | null
  /** default: round robin, validators[(height + round) mod n] */
  proposerPolicy?: ProposerPolicy
  /** digest of an encoded block (header hash); throw if it does not decode */
  blockHash(encoded: Uint8Array): Uint8Array
  /** build a new block to propose at (height, round) */
  buildBlock(height: bigint, round: number): Promise<ProposedBlock>
  /**
   * Full validity of a peer's proposed block at (height, round). `preparedRound` is null for
   * a fresh block (its own round field should equal `round`) and the prepared round when
   * the proposal re-proposes a prepared block unchanged (its round field is the round it
   * was first proposed in, <= preparedRound). Throw = cannot tell now (IGNORE, no penalty).
   */
  validateBlock(
    block: ProposedBlock,
    height: bigint,
    round: number,
    preparedRound: number | null,
  ): Promise<boolean>
  /**
   * Makes a message this validator signed durable before it is sent (see the header): called
   * synchronously before the message is processed or broadcast. Throw = do not send it.
   * With a remote signer it is also called before the request leaves, with an intent entry
   * (`message` empty): after a restart the step stays reserved for that digest.
   * Absent: nothing is recorded (tests, observers).
   */
  record?(entry: QbftRecordEntry): void
  /** send to all peers (the engine already processes its own message) */
  broadcast(message: Uint8Array): void
  decide(decision: QbftDecision): void
  evidence?(evidence: EquivocationEvidence): void
  /** the current round's deadline (clock ms), or null when no timer is needed */
  timerSet?(deadline: number | null): void
  logger?: QbftLogger
}

interface Registered {
  key: string
  signed: Signed
}

interface RoundState {
  readonly round: number
  proposal: Signed<ProposalPayload> | null
  block: ProposedBlock | null
  readonly prepares: Map<string, Signed<PreparePayload>>
  readonly commits: Map<string, CommitMessage['signed']>
  readonly roundChanges: Map<string, RoundChangeMessage>
  /** first valid message per `${kind}:${author}`: duplicate and equivocation detection */
  readonly registry: Map<string, Registered>
  sentCommit: boolean
}

interface PreparedState {
  round: number
  block: ProposedBlock
  prepares: Signed<PreparePayload>[]
}

interface HeightState {
  readonly height: bigint
  readonly set: ValidatorSet
  readonly isValidator: boolean
  round: number
  roundStartedAt: number
  deadline: number | null
  readonly rounds: Map<number, RoundState>
  /** latest (highest-round) valid ROUND-CHANGE per validator: the f+1 jump rule */
  readonly latestRoundChange: Map<string, RoundChangeMessage>
  prepared: PreparedState | null
  decision: QbftDecision | null
  readonly committers: Set<string>
  readonly proposedRounds: Set<number>
  readonly ownBlocks: Set<string>
  /** sha256 of accepted raw messages (a local id, not a protocol hash) */
  readonly seen: Set<string>
  readonly inFlight: Set<string>
  readonly reported: Set<string>
}

interface FutureBucket {
  readonly items: Uint8Array[]
  readonly ids: Set<string>
  readonly perAuthor: Map<string, number>
  /** Bytes of this bucket per author, given back when the bucket goes. */
  readonly bytesByAuthor: Map<string, number>
}

function usageError(code: QbftUsageErrorCode, message: string, details?: Record<string, unknown>) {
  return new QbftUsageError(code, message, { details })
}

function checkOptions(options: QbftOptions): void {
  const positive = (value: number, name: string) => {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw usageError('QBFT_BAD_OPTIONS', `${name} must be a positive integer`, { value })
    }
  }
  positive(options.roundTimeoutBaseMs, 'roundTimeoutBaseMs')
  positive(options.roundTimeoutMaxMs, 'roundTimeoutMaxMs')
  positive(options.futureHeightWindow, 'futureHeightWindow')
  positive(options.bufferLimits.perHeight, 'bufferLimits.perHeight')
  positive(options.bufferLimits.perAuthor, 'bufferLimits.perAuthor')
  positive(options.bufferLimits.futureRounds, 'bufferLimits.futureRounds')
  positive(options.bufferLimits.perAuthorBytes, 'bufferLimits.perAuthorBytes')
  positive(options.bufferLimits.totalBytes, 'bufferLimits.totalBytes')
  positive(options.maxMessageBytes, 'maxMessageBytes')
  positive(options.maxEvidence, 'maxEvidence')
  if (options.roundTimeoutMaxMs < options.roundTimeoutBaseMs) {
    throw usageError('QBFT_BAD_OPTIONS', 'roundTimeoutMaxMs is below roundTimeoutBaseMs')
  }
  if (options.chainId < 0n) throw usageError('QBFT_BAD_OPTIONS', 'chainId must not be negative')
}

/** `f(value)`, at once when `value` is not a promise: local signing stays synchronous. */
function andThen<T, U>(value: T | Promise<T>, f: (value: T) => U | Promise<U>): U | Promise<U> {
  return value instanceof Promise ? value.then(f) : f(value)
}

function ignore(code: QbftErrorCode, message: string): QbftError {
  return new QbftError(code, message)
}

export class QbftEngine {
  readonly #options: QbftOptions
  readonly #modules: QbftModules
  readonly #me: string
  readonly #proposerPolicy: ProposerPolicy
  #running = false
  #height: HeightState | null = null
  #timer: number | null = null
  readonly #future = new Map<bigint, FutureBucket>()
  /** Bytes buffered for future heights, per author and in total. */
  readonly #futureBytesByAuthor = new Map<string, number>()
  #futureBytes = 0
  readonly #stats = new Map<string, ValidatorStats>()
  readonly #evidence: EquivocationEvidence[] = []
  readonly #localQueue: Uint8Array[] = []
  #draining = false
  readonly #pending = new Set<Promise<unknown>>()
  #decidedHeights = 0
  /** restored record entries of heights not started yet */
  readonly #restored = new Map<bigint, QbftRecordEntry[]>()
  /** what this validator signed at the current height, by `${round}:${kind}` */
  readonly #signed = new Map<string, QbftRecordEntry>()
  /**
   * Steps of the current height sent to a remote signer and not (yet) signed, by the same
   * key: the digest is reserved, so no other digest is ever asked for at that step. `failed`
   * means the signer did not answer; only the same digest may be asked for again.
   */
  readonly #reserved = new Map<string, { digest: Uint8Array | null; failed: boolean }>()

  constructor(options: QbftOptions, modules: QbftModules) {
    checkOptions(options)
    this.#options = {
      ...options,
      bufferLimits: { ...options.bufferLimits },
    }
    this.#modules = modules
    this.#me = bytesToHex(modules.signer.address)
    this.#proposerPolicy = modules.proposerPolicy ?? roundRobinProposer
  }

  // ---------------------------------------------------------------- lifecycle and inputs

  /** Idempotent. Messages are processed only while running and after startHeight. */
  start(): void {
    if (this.#running) return
    this.#running = true
    const h = this.#height
    if (h !== null && h.decision === null) this.#setTimer(h.deadline)
  }

  /** Idempotent. Keeps the height state; resolves when in-flight hook calls settled. */
  async stop(): Promise<void> {
    if (this.#running) {
      this.#running = false
      this.#setTimer(null)
    }
    await this.settled()
  }

  get running(): boolean {
    return this.#running
  }

  /**
   * Gives a restarted validator its memory back: the consensus record's entries (what it
   * signed, with its prepared certificate) and the equivocation evidence it had kept. Call
   * before the first `startHeight`. Entries of a height are applied when that height starts;
   * entries of lower heights are dropped then.
   */
  restore(state: QbftRestoredState): void {
    if (this.#height !== null) {
      throw usageError('QBFT_RESTORE_TOO_LATE', 'restore must come before the first startHeight')
    }
    for (const entry of state.entries) {
      const list = this.#restored.get(entry.height) ?? []
      list.push(entry)
      this.#restored.set(entry.height, list)
    }
    for (const evidence of state.evidence ?? []) {
      this.#evidence.push(evidence)
      if (this.#evidence.length > this.#options.maxEvidence) this.#evidence.shift()
      this.#statsOf(bytesToHex(evidence.author)).equivocations++
    }
  }

  /**
   * Starts consensus for `height` (the embedder calls it once the parent is imported and
   * the block period has passed). Abandons the current height; a lower height is a bug.
   */
  startHeight(height: bigint): void {
    if (!this.#running) throw usageError('QBFT_NOT_STARTED', 'engine is not started')
    const current = this.#height
    if (current !== null && height <= current.height) {
      if (height === current.height) return
      throw usageError('QBFT_BAD_HEIGHT', 'startHeight below the current height', {
        height,
        current: current.height,
      })
    }
    const list = this.#modules.validatorsAt(height)
    if (list === null) {
      throw usageError('QBFT_BAD_VALIDATOR_SET', 'no validator set for the started height', {
        height,
      })
    }
    const set = validatorSet(list)
    const now = this.#modules.clock.now()
    const h: HeightState = {
      height,
      set,
      isValidator: set.index.has(this.#me),
      round: 0,
      roundStartedAt: now,
      deadline: now + this.#timeout(0),
      rounds: new Map(),
      latestRoundChange: new Map(),
      prepared: null,
      decision: null,
      committers: new Set(),
      proposedRounds: new Set(),
      ownBlocks: new Set(),
      seen: new Set(),
      inFlight: new Set(),
      reported: new Set(),
    }
    this.#height = h
    for (const address of set.list) this.#statsOf(bytesToHex(address))
    this.#setTimer(h.deadline)
    this.#log('debug', { height, validators: set.list.length }, 'qbft height started')
    this.#signed.clear()
    this.#reserved.clear()
    let restored: QbftRecordEntry[] = []
    for (const [entryHeight, entries] of this.#restored) {
      if (entryHeight === height) restored = entries
      if (entryHeight <= height) this.#restored.delete(entryHeight)
    }
    if (restored.length > 0) this.#resume(h, restored)
    if (
      h.isValidator &&
      h.round === 0 &&
      !h.proposedRounds.has(0) &&
      this.#proposer(h, 0) === this.#me
    ) {
      this.#startProposal(h, 0, [])
    }

    let replay: Uint8Array[] = []
    for (const [bucketHeight, bucket] of this.#future) {
      if (bucketHeight === height) replay = bucket.items
      if (bucketHeight <= height) this.#dropBucket(bucketHeight, bucket)
    }
    for (const bytes of replay) {
      this.#track(
        this.#process(bytes, false).then((outcome) => {
          if (outcome.action !== 'ACCEPT') {
            this.#log('debug', { code: outcome.error.code }, 'buffered qbft message dropped')
          }
        }),
      )
    }
    this.#drainLocal()
  }

  /**
   * Applies the recorded entries of the height just started: back to the highest recorded
   * round, the highest prepared certificate as the lock, the rounds proposed in marked (their
   * block is re-sent, never rebuilt), and everything signed sent again: peers drop what they
   * have, and those that missed it (the crash may have come between record and send) get it.
   */
  #resume(h: HeightState, entries: QbftRecordEntry[]): void {
    let round = 0
    for (const entry of entries) {
      if (entry.message.length === 0) {
        // An intent: the signer was asked and the answer never came back here. Whatever it
        // signed stays the only digest this step may carry.
        const key = `${entry.round}:${entry.kind}`
        if (!this.#signed.has(key)) this.#reserved.set(key, { digest: entry.digest, failed: true })
        round = Math.max(round, entry.round)
        const prepared = entry.prepared
        if (prepared !== null && (h.prepared === null || prepared.round > h.prepared.round)) {
          h.prepared = prepared
        }
        continue
      }
      let message: QbftMessage
      try {
        message = decodeMessage(entry.message, { maxBytes: this.#options.maxMessageBytes })
      } catch (err) {
        this.#log('warn', { err, height: h.height }, 'qbft record entry does not decode; skipped')
        continue
      }
      const { payload } = message.signed
      this.#signed.set(`${payload.round}:${payload.kind}`, entry)
      this.#reserved.delete(`${payload.round}:${payload.kind}`)
      round = Math.max(round, payload.round)
      let prepared: QbftPreparedCertificate | null = null
      if (message.kind === 'PROPOSAL') {
        h.proposedRounds.add(payload.round)
        h.ownBlocks.add(bytesToHex(message.signed.payload.digest))
      } else if (message.kind === 'COMMIT') {
        prepared = entry.prepared
      } else if (message.kind === 'ROUND_CHANGE') {
        const ref = message.signed.payload.prepared
        if (ref !== null && message.preparedBlock !== null) {
          prepared = {
            round: ref.round,
            block: { hash: ref.digest, encoded: message.preparedBlock },
            prepares: message.prepares,
          }
        }
      }
      if (prepared !== null && (h.prepared === null || prepared.round > h.prepared.round)) {
        h.prepared = prepared
      }
    }
    this.#moveToRound(h, round)
    this.#log('debug', { height: h.height, round, entries: entries.length }, 'qbft resumed')
    for (const entry of this.#signed.values()) this.#emitBytes(entry.message)
  }

  /**
   * Validates and processes one message. Never throws for bad input: the outcome says
   * ACCEPT (forward it), IGNORE (drop, no penalty) or REJECT (drop, penalize the peer).
   */
  onMessage(bytes: Uint8Array, fromPeer?: string): Promise<MessageOutcome> {
    return this.#process(bytes, false, fromPeer)
  }

  /**
   * Call at (or after) the deadline announced by timerSet. A stale tick is a no-op; an early
   * one re-announces the deadline through timerSet.
   */
  onTick(): void {
    const h = this.#height
    if (!this.#running || h === null || h.decision !== null || h.deadline === null) return
    if (this.#modules.clock.now() < h.deadline) {
      // Early by our clock. The node's scheduler never fires early, but an embedder's timer
      // might: announce the deadline again so it re-arms. A dropped tick would leave this node
      // in the round until f+1 others pull it out, and under capped timeouts it may never
      // line up with them again.
      const deadline = h.deadline
      this.#output('timerSet', () => this.#modules.timerSet?.(deadline))
      return
    }
    if (!h.rounds.get(h.round)?.proposal) {
      this.#statsOf(this.#proposer(h, h.round)).proposalsMissed++
    }
    const next = h.round + 1
    this.#log('debug', { height: h.height, round: h.round }, 'qbft round timed out')
    this.#moveToRound(h, next)
    if (h.isValidator) this.#sendRoundChange(h, next)
    this.#reevaluate(h)
    this.#drainLocal()
  }

  /** Resolves when no hook call (build, validate) or own-message processing is pending. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  // ----------------------------------------------------------------------------- queries

  status(): QbftStatus {
    const h = this.#height
    return {
      running: this.#running,
      height: h?.height ?? null,
      round: h?.round ?? null,
      roundStartedAt: h?.roundStartedAt ?? null,
      roundDeadline: h?.deadline ?? null,
      proposer: h ? hexToBytes(this.#proposer(h, h.round) as `0x${string}`) : null,
      isValidator: h?.isValidator ?? false,
      validators: h ? [...h.set.list] : [],
      prepared: h?.prepared ? { round: h.prepared.round, digest: h.prepared.block.hash } : null,
      decided: h?.decision ? { round: h.decision.round, digest: h.decision.block.hash } : null,
      decidedHeights: this.#decidedHeights,
      bufferedFutureMessages: [...this.#future.values()].reduce((n, b) => n + b.items.length, 0),
      bufferedFutureBytes: this.#futureBytes,
      evidenceCount: this.#evidence.length,
      validatorStats: [...this.#stats.values()]
        .map((s) => ({ ...s }))
        .sort((a, b) => (bytesToHex(a.address) < bytesToHex(b.address) ? -1 : 1)),
    }
  }

  evidence(): EquivocationEvidence[] {
    return [...this.#evidence]
  }

  // ------------------------------------------------------------------ message processing

  async #process(bytes: Uint8Array, local: boolean, fromPeer?: string): Promise<MessageOutcome> {
    const context: { kind?: MessageKind; author?: Uint8Array } = {}
    try {
      const h = this.#height
      if (!this.#running || h === null) throw ignore('QBFT_NOT_RUNNING', 'engine is not running')
      const message = decodeMessage(bytes, { maxBytes: this.#options.maxMessageBytes })
      context.kind = message.kind
      const { height } = message.signed.payload
      if (height < h.height) throw ignore('QBFT_PAST_HEIGHT', 'message for a past height')
      if (height > h.height + BigInt(this.#options.futureHeightWindow)) {
        throw ignore('QBFT_FUTURE_HEIGHT', 'message beyond the future-height window')
      }
      const id = bytesToHex(sha256(bytes))
      if (h.seen.has(id) || h.inFlight.has(id)) throw ignore('QBFT_DUPLICATE', 'message seen')
      const author = recoverAuthor(message.signed, this.#options.chainId)
      context.author = author
      const authorHex = bytesToHex(author)
      if (height > h.height) {
        this.#bufferFuture(h, height, bytes, id, authorHex)
        this.#noteSeen(authorHex, height, message.signed.payload.round)
        return { action: 'ACCEPT', kind: message.kind, author, height, buffered: true }
      }
      if (!h.set.index.has(authorHex)) {
        throw new QbftError('QBFT_NOT_VALIDATOR', 'author is not a validator at this height', {
          details: { author: authorHex },
        })
      }
      if (h.decision !== null && message.kind !== 'COMMIT') {
        throw ignore('QBFT_HEIGHT_DECIDED', 'height already decided')
      }
      switch (message.kind) {
        case 'PROPOSAL':
          await this.#onProposal(h, message, authorHex, id, local, fromPeer)
          break
        case 'PREPARE':
          this.#onPrepare(h, message, authorHex, fromPeer)
          break
        case 'COMMIT':
          this.#onCommit(h, message, author, authorHex, fromPeer)
          break
        case 'ROUND_CHANGE':
          this.#onRoundChange(h, message, authorHex, fromPeer)
          break
      }
      h.seen.add(id)
      this.#noteSeen(authorHex, height, message.signed.payload.round)
      this.#reevaluate(h)
      return { action: 'ACCEPT', kind: message.kind, author, height, buffered: false }
    } catch (err) {
      if (err instanceof QbftError) return { action: err.action, error: err, ...context }
      throw err
    } finally {
      this.#drainLocal()
    }
  }

  #bufferFuture(
    h: HeightState,
    height: bigint,
    bytes: Uint8Array,
    id: string,
    authorHex: string,
  ): void {
    const known = this.#modules.validatorsAt(height)
    if (known !== null) {
      if (!known.some((v) => bytesToHex(v) === authorHex)) {
        throw new QbftError('QBFT_NOT_VALIDATOR', 'author is not a validator at that height', {
          details: { author: authorHex, height },
        })
      }
    } else if (!h.set.index.has(authorHex)) {
      throw ignore('QBFT_UNKNOWN_AUTHOR', 'future-height author unknown to the current set')
    }
    let bucket = this.#future.get(height)
    if (bucket?.ids.has(id) === true) throw ignore('QBFT_DUPLICATE', 'message already buffered')
    const limits = this.#options.bufferLimits
    const byAuthor = bucket?.perAuthor.get(authorHex) ?? 0
    if ((bucket?.items.length ?? 0) >= limits.perHeight || byAuthor >= limits.perAuthor) {
      throw ignore('QBFT_BUFFER_FULL', 'future-height buffer is full')
    }
    const authorBytes = this.#futureBytesByAuthor.get(authorHex) ?? 0
    if (
      authorBytes + bytes.length > limits.perAuthorBytes ||
      this.#futureBytes + bytes.length > limits.totalBytes
    ) {
      throw ignore('QBFT_BUFFER_FULL', 'future-height buffer is full (bytes)')
    }
    if (bucket === undefined) {
      bucket = { items: [], ids: new Set(), perAuthor: new Map(), bytesByAuthor: new Map() }
      this.#future.set(height, bucket)
    }
    bucket.items.push(bytes)
    bucket.ids.add(id)
    bucket.perAuthor.set(authorHex, byAuthor + 1)
    bucket.bytesByAuthor.set(authorHex, (bucket.bytesByAuthor.get(authorHex) ?? 0) + bytes.length)
    this.#futureBytesByAuthor.set(authorHex, authorBytes + bytes.length)
    this.#futureBytes += bytes.length
  }

  #dropBucket(height: bigint, bucket: FutureBucket): void {
    this.#future.delete(height)
    for (const [author, bytes] of bucket.bytesByAuthor) {
      const left = (this.#futureBytesByAuthor.get(author) ?? 0) - bytes
      if (left > 0) this.#futureBytesByAuthor.set(author, left)
      else this.#futureBytesByAuthor.delete(author)
      this.#futureBytes -= bytes
    }
  }

  async #onProposal(
    h: HeightState,
    message: ProposalMessage,
    authorHex: string,
    id: string,
    local: boolean,
    fromPeer: string | undefined,
  ): Promise<void> {
    const { round, digest } = message.signed.payload
    if (this.#proposer(h, round) !== authorHex) {
      throw new QbftError('QBFT_WRONG_PROPOSER', 'proposal from a validator that is not proposer', {
        details: { round, author: authorHex },
      })
    }
    // Proposals of recent past rounds are still validated and their block remembered (no
    // PREPARE is sent): late COMMITs for that round can then decide the height here.
    if (round < h.round - this.#options.bufferLimits.futureRounds) {
      throw ignore('QBFT_OLD_ROUND', 'proposal for an old round')
    }
    const accepted = h.rounds.get(round)
    if (accepted) this.#checkRegistry(h, accepted, authorHex, message.signed, fromPeer)

    let hash: Uint8Array
    try {
      hash = this.#modules.blockHash(message.block)
    } catch (cause) {
      throw new QbftError('QBFT_BAD_BLOCK', 'proposed block does not decode', { cause })
    }
    if (!equalsBytes(hash, digest)) {
      throw new QbftError('QBFT_BAD_BLOCK', 'proposed block does not hash to the signed digest')
    }
    const block: ProposedBlock = { hash: digest, encoded: message.block }
    const preparedRound = verifyProposalJustification(message, h.set, this.#options.chainId)

    if (!(local && h.ownBlocks.has(bytesToHex(digest)))) {
      h.inFlight.add(id)
      let valid: boolean
      try {
        valid = await this.#modules.validateBlock(block, h.height, round, preparedRound)
      } catch (cause) {
        throw new QbftError('QBFT_BLOCK_UNVERIFIABLE', 'block validation failed to run', { cause })
      } finally {
        h.inFlight.delete(id)
      }
      if (!valid) throw new QbftError('QBFT_BAD_BLOCK', 'proposed block is invalid')
      // The world may have moved on while the block was being validated.
      if (!this.#running) throw ignore('QBFT_NOT_RUNNING', 'engine stopped')
      if (this.#height !== h) throw ignore('QBFT_PAST_HEIGHT', 'height ended during validation')
      if (h.decision !== null) throw ignore('QBFT_HEIGHT_DECIDED', 'height already decided')
      if (round < h.round - this.#options.bufferLimits.futureRounds) {
        throw ignore('QBFT_OLD_ROUND', 'round ended during validation')
      }
    }

    const rs = this.#roundState(h, round)
    this.#register(h, rs, authorHex, message.signed, fromPeer)
    const current = round >= h.round
    if (round > h.round) this.#moveToRound(h, round)
    rs.proposal = message.signed
    rs.block = block
    this.#statsOf(authorHex).proposalsMade++
    if (current && h.isValidator) {
      this.#sign(h, 'PREPARE', round, digest, null, () =>
        andThen(
          signPayloadWith(
            { kind: 'PREPARE', height: h.height, round, digest },
            this.#options.chainId,
            this.#modules.signer,
          ),
          (signed): QbftMessage => ({ kind: 'PREPARE', signed }),
        ),
      )
    }
  }

  #onPrepare(
    h: HeightState,
    message: PrepareMessage,
    authorHex: string,
    fromPeer: string | undefined,
  ): void {
    const { round } = message.signed.payload
    if (round < h.round) throw ignore('QBFT_OLD_ROUND', 'prepare for a past round')
    if (round > h.round + this.#options.bufferLimits.futureRounds) {
      throw ignore('QBFT_FUTURE_ROUND', 'prepare beyond the future-round window')
    }
    const rs = this.#roundState(h, round)
    this.#register(h, rs, authorHex, message.signed, fromPeer)
    rs.prepares.set(authorHex, message.signed)
  }

  #onCommit(
    h: HeightState,
    message: CommitMessage,
    author: Uint8Array,
    authorHex: string,
    fromPeer: string | undefined,
  ): void {
    const { round, digest } = message.signed.payload
    const window = this.#options.bufferLimits.futureRounds
    if (round < h.round - window) throw ignore('QBFT_OLD_ROUND', 'commit for an old round')
    if (round > h.round + window) {
      throw ignore('QBFT_FUTURE_ROUND', 'commit beyond the future-round window')
    }
    verifyCommitSeal(message.signed.payload, author)
    const rs = this.#roundState(h, round)
    this.#register(h, rs, authorHex, message.signed, fromPeer)
    rs.commits.set(authorHex, message.signed)
    const decision = h.decision
    if (
      decision !== null &&
      decision.round === round &&
      equalsBytes(decision.block.hash, digest) &&
      !h.committers.has(authorHex)
    ) {
      h.committers.add(authorHex)
      this.#statsOf(authorHex).commitsIncluded++
    }
  }

  #onRoundChange(
    h: HeightState,
    message: RoundChangeMessage,
    authorHex: string,
    fromPeer: string | undefined,
  ): void {
    const { round } = message.signed.payload
    if (round < h.round) throw ignore('QBFT_OLD_ROUND', 'round change for a past round')
    verifyRoundChange(message, h.set, this.#options.chainId, (encoded) =>
      this.#modules.blockHash(encoded),
    )
    const latest = h.latestRoundChange.get(authorHex)
    if (round <= h.round + this.#options.bufferLimits.futureRounds) {
      const rs = this.#roundState(h, round)
      this.#register(h, rs, authorHex, message.signed, fromPeer)
      rs.roundChanges.set(authorHex, message)
    } else if (latest !== undefined && latest.signed.payload.round >= round) {
      if (latest.signed.payload.round > round) {
        throw ignore('QBFT_OLD_ROUND', 'older than this validator’s latest round change')
      }
      if (payloadKey(latest.signed.payload) === payloadKey(message.signed.payload)) {
        throw ignore('QBFT_DUPLICATE', 'round change already seen')
      }
      this.#reportEquivocation(h, authorHex, latest.signed, message.signed, fromPeer)
    }
    if (latest === undefined || latest.signed.payload.round < round) {
      h.latestRoundChange.set(authorHex, message)
    }
  }

  /** Throws DUPLICATE / EQUIVOCATION against the first valid message of that kind. */
  #checkRegistry(
    h: HeightState,
    rs: RoundState,
    authorHex: string,
    signed: Signed,
    fromPeer: string | undefined,
  ): void {
    const first = rs.registry.get(`${signed.payload.kind}:${authorHex}`)
    if (first === undefined) return
    if (first.key === payloadKey(signed.payload)) {
      throw ignore('QBFT_DUPLICATE', `${signed.payload.kind} already seen`)
    }
    this.#reportEquivocation(h, authorHex, first.signed, signed, fromPeer)
  }

  #register(
    h: HeightState,
    rs: RoundState,
    authorHex: string,
    signed: Signed,
    fromPeer: string | undefined,
  ): void {
    this.#checkRegistry(h, rs, authorHex, signed, fromPeer)
    rs.registry.set(`${signed.payload.kind}:${authorHex}`, {
      key: payloadKey(signed.payload),
      signed,
    })
  }

  #reportEquivocation(
    h: HeightState,
    authorHex: string,
    first: Signed,
    second: Signed,
    fromPeer: string | undefined,
  ): never {
    const { kind, round } = second.payload
    const reportKey = `${kind}:${round}:${authorHex}`
    if (!h.reported.has(reportKey)) {
      h.reported.add(reportKey)
      const evidence: EquivocationEvidence = {
        author: hexToBytes(authorHex as `0x${string}`),
        height: h.height,
        round,
        kind,
        messages: [encodeSignedPayload(first), encodeSignedPayload(second)],
        detectedAt: this.#modules.clock.now(),
        ...(fromPeer === undefined ? {} : { fromPeer }),
      }
      this.#evidence.push(evidence)
      if (this.#evidence.length > this.#options.maxEvidence) this.#evidence.shift()
      this.#statsOf(authorHex).equivocations++
      this.#log('warn', { author: authorHex, height: h.height, round, kind }, 'qbft equivocation')
      this.#output('evidence', () => this.#modules.evidence?.(evidence))
    }
    throw new QbftError('QBFT_EQUIVOCATION', `conflicting ${kind} from the same validator`, {
      details: { author: authorHex, height: h.height, round },
    })
  }

  // ------------------------------------------------------------------------------- rules

  /** Applies every rule whose condition holds until none does. */
  #reevaluate(h: HeightState): void {
    for (;;) {
      if (!this.#running || this.#height !== h || h.decision !== null) return
      if (this.#tryDecide(h)) return
      if (this.#tryRoundChangeJump(h)) continue
      if (this.#tryProposeWithRoundChanges(h)) continue
      if (this.#tryPrepare(h)) continue
      return
    }
  }

  #tryDecide(h: HeightState): boolean {
    for (const rs of h.rounds.values()) {
      const byDigest = new Map<string, string[]>()
      for (const [author, signed] of rs.commits) {
        const digest = bytesToHex(signed.payload.digest)
        const authors = byDigest.get(digest) ?? []
        authors.push(author)
        byDigest.set(digest, authors)
      }
      for (const [digest, authors] of byDigest) {
        if (authors.length < h.set.quorum) continue
        const block = this.#blockFor(h, digest)
        if (block === undefined) continue
        this.#decide(h, rs, block, authors)
        return true
      }
    }
    return false
  }

  #decide(h: HeightState, rs: RoundState, block: ProposedBlock, authors: string[]): void {
    const decision: QbftDecision = {
      height: h.height,
      round: rs.round,
      block,
      commitSeals: authors.map((a) => rs.commits.get(a)!.payload.commitSeal),
      signers: authors.map((a) => hexToBytes(a as `0x${string}`)),
    }
    h.decision = decision
    h.deadline = null
    this.#setTimer(null)
    this.#decidedHeights++
    for (const author of authors) {
      h.committers.add(author)
      this.#statsOf(author).commitsIncluded++
    }
    this.#log('debug', { height: h.height, round: rs.round }, 'qbft decided')
    this.#output('decide', () => this.#modules.decide(decision))
  }

  #tryRoundChangeJump(h: HeightState): boolean {
    const higher: number[] = []
    for (const rc of h.latestRoundChange.values()) {
      if (rc.signed.payload.round > h.round) higher.push(rc.signed.payload.round)
    }
    const f = h.set.maxFaulty
    if (higher.length < f + 1) return false
    higher.sort((a, b) => b - a)
    const target = higher[f]!
    this.#log('debug', { height: h.height, from: h.round, to: target }, 'qbft round jump')
    this.#moveToRound(h, target)
    if (h.isValidator) this.#sendRoundChange(h, target)
    return true
  }

  #tryProposeWithRoundChanges(h: HeightState): boolean {
    if (!h.isValidator) return false
    const rounds = [...h.rounds.keys()].filter((r) => r >= h.round && r > 0).sort((a, b) => a - b)
    for (const round of rounds) {
      const rs = h.rounds.get(round)!
      if (h.proposedRounds.has(round) || rs.roundChanges.size < h.set.quorum) continue
      if (this.#proposer(h, round) !== this.#me) continue
      this.#moveToRound(h, round)
      this.#startProposal(h, round, [...rs.roundChanges.values()])
      return true
    }
    return false
  }

  #tryPrepare(h: HeightState): boolean {
    const rs = h.rounds.get(h.round)
    if (!rs?.proposal || !rs.block || rs.sentCommit) return false
    const digest = rs.proposal.payload.digest
    const matching = [...rs.prepares.values()].filter((p) => equalsBytes(p.payload.digest, digest))
    if (matching.length < h.set.quorum) return false
    rs.sentCommit = true
    const prepared = { round: rs.round, block: rs.block, prepares: matching }
    // A higher lock restored from the record stays: round changes must carry the highest.
    if (h.prepared === null || h.prepared.round <= rs.round) h.prepared = prepared
    if (h.isValidator) {
      this.#sign(h, 'COMMIT', rs.round, digest, prepared, () =>
        andThen(
          this.#modules.signer.sign(
            commitSealDigest(digest, rs.round),
            commitSealPreimage(digest, rs.round),
          ),
          (commitSeal) =>
            andThen(
              signPayloadWith(
                { kind: 'COMMIT', height: h.height, round: rs.round, digest, commitSeal },
                this.#options.chainId,
                this.#modules.signer,
              ),
              (signed): QbftMessage => ({ kind: 'COMMIT', signed }),
            ),
        ),
      )
    }
    return true
  }

  #startProposal(h: HeightState, round: number, roundChanges: RoundChangeMessage[]): void {
    h.proposedRounds.add(round)
    const chosen = highestPrepared(roundChanges.map((m) => ({ payload: m.signed.payload, m })))[0]
      ?.m
    this.#track(this.#propose(h, round, roundChanges, chosen))
  }

  async #propose(
    h: HeightState,
    round: number,
    roundChanges: RoundChangeMessage[],
    chosen: RoundChangeMessage | undefined,
  ): Promise<void> {
    let block: ProposedBlock
    try {
      block =
        chosen === undefined
          ? await this.#modules.buildBlock(h.height, round)
          : { hash: chosen.signed.payload.prepared!.digest, encoded: chosen.preparedBlock! }
    } catch (err) {
      this.#log('warn', { err, height: h.height, round }, 'qbft could not build a proposal')
      return
    }
    if (!this.#running || this.#height !== h || h.decision !== null || h.round !== round) return
    h.ownBlocks.add(bytesToHex(block.hash))
    this.#sign(h, 'PROPOSAL', round, block.hash, null, () =>
      andThen(
        signPayloadWith(
          { kind: 'PROPOSAL', height: h.height, round, digest: block.hash },
          this.#options.chainId,
          this.#modules.signer,
        ),
        (signed): QbftMessage => ({
          kind: 'PROPOSAL',
          signed,
          block: block.encoded,
          roundChanges: roundChanges.map((m) => m.signed),
          prepares: chosen?.prepares ?? [],
        }),
      ),
    )
    this.#drainLocal()
  }

  #sendRoundChange(h: HeightState, round: number): void {
    const prepared = h.prepared
    this.#sign(h, 'ROUND_CHANGE', round, prepared?.block.hash ?? null, null, () =>
      andThen(
        signPayloadWith(
          {
            kind: 'ROUND_CHANGE',
            height: h.height,
            round,
            prepared: prepared ? { round: prepared.round, digest: prepared.block.hash } : null,
          },
          this.#options.chainId,
          this.#modules.signer,
        ),
        (signed): QbftMessage => ({
          kind: 'ROUND_CHANGE',
          signed,
          preparedBlock: prepared ? prepared.block.encoded : null,
          prepares: prepared ? prepared.prepares : [],
        }),
      ),
    )
  }

  #moveToRound(h: HeightState, round: number): void {
    if (round <= h.round) return
    const now = this.#modules.clock.now()
    h.round = round
    h.roundStartedAt = now
    h.deadline = now + this.#timeout(round)
    const window = this.#options.bufferLimits.futureRounds
    for (const r of h.rounds.keys()) if (r < round - window) h.rounds.delete(r)
    // ROUND-CHANGEs that were beyond the window may now be inside it.
    for (const [author, rc] of h.latestRoundChange) {
      const r = rc.signed.payload.round
      if (r < round || r > round + window) continue
      const rs = this.#roundState(h, r)
      const key = `ROUND_CHANGE:${author}`
      if (rs.registry.has(key)) continue
      rs.registry.set(key, { key: payloadKey(rc.signed.payload), signed: rc.signed })
      rs.roundChanges.set(author, rc)
    }
    this.#setTimer(h.deadline)
  }

  // ----------------------------------------------------------------------------- helpers

  #roundState(h: HeightState, round: number): RoundState {
    let rs = h.rounds.get(round)
    if (rs === undefined) {
      rs = {
        round,
        proposal: null,
        block: null,
        prepares: new Map(),
        commits: new Map(),
        roundChanges: new Map(),
        registry: new Map(),
        sentCommit: false,
      }
      h.rounds.set(round, rs)
    }
    return rs
  }

  /** A validated block with this digest from any retained round of the height. */
  #blockFor(h: HeightState, digestHex: string): ProposedBlock | undefined {
    for (const rs of h.rounds.values()) {
      if (rs.block !== null && bytesToHex(rs.block.hash) === digestHex) return rs.block
    }
    return undefined
  }

  /** Who proposes at (height, round) with `validators` (ascending), by this engine's policy. */
  proposerOf(validators: readonly Uint8Array[], height: bigint, round: number): Uint8Array {
    return this.#proposerPolicy(validators, height, round)
  }

  #proposer(h: HeightState, round: number): string {
    return bytesToHex(this.#proposerPolicy(h.set.list, h.height, round))
  }

  #timeout(round: number): number {
    return roundTimeoutMs(round, this.#options.roundTimeoutBaseMs, this.#options.roundTimeoutMaxMs)
  }

  /**
   * The one way a message this validator signs leaves the engine. For a (round, kind) it
   * signed before at this height (restored from the record, or earlier in this run) it
   * does nothing when `digest` is the same (sent already) and refuses otherwise: one
   * validator never signs two digests for one (height, round, kind), whatever it forgot.
   * A new message is recorded first (the embedder makes it durable) and only then sent.
   * With a remote signer the same rules run before the request leaves: an intent entry is
   * recorded, the step is reserved for `digest`, and the answer is recorded and sent when it
   * comes (within the same height; a late answer is dropped). A signer that fails leaves the
   * step reserved: only the same digest may be asked for again.
   */
  #sign(
    h: HeightState,
    kind: MessageKind,
    round: number,
    digest: Uint8Array | null,
    prepared: QbftPreparedCertificate | null,
    make: () => QbftMessage | Promise<QbftMessage>,
  ): boolean {
    const key = `${round}:${kind}`
    const reserved = this.#reserved.get(key)
    const before = this.#signed.get(key) ?? reserved
    if (before !== undefined) {
      const same =
        before.digest === null || digest === null
          ? before.digest === digest
          : equalsBytes(before.digest, digest)
      if (!same) {
        this.#log(
          'warn',
          {
            height: h.height,
            round,
            kind,
            signed: before.digest === null ? null : bytesToHex(before.digest),
            refused: digest === null ? null : bytesToHex(digest),
          },
          'qbft refused to sign another digest for a step it signed before',
        )
        return false
      }
      // Already sent (in this run, or again by #resume after a restart), or being signed.
      if (reserved === undefined || !reserved.failed) return true
    }
    if (this.#modules.signer.remote !== true) {
      const message = make() as QbftMessage
      return this.#sendSigned({
        height: h.height,
        round,
        kind,
        digest,
        message: encodeMessage(message),
        prepared,
      })
    }
    // A remote signer: every safety rule runs here, before the request leaves. The intent is
    // durable first (a restart keeps the step reserved for this digest), then the step is
    // reserved in memory, and only then is the signer asked.
    const intent: QbftRecordEntry = {
      height: h.height,
      round,
      kind,
      digest,
      message: new Uint8Array(0),
      prepared,
    }
    if (reserved === undefined && !this.#recordEntry(intent)) return false
    const reservation = { digest, failed: false }
    this.#reserved.set(key, reservation)
    let pending: Promise<QbftMessage>
    try {
      pending = Promise.resolve(make())
    } catch (err) {
      pending = Promise.reject(err)
    }
    this.#track(
      pending.then(
        (message) => {
          if (!this.#running || this.#height !== h || this.#reserved.get(key) !== reservation) {
            this.#log('debug', { height: h.height, round, kind }, 'qbft signature came too late')
            return
          }
          this.#reserved.delete(key)
          this.#sendSigned({ ...intent, message: encodeMessage(message) })
          this.#drainLocal()
        },
        (err: unknown) => {
          reservation.failed = true
          this.#log(
            'warn',
            { err, height: h.height, round, kind },
            'qbft signer failed; step not sent',
          )
        },
      ),
    )
    return true
  }

  /** Records a signed message (durable) and sends it. False when the record refused it. */
  #sendSigned(entry: QbftRecordEntry): boolean {
    if (!this.#recordEntry(entry)) return false
    this.#signed.set(`${entry.round}:${entry.kind}`, entry)
    this.#emitBytes(entry.message)
    return true
  }

  #recordEntry(entry: QbftRecordEntry): boolean {
    if (this.#modules.record === undefined) return true
    try {
      this.#modules.record(entry)
      return true
    } catch (err) {
      // Not durable, so not sent: as if the message were lost on the way.
      this.#log(
        'warn',
        { err, height: entry.height, round: entry.round, kind: entry.kind },
        'qbft record write failed',
      )
      return false
    }
  }

  #emitBytes(bytes: Uint8Array): void {
    this.#localQueue.push(bytes)
    this.#output('broadcast', () => this.#modules.broadcast(bytes))
  }

  /** Processes the engine's own messages, in order, outside the section that sent them. */
  #drainLocal(): void {
    if (this.#draining) return
    this.#draining = true
    try {
      for (let bytes = this.#localQueue.shift(); bytes; bytes = this.#localQueue.shift()) {
        this.#track(
          this.#process(bytes, true).then((outcome) => {
            if (outcome.action !== 'ACCEPT') {
              // Old rounds: what #resume sends again after a restart for rounds left behind.
              this.#log(
                outcome.error.code === 'QBFT_DUPLICATE' ||
                  outcome.error.code === 'QBFT_HEIGHT_DECIDED' ||
                  outcome.error.code === 'QBFT_OLD_ROUND'
                  ? 'debug'
                  : 'warn',
                { code: outcome.error.code, message: outcome.error.message },
                'own qbft message not accepted',
              )
            }
          }),
        )
      }
    } finally {
      this.#draining = false
    }
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((err: unknown) => {
      this.#log('warn', { err }, 'qbft background task failed')
    })
    this.#pending.add(tracked)
    void tracked.finally(() => this.#pending.delete(tracked))
  }

  #setTimer(deadline: number | null): void {
    if (deadline === this.#timer) return
    this.#timer = deadline
    this.#output('timerSet', () => this.#modules.timerSet?.(deadline))
  }

  #statsOf(authorHex: string): ValidatorStats {
    let stats = this.#stats.get(authorHex)
    if (stats === undefined) {
      stats = {
        address: hexToBytes(authorHex as `0x${string}`),
        lastHeight: null,
        lastRound: null,
        lastSeenAt: null,
        proposalsMade: 0,
        proposalsMissed: 0,
        commitsIncluded: 0,
        equivocations: 0,
      }
      this.#stats.set(authorHex, stats)
    }
    return stats
  }

  #noteSeen(authorHex: string, height: bigint, round: number): void {
    const stats = this.#statsOf(authorHex)
    if (
      stats.lastHeight === null ||
      height > stats.lastHeight ||
      (height === stats.lastHeight && round > (stats.lastRound ?? -1))
    ) {
      stats.lastHeight = height
      stats.lastRound = round
    }
    stats.lastSeenAt = this.#modules.clock.now()
  }

  #output(name: string, call: () => void): void {
    try {
      call()
    } catch (err) {
      this.#log('warn', { err, output: name }, 'qbft output callback threw')
    }
  }

  #log(level: 'debug' | 'warn', obj: Record<string, unknown>, msg: string): void {
    this.#modules.logger?.[level](obj, msg)
  }
}

/**
 * Checks an evidence record on its own: both payloads decode, are signed by `author`, have
 * the same kind, height and round, and differ. For RPC consumers and slashing tooling.
 */
export function verifyEvidence(evidence: EquivocationEvidence, chainId: bigint): boolean {
  try {
    const [a, b] = evidence.messages.map((m) => decodeSignedPayloadSafe(m))
    if (!a || !b) return false
    for (const signed of [a, b]) {
      if (!equalsBytes(recoverAuthor(signed, chainId), evidence.author)) return false
      if (signed.payload.kind !== evidence.kind) return false
      if (signed.payload.height !== evidence.height || signed.payload.round !== evidence.round) {
        return false
      }
    }
    return payloadKey(a.payload) !== payloadKey(b.payload)
  } catch {
    return false
  }
}

function decodeSignedPayloadSafe(bytes: Uint8Array): Signed | null {
  try {
    return decodeSignedPayload(bytes)
  } catch {
    return null
  }
}
