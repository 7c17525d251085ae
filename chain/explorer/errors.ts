import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

export type ExplorerErrorCode = ErrorCodeOf<'explorer'>

/** Errors of the explorer: its options, its index and the RPC node it follows. */
export class ExplorerError extends SidechainError<ExplorerErrorCode> {
  override readonly name = 'ExplorerError'
}

export type VerifyErrorCode = ErrorCodeOf<'verify'>

/**
 * Refusals of a source verification request. The message is what the submitter sees in
 * `checkverifystatus` ("Fail - Unable to verify. <message>"), so it names the reason.
 */
export class VerifyError extends SidechainError<VerifyErrorCode> {
  override readonly name = 'VerifyError'
}
