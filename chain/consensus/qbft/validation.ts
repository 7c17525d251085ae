/**
 * Pure QBFT validity rules over signed messages and a validator set, following the QBFT
 * formal specification (isValidProposalJustification, validRoundChange, validCommit).
 * Each function throws a QbftError (with its IGNORE/REJECT action) or returns what it
 * recovered. No engine state here: the engine decides *when* a rule applies.
 */
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { recoverAddress } from '../../crypto/index.ts'
import { commitSealDigest, maxFaulty, quorumSize } from '../seals.ts'
import { QbftError, QbftUsageError } from './errors.ts'
import {
  type CommitPayload,
  type PreparePayload,
  type ProposalMessage,
  type RoundChangeMessage,
  type RoundChangePayload,
  recoverAuthor,
  type Signed,
} from './messages.ts'

/** A validator set prepared for membership tests; built once per height. */
export interface ValidatorSet {
  readonly list: readonly Uint8Array[]
  /** lowercase hex address -> index in list */
  readonly index: ReadonlyMap<string, number>
  readonly quorum: number
  readonly maxFaulty: number
}

/** Builds a ValidatorSet; the list must be non-empty, 20-byte addresses, strictly ascending. */
export function validatorSet(list: readonly Uint8Array[]): ValidatorSet {
  if (list.length === 0) {
    throw new QbftUsageError('QBFT_BAD_VALIDATOR_SET', 'empty validator set')
  }
  const index = new Map<string, number>()
  let previous = ''
  list.forEach((address, i) => {
    const hex = bytesToHex(address)
    if (address.length !== 20 || hex <= previous) {
      throw new QbftUsageError(
        'QBFT_BAD_VALIDATOR_SET',
        'validator addresses must be 20 bytes and strictly ascending',
        { details: { index: i, address: hex } },
      )
    }
    previous = hex
    index.set(hex, i)
  })
  return {
    list: [...list],
    index,
    quorum: quorumSize(list.length),
    maxFaulty: maxFaulty(list.length),
  }
}

export type ProposerPolicy = (
  validators: readonly Uint8Array[],
  height: bigint,
  round: number,
) => Uint8Array

/** proposer(h, r) = validators[(h + r) mod n] */
export const roundRobinProposer: ProposerPolicy = (validators, height, round) =>
  validators[Number((height + BigInt(round)) % BigInt(validators.length))]!

/**
 * Recovers every signed message's author and checks they are distinct members, at least
 * quorum and at most n of them. Returns the authors (hex) in order.
 */
function quorumOfAuthors(
  items: readonly Signed[],
  set: ValidatorSet,
  chainId: bigint,
  code: 'QBFT_BAD_JUSTIFICATION' | 'QBFT_BAD_ROUND_CHANGE',
  what: string,
): string[] {
  if (items.length < set.quorum || items.length > set.list.length) {
    throw new QbftError(code, `${what}: ${items.length} messages, need ${set.quorum}`, {
      details: { count: items.length, quorum: set.quorum },
    })
  }
  const authors: string[] = []
  for (const item of items) {
    let author: string
    try {
      author = bytesToHex(recoverAuthor(item, chainId))
    } catch (cause) {
      throw new QbftError(code, `${what}: a signature is invalid`, { cause })
    }
    if (!set.index.has(author)) {
      throw new QbftError(code, `${what}: signed by a non-validator`, { details: { author } })
    }
    if (authors.includes(author)) {
      throw new QbftError(code, `${what}: duplicate author`, { details: { author } })
    }
    authors.push(author)
  }
  return authors
}

/** q PREPAREs from distinct validators, all for exactly (height, round, digest). */
export function verifyPrepareCertificate(
  prepares: readonly Signed<PreparePayload>[],
  expected: { height: bigint; round: number; digest: Uint8Array },
  set: ValidatorSet,
  chainId: bigint,
  code: 'QBFT_BAD_JUSTIFICATION' | 'QBFT_BAD_ROUND_CHANGE',
): void {
  for (const { payload } of prepares) {
    if (
      payload.height !== expected.height ||
      payload.round !== expected.round ||
      !equalsBytes(payload.digest, expected.digest)
    ) {
      throw new QbftError(code, 'prepare certificate does not match the prepared round', {
        details: { round: payload.round, expectedRound: expected.round },
      })
    }
  }
  quorumOfAuthors(prepares, set, chainId, code, 'prepare certificate')
}

/**
 * validRoundChange: round >= 1; a prepared round must be lower than the round, come with
 * its block (hashing to the prepared digest) and q PREPAREs for it.
 */
export function verifyRoundChange(
  message: RoundChangeMessage,
  set: ValidatorSet,
  chainId: bigint,
  blockHash: (encoded: Uint8Array) => Uint8Array,
): void {
  const { height, round, prepared } = message.signed.payload
  if (round === 0) throw new QbftError('QBFT_BAD_ROUND_CHANGE', 'ROUND-CHANGE to round 0')
  if (prepared === null) return
  if (prepared.round >= round) {
    throw new QbftError('QBFT_BAD_ROUND_CHANGE', 'prepared round is not below the target round', {
      details: { round, preparedRound: prepared.round },
    })
  }
  let hash: Uint8Array
  try {
    hash = blockHash(message.preparedBlock!)
  } catch (cause) {
    throw new QbftError('QBFT_BAD_ROUND_CHANGE', 'prepared block does not decode', { cause })
  }
  if (!equalsBytes(hash, prepared.digest)) {
    throw new QbftError('QBFT_BAD_ROUND_CHANGE', 'prepared block does not match prepared digest')
  }
  verifyPrepareCertificate(
    message.prepares,
    { height, round: prepared.round, digest: prepared.digest },
    set,
    chainId,
    'QBFT_BAD_ROUND_CHANGE',
  )
}

/** The round-change payloads whose prepared round is the highest, if any has one. */
export function highestPrepared<T extends { payload: RoundChangePayload }>(
  roundChanges: readonly T[],
): T[] {
  let best = -1
  for (const rc of roundChanges) {
    const p = rc.payload.prepared
    if (p !== null && p.round > best) best = p.round
  }
  if (best < 0) return []
  return roundChanges.filter((rc) => rc.payload.prepared?.round === best)
}

/**
 * isValidProposalJustification. Round 0: no justification. Round r > 0: q..n ROUND-CHANGE
 * payloads for (height, r) from distinct validators; if any reports a prepared round, the
 * proposal must carry the block of the highest prepared round, unchanged (same digest),
 * and PREPAREs certifying it; otherwise there must be no PREPAREs.
 *
 * The block is re-proposed byte for byte, never re-made with a new round: our block hash
 * covers extraData (and so the round), and a node that already decided the block in the
 * earlier round must end up with the same hash as everyone else.
 *
 * Returns the prepared round the proposal re-proposes from, or null for a fresh block.
 */
export function verifyProposalJustification(
  message: ProposalMessage,
  set: ValidatorSet,
  chainId: bigint,
): number | null {
  const { height, round, digest } = message.signed.payload
  if (round === 0) {
    if (message.roundChanges.length !== 0 || message.prepares.length !== 0) {
      throw new QbftError('QBFT_BAD_JUSTIFICATION', 'round-0 proposal carries a justification')
    }
    return null
  }
  for (const { payload } of message.roundChanges) {
    if (payload.height !== height || payload.round !== round) {
      throw new QbftError('QBFT_BAD_JUSTIFICATION', 'round change is for another height or round')
    }
    if (payload.prepared !== null && payload.prepared.round >= round) {
      throw new QbftError('QBFT_BAD_JUSTIFICATION', 'round change prepared round too high')
    }
  }
  quorumOfAuthors(message.roundChanges, set, chainId, 'QBFT_BAD_JUSTIFICATION', 'round changes')
  const highest = highestPrepared(message.roundChanges)
  if (highest.length === 0) {
    if (message.prepares.length !== 0) {
      throw new QbftError('QBFT_BAD_JUSTIFICATION', 'prepares without a prepared round change')
    }
    return null
  }
  const preparedRound = highest[0]!.payload.prepared!.round
  if (!highest.some((rc) => equalsBytes(rc.payload.prepared!.digest, digest))) {
    throw new QbftError(
      'QBFT_BAD_JUSTIFICATION',
      'proposal does not re-propose the block of the highest prepared round',
      { details: { preparedRound } },
    )
  }
  verifyPrepareCertificate(
    message.prepares,
    { height, round: preparedRound, digest },
    set,
    chainId,
    'QBFT_BAD_JUSTIFICATION',
  )
  return preparedRound
}

/** validCommit: the commit seal is the author's signature over (digest, round). */
export function verifyCommitSeal(payload: CommitPayload, author: Uint8Array): void {
  let signer: Uint8Array
  try {
    signer = recoverAddress(commitSealDigest(payload.digest, payload.round), payload.commitSeal)
  } catch (cause) {
    throw new QbftError('QBFT_BAD_COMMIT_SEAL', 'commit seal does not recover', { cause })
  }
  if (!equalsBytes(signer, author)) {
    throw new QbftError('QBFT_BAD_COMMIT_SEAL', 'commit seal is not signed by the author', {
      details: { author: bytesToHex(author), signer: bytesToHex(signer) },
    })
  }
}

/** Round timer for round r: base * 2^r, capped at max. */
export function roundTimeoutMs(round: number, baseMs: number, maxMs: number): number {
  if (round >= 52) return maxMs
  return Math.min(maxMs, baseMs * 2 ** round)
}
