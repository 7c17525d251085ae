/**
 * Consensus data carried in the header's `extraData`, RLP-encoded so the block hash stays
 * the ordinary keccak of the RLP header:
 *
 *   rlp([vanity(32), round, vote, validators, parentCommitRound, parentCommitSeals])
 *
 * - `round`: the QBFT round in which this block was proposed (0 on the happy path).
 * - `vote`: [] or [address(20), 0x01 add | 0x (empty) remove] — one validator-set vote.
 * - `validators`: the full validator list at genesis and on epoch blocks, else [].
 * - `parentCommitRound`: the round in which the parent was committed; its seals sign
 *   (parent hash, that round). It can differ from the parent's own `round`: a block
 *   prepared in one round is re-proposed unchanged (same hash) in a later one.
 * - `parentCommitSeals`: the commit seals that finalized the parent block. A block's own
 *   seals cannot be inside it (they sign its hash), so they travel in the child and are kept
 *   beside the tip (storage `seals`) until the child exists.
 */
import { RLP } from '@ethereumjs/rlp'
import { ConsensusError } from './errors.ts'

export const EXTRA_VANITY_LENGTH = 32
export const ADDRESS_LENGTH = 20
export const SEAL_LENGTH = 65
/** Bounds decoding work on hostile input: 1,000 validators is far above any real set. */
export const MAX_EXTRA_VALIDATORS = 1_000

export interface ValidatorVote {
  address: Uint8Array
  /** true = add the address, false = remove it */
  add: boolean
}

export interface ConsensusExtraData {
  vanity: Uint8Array
  round: number
  vote: ValidatorVote | null
  validators: Uint8Array[]
  parentCommitRound: number
  parentCommitSeals: Uint8Array[]
}

function badExtra(message: string, details?: Record<string, unknown>): ConsensusError {
  return new ConsensusError('CONSENSUS_BAD_EXTRA_DATA', `invalid extraData: ${message}`, {
    details,
  })
}

function encodeUint(value: number): Uint8Array {
  if (value === 0) return new Uint8Array(0)
  const hex = value.toString(16)
  const padded = hex.length % 2 === 0 ? hex : `0${hex}`
  return Uint8Array.from(Buffer.from(padded, 'hex'))
}

function decodeUint(bytes: Uint8Array, field: string): number {
  if (bytes.length === 0) return 0
  if (bytes[0] === 0) throw badExtra(`${field} has a leading zero`)
  if (bytes.length > 4) throw badExtra(`${field} is too large`)
  return Number.parseInt(Buffer.from(bytes).toString('hex'), 16)
}

export function encodeExtraData(extra: ConsensusExtraData): Uint8Array {
  if (extra.vanity.length !== EXTRA_VANITY_LENGTH) throw badExtra('vanity must be 32 bytes')
  const vote =
    extra.vote === null
      ? []
      : [extra.vote.address, extra.vote.add ? Uint8Array.of(1) : new Uint8Array(0)]
  return RLP.encode([
    extra.vanity,
    encodeUint(extra.round),
    vote,
    extra.validators,
    encodeUint(extra.parentCommitRound),
    extra.parentCommitSeals,
  ])
}

export function decodeExtraData(data: Uint8Array): ConsensusExtraData {
  let decoded: unknown
  try {
    decoded = RLP.decode(data)
  } catch (cause) {
    throw new ConsensusError('CONSENSUS_BAD_EXTRA_DATA', 'invalid extraData: not RLP', { cause })
  }
  if (!Array.isArray(decoded) || decoded.length !== 6) throw badExtra('expected a list of 6 items')
  const [vanity, round, vote, validators, parentRound, seals] = decoded as unknown[]
  if (!(vanity instanceof Uint8Array) || vanity.length !== EXTRA_VANITY_LENGTH)
    throw badExtra('vanity must be 32 bytes')
  if (!(round instanceof Uint8Array)) throw badExtra('round must be bytes')
  if (!(parentRound instanceof Uint8Array)) throw badExtra('parent commit round must be bytes')
  if (!Array.isArray(vote)) throw badExtra('vote must be a list')
  let parsedVote: ValidatorVote | null = null
  if (vote.length !== 0) {
    const [address, kind] = vote as unknown[]
    if (vote.length !== 2 || !(address instanceof Uint8Array) || !(kind instanceof Uint8Array)) {
      throw badExtra('vote must be [address, kind]')
    }
    if (address.length !== ADDRESS_LENGTH) throw badExtra('vote address must be 20 bytes')
    if (kind.length > 1 || (kind.length === 1 && kind[0] !== 1))
      throw badExtra('vote kind must be 0x01 or empty')
    parsedVote = { address, add: kind.length === 1 }
  }
  if (!Array.isArray(validators) || validators.length > MAX_EXTRA_VALIDATORS)
    throw badExtra('bad validator list')
  for (const v of validators) {
    if (!(v instanceof Uint8Array) || v.length !== ADDRESS_LENGTH)
      throw badExtra('validator must be 20 bytes')
  }
  if (!Array.isArray(seals) || seals.length > MAX_EXTRA_VALIDATORS) throw badExtra('bad seal list')
  for (const s of seals) {
    if (!(s instanceof Uint8Array) || s.length !== SEAL_LENGTH)
      throw badExtra('seal must be 65 bytes')
  }
  return {
    vanity,
    round: decodeUint(round, 'round'),
    vote: parsedVote,
    validators: validators as Uint8Array[],
    parentCommitRound: decodeUint(parentRound, 'parentCommitRound'),
    parentCommitSeals: seals as Uint8Array[],
  }
}

export function emptyVanity(): Uint8Array {
  return new Uint8Array(EXTRA_VANITY_LENGTH)
}
