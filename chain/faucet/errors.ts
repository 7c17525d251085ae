import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

export type FaucetErrorCode = ErrorCodeOf<'faucet'>

export class FaucetError extends SidechainError<FaucetErrorCode> {
  override readonly name = 'FaucetError'
}
