/**
 * Typed errors of the bridge relayer and user commands. Codes are stable: scripts and tests switch on them, never
 * on message text. The CLI maps codes containing INVALID to exit code 2 (bad input), everything else to 1.
 */
import { SidechainError } from '../../chain/lib/errors.ts'

export type BridgeErrorCode =
  // relayer
  | 'RELAYER_CONFIG_INVALID'
  | 'RELAYER_CHAIN_MISMATCH'
  | 'RELAYER_SPEND_CAP'
  | 'RELAYER_PAYLOAD_CONFLICT'
  | 'RELAYER_TX_REVERTED'
  | 'RELAYER_OUT_OF_GAS'
  | 'RELAYER_TX_LOST'
  | 'RELAYER_INCONSISTENT_VIEW'
  | 'RELAYER_DEEP_REORG'
  | 'RELAYER_STOPPED'
  // user commands
  | 'BRIDGE_ARGUMENT_INVALID'
  | 'BRIDGE_KEY_INVALID'
  | 'BRIDGE_NETWORK_INVALID'
  | 'BRIDGE_INSUFFICIENT_BALANCE'
  | 'BRIDGE_PAUSED'
  | 'BRIDGE_UNKNOWN_TOKEN'
  | 'BRIDGE_BELOW_MINIMUM'
  | 'BRIDGE_OVER_LIMIT'
  | 'BRIDGE_NOT_FOUND'
  | 'BRIDGE_TIMEOUT'
  | 'BRIDGE_TX_REVERTED'
  | 'BRIDGE_TX_DROPPED'
  | 'BRIDGE_INSUFFICIENT_SIGNATURES'
  | 'BRIDGE_AUDIT_MISMATCH'
  | 'BRIDGE_RPC_UNAVAILABLE'

export class BridgeError extends SidechainError<BridgeErrorCode> {
  override readonly name: string = 'BridgeError'
}
