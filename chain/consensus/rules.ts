/**
 * Consensus rules the ledger needs to accept a block, independent of how blocks are agreed
 * (single validator or QBFT): who may seal a height, who proposes (h, r), and seal checks.
 * The QBFT engine produces blocks; these rules verify them on import and during sync.
 */
import type { BlockHeader } from '@ethereumjs/block'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { ConsensusError, type ConsensusErrorCode } from './errors.ts'
import { type ConsensusExtraData, decodeExtraData } from './extra-data.ts'
import { verifyCommitSeals } from './seals.ts'

export type ConsensusRuleErrorCode = Extract<ConsensusErrorCode, `CONSENSUS_${string}`>

/**
 * The header fields the rules read. A BlockHeader is one; the bridge relayer's light client
 * passes headers it rebuilt from JSON-RPC, so it follows the same rules without a Common.
 */
export type ConsensusHeader = Pick<BlockHeader, 'number' | 'coinbase' | 'extraData' | 'hash'>

/** Validator set at each height. Static today; the QBFT vote tally implements the same shape. */
export interface ValidatorSetSource {
  /** Validators allowed to propose and seal block `number` (sorted ascending). */
  validatorsAt(number: bigint): Uint8Array[]
  /** Called by the ledger after a block is imported, so vote tallies can advance. */
  onBlockImported?(header: BlockHeader, extra: ConsensusExtraData): void
  /**
   * The set's state after `header`, not yet applied: the ledger writes `snapshot` in the
   * block's atomic batch and calls `apply()` once the write succeeded.
   */
  prepareBlock?(
    header: BlockHeader,
    extra: ConsensusExtraData,
  ): { snapshot: Uint8Array; apply(): void }
  /** Restores the state saved with the head block. */
  restore?(snapshot: Uint8Array): void
  /** Epoch blocks reset votes and carry the full validator list. */
  isEpochBlock?(number: bigint): boolean
}

/** Round-robin proposer: validators[(height + round) mod n]. */
export function proposerFor(
  validators: readonly Uint8Array[],
  height: bigint,
  round: number,
): Uint8Array {
  const n = BigInt(validators.length)
  return validators[Number((height + BigInt(round)) % n)]!
}

export function sortValidators(validators: readonly Uint8Array[]): Uint8Array[] {
  return [...validators].sort((a, b) => Buffer.compare(a, b))
}

export class StaticValidatorSet implements ValidatorSetSource {
  private readonly validators: Uint8Array[]
  constructor(validators: readonly Uint8Array[]) {
    this.validators = sortValidators(validators)
  }
  validatorsAt(_number: bigint): Uint8Array[] {
    return this.validators
  }
}

export class ConsensusRules {
  readonly validatorSet: ValidatorSetSource

  constructor(validatorSet: ValidatorSetSource) {
    this.validatorSet = validatorSet
  }

  /**
   * Checks the consensus fields of `header` (child of `parent`): extraData decodes, the
   * coinbase is the proposer of (height, round), and the parent's commit seals carried in
   * it finalize the parent. Returns the decoded extraData.
   */
  verifyHeader(header: ConsensusHeader, parent: ConsensusHeader): ConsensusExtraData {
    const extra = decodeExtraData(header.extraData)
    const validators = this.validatorSet.validatorsAt(header.number)
    const proposer = proposerFor(validators, header.number, extra.round)
    if (!equalsBytes(header.coinbase.bytes, proposer)) {
      throw new ConsensusError(
        'CONSENSUS_WRONG_PROPOSER',
        'block was not proposed by the proposer of its round',
        {
          details: {
            number: header.number,
            round: extra.round,
            coinbase: header.coinbase.toString(),
            expected: bytesToHex(proposer),
          },
        },
      )
    }
    const epoch = this.validatorSet.isEpochBlock?.(header.number) ?? false
    const listed = extra.validators.map((v) => bytesToHex(v)).join(',')
    const expected = epoch ? validators.map((v) => bytesToHex(v)).join(',') : ''
    if (listed !== expected) {
      throw new ConsensusError(
        'CONSENSUS_BAD_VALIDATOR_LIST',
        epoch
          ? 'epoch block must list the current validators'
          : 'only epoch blocks list validators',
        { details: { number: header.number } },
      )
    }
    if (epoch && extra.vote !== null) {
      throw new ConsensusError('CONSENSUS_BAD_VOTE', 'epoch blocks carry no vote', {
        details: { number: header.number },
      })
    }
    if (parent.number === 0n) {
      if (extra.parentCommitSeals.length !== 0 || extra.parentCommitRound !== 0) {
        throw new ConsensusError(
          'CONSENSUS_BAD_PARENT_SEALS',
          'the genesis block has no commit seals',
        )
      }
    } else {
      try {
        verifyCommitSeals(
          parent.hash(),
          extra.parentCommitRound,
          extra.parentCommitSeals,
          this.validatorSet.validatorsAt(parent.number),
          { strict: true },
        )
      } catch (cause) {
        throw new ConsensusError(
          'CONSENSUS_BAD_PARENT_SEALS',
          'parent commit seals in the header are invalid',
          { cause },
        )
      }
    }
    return extra
  }

  /** Checks the seals that finalize `header` itself (kept beside the tip), signed in `round`. */
  verifySeals(header: BlockHeader, round: number, seals: readonly Uint8Array[]): void {
    try {
      verifyCommitSeals(
        header.hash(),
        round,
        seals,
        this.validatorSet.validatorsAt(header.number),
        { strict: true },
      )
    } catch (cause) {
      throw new ConsensusError('CONSENSUS_BAD_SEALS', 'block commit seals are invalid', {
        details: { number: header.number },
        cause,
      })
    }
  }
}
