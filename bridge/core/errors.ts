/**
 * Typed errors of the bridge relayer and user commands. Codes are stable: scripts and tests switch on them, never
 * on message text. The codes are declared in chain/lib/error-codes.ts, whose table gives each its CLI exit code
 * (2 for bad input: the *_INVALID codes and RELAYER_CHAIN_MISMATCH, 1 for everything else).
 */
import type { ErrorCodeOf } from '../../chain/lib/error-codes.ts'
import { SidechainError } from '../../chain/lib/errors.ts'

/** The relayer's codes (RELAYER_*) and the user commands' (BRIDGE_*). */
export type BridgeErrorCode = ErrorCodeOf<'relayer'> | ErrorCodeOf<'bridge'>

export class BridgeError extends SidechainError<BridgeErrorCode> {
  override readonly name: string = 'BridgeError'
}
