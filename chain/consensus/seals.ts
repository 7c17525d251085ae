/**
 * Commit seals: a validator's signature over (block hash, round). q valid seals from
 * distinct members of the validator set of the block's height finalize the block. Used by
 * the consensus engine, by block import and by sync, so the rule lives in one place.
 */
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex } from '@ethereumjs/util'
import { keccak256, recoverAddress, sign } from '../crypto/index.ts'
import { ConsensusError, type ConsensusErrorCode } from './errors.ts'

/** f = floor((n-1)/3) faulty validators tolerated. */
export function maxFaulty(validatorCount: number): number {
  return Math.floor((validatorCount - 1) / 3)
}

/** q = ceil(2n/3) matching messages needed to prepare or commit. */
export function quorumSize(validatorCount: number): number {
  return Math.ceil((2 * validatorCount) / 3)
}

function roundBytes(round: number): Uint8Array {
  if (round === 0) return new Uint8Array(0)
  const hex = round.toString(16)
  return Uint8Array.from(Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex'))
}

/** The 32-byte message a commit seal signs. Domain-separated from other signed messages. */
export function commitSealDigest(blockHash: Uint8Array, round: number): Uint8Array {
  return keccak256(commitSealPreimage(blockHash, round))
}

/** What a commit seal's digest hashes (a remote signer is sent this and hashes it itself). */
export function commitSealPreimage(blockHash: Uint8Array, round: number): Uint8Array {
  return RLP.encode([
    Uint8Array.from(Buffer.from('qbft-commit-seal')),
    blockHash,
    roundBytes(round),
  ])
}

export function signCommitSeal(
  blockHash: Uint8Array,
  round: number,
  privateKey: Uint8Array,
): Uint8Array {
  return sign(commitSealDigest(blockHash, round), privateKey)
}

export type SealErrorCode = Extract<ConsensusErrorCode, `SEAL_${string}`>

/**
 * Recovers every seal's signer and checks that at least quorum(n) distinct validators
 * signed. Bad, duplicate and non-member seals never count; with `strict` any of them is an
 * error (block import: a block carrying junk seals is invalid), otherwise they are skipped.
 * Returns the distinct signer addresses (lowercase hex) that counted.
 */
export function verifyCommitSeals(
  blockHash: Uint8Array,
  round: number,
  seals: readonly Uint8Array[],
  validators: readonly Uint8Array[],
  options: { strict?: boolean } = {},
): string[] {
  const members = new Set<string>(validators.map((v) => bytesToHex(v)))
  const digest = commitSealDigest(blockHash, round)
  const signers = new Set<string>()
  for (const seal of seals) {
    let signer: string
    try {
      signer = bytesToHex(recoverAddress(digest, seal))
    } catch (cause) {
      if (options.strict)
        throw new ConsensusError('SEAL_INVALID_SIGNATURE', 'commit seal has an invalid signature', {
          cause,
        })
      continue
    }
    if (!members.has(signer)) {
      if (options.strict)
        throw new ConsensusError('SEAL_NOT_VALIDATOR', 'commit seal from a non-validator', {
          details: { signer },
        })
      continue
    }
    if (signers.has(signer)) {
      if (options.strict)
        throw new ConsensusError('SEAL_DUPLICATE_SIGNER', 'duplicate commit seal', {
          details: { signer },
        })
      continue
    }
    signers.add(signer)
  }
  const needed = quorumSize(validators.length)
  if (signers.size < needed) {
    throw new ConsensusError(
      'SEAL_INSUFFICIENT',
      `block has ${signers.size} valid commit seals, needs ${needed}`,
      {
        details: { blockHash: bytesToHex(blockHash), valid: signers.size, needed },
      },
    )
  }
  return [...signers]
}
