import { SidechainError } from '../lib/errors.ts'

/** Stable codes for refused transactions; RPC maps them to the usual -32000 messages. */
export type TxPoolErrorCode =
  | 'TX_INVALID_ENCODING'
  | 'TX_OVERSIZED'
  | 'TX_UNSUPPORTED_TYPE'
  | 'TX_WRONG_CHAIN_ID'
  | 'TX_UNPROTECTED'
  | 'TX_HIGH_S'
  | 'TX_INVALID_SIGNATURE'
  | 'TX_NONCE_TOO_LOW'
  | 'TX_NONCE_TOO_HIGH'
  | 'TX_INSUFFICIENT_FUNDS'
  | 'TX_INTRINSIC_GAS_TOO_LOW'
  | 'TX_GAS_LIMIT_EXCEEDED'
  | 'TX_FEE_CAP_TOO_LOW'
  | 'TX_TIP_ABOVE_FEE_CAP'
  | 'TX_ALREADY_KNOWN'
  | 'TX_REPLACEMENT_UNDERPRICED'
  | 'TX_POOL_FULL'
  | 'TX_SENDER_LIMIT'

export class TxPoolError extends SidechainError<TxPoolErrorCode> {
  override readonly name = 'TxPoolError'
}
