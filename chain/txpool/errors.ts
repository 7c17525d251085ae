import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

/** Stable codes for refused transactions; RPC maps them to the usual -32000 messages. */
export type TxPoolErrorCode = ErrorCodeOf<'txpool'>

export class TxPoolError extends SidechainError<TxPoolErrorCode> {
  override readonly name = 'TxPoolError'
}
