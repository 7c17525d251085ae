/**
 * Gossip rule for transactions: a gossiped transaction is ACCEPTed (forwarded) when the pool
 * takes it. Refusals map to a gossip action by code:
 * - REJECT: the bytes can never be a valid transaction for this chain (bad encoding,
 *   signature, high-s, wrong chain id, over the size cap); the relaying peer is penalized;
 * - IGNORE: everything that depends on our state or policy (already known, nonce too low,
 *   funds, pool full, underpriced replacement...), which honest peers can disagree on.
 */
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'
import type { TxPoolErrorCode } from './errors.ts'
import type { PoolTx } from './txpool.ts'

export type TxGossipAction = 'IGNORE' | 'REJECT'

/** A pool verdict, or TX_UNEXPECTED: the pool failed for a reason of its own (IGNORE). */
export type TxGossipErrorCode = TxPoolErrorCode | ErrorCodeOf<'txGossip'>

export const TX_GOSSIP_ACTIONS = {
  TX_INVALID_ENCODING: 'REJECT',
  TX_OVERSIZED: 'REJECT',
  TX_WRONG_CHAIN_ID: 'REJECT',
  TX_HIGH_S: 'REJECT',
  TX_INVALID_SIGNATURE: 'REJECT',
  TX_UNSUPPORTED_TYPE: 'IGNORE',
  TX_UNPROTECTED: 'IGNORE',
  TX_NONCE_TOO_LOW: 'IGNORE',
  TX_NONCE_TOO_HIGH: 'IGNORE',
  TX_INSUFFICIENT_FUNDS: 'IGNORE',
  TX_INTRINSIC_GAS_TOO_LOW: 'IGNORE',
  TX_GAS_LIMIT_EXCEEDED: 'IGNORE',
  TX_FEE_CAP_TOO_LOW: 'IGNORE',
  TX_TIP_ABOVE_FEE_CAP: 'IGNORE',
  TX_ALREADY_KNOWN: 'IGNORE',
  TX_REPLACEMENT_UNDERPRICED: 'IGNORE',
  TX_POOL_FULL: 'IGNORE',
  TX_SENDER_LIMIT: 'IGNORE',
} as const satisfies Record<TxPoolErrorCode, TxGossipAction>

export class TxGossipError extends SidechainError<TxGossipErrorCode> {
  override readonly name: string = 'TxGossipError'
  readonly action: TxGossipAction

  constructor(action: TxGossipAction, code: TxGossipErrorCode, message: string, cause: unknown) {
    super(code, message, { cause })
    this.action = action
  }
}

/** The pool as gossip sees it. */
export interface GossipTxSink {
  addRaw(raw: Uint8Array, origin: 'gossip'): Promise<PoolTx>
}

/** Adds a gossiped transaction to the pool; throws TxGossipError (with its action) if refused. */
export async function validateGossipTransaction(
  pool: GossipTxSink,
  raw: Uint8Array,
): Promise<PoolTx> {
  try {
    return await pool.addRaw(raw, 'gossip')
  } catch (err) {
    if (err instanceof SidechainError && err.code in TX_GOSSIP_ACTIONS) {
      const code = err.code as TxPoolErrorCode
      throw new TxGossipError(TX_GOSSIP_ACTIONS[code], code, err.message, err)
    }
    // Not a pool verdict (a bug or a state read failure): not the peer's fault.
    throw new TxGossipError(
      'IGNORE',
      'TX_UNEXPECTED',
      err instanceof Error ? err.message : String(err),
      err,
    )
  }
}
