/** Errors of genesis files: all are the operator's input (CLI exit code 2). */
import type { ErrorCodeOf } from '../chain/lib/error-codes.ts'
import { SidechainError } from '../chain/lib/errors.ts'

export type GenesisErrorCode = ErrorCodeOf<'genesis'>

export class GenesisError extends SidechainError<GenesisErrorCode> {
  override readonly name: string = 'GenesisError'
}
