/**
 * Errors of the consensus rules a block must pass (rules.ts, extra-data.ts, seals.ts): all
 * say the block is invalid. The vote tally also raises STORAGE_CORRUPT (the storage's code)
 * when its stored snapshot does not decode. QBFT message errors are QbftError (qbft/errors.ts).
 */
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

export type ConsensusErrorCode = ErrorCodeOf<'consensus'>

export class ConsensusError extends SidechainError<ConsensusErrorCode | 'STORAGE_CORRUPT'> {
  override readonly name: string = 'ConsensusError'
}
