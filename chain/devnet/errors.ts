/**
 * Errors of the devnet (DEVNET_*) and of networks of validators on several hosts
 * (NETWORK_*, network-setup.ts). The *_FLAGS_INVALID and *_STATE_INVALID codes are the
 * operator's input; the rest are failures of the processes the devnet runs.
 */
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

export type DevnetErrorCode = ErrorCodeOf<'devnet'>

export class DevnetError extends SidechainError<DevnetErrorCode> {
  override readonly name: string = 'DevnetError'
}

export type NetworkSetupErrorCode = ErrorCodeOf<'network'>

export class NetworkSetupError extends SidechainError<NetworkSetupErrorCode> {
  override readonly name: string = 'NetworkSetupError'
}
