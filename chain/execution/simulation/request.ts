/**
 * The call a client asks to simulate and the unsigned transaction built from it: its
 * sender is whoever the caller says (geth semantics: nonce not checked, no base fee when
 * no fee fields are given, balance checked only for what the call really spends).
 */
import type { Common } from '@ethereumjs/common'
import { createTx, type TypedTransaction } from '@ethereumjs/tx'
import { type Address, bytesToHex, createZeroAddress } from '@ethereumjs/util'
import { preExecutionError, SimulationError } from './errors.ts'

export interface AccessListEntry {
  address: Uint8Array
  storageKeys: Uint8Array[]
}

export interface AuthorizationEntry {
  chainId: bigint
  address: Uint8Array
  nonce: bigint
  yParity: bigint
  r: bigint
  s: bigint
}

/** The transaction-like object of eth_call / eth_estimateGas / debug_traceCall. */
export interface CallRequest {
  from?: Address
  /** `null` in the request means contract creation, same as absent. */
  to?: Address
  gas?: bigint
  gasPrice?: bigint
  maxFeePerGas?: bigint
  maxPriorityFeePerGas?: bigint
  value?: bigint
  data?: Uint8Array
  nonce?: bigint
  accessList?: AccessListEntry[]
  authorizationList?: AuthorizationEntry[]
  type?: number
  chainId?: bigint
}

export interface AccountOverride {
  balance?: bigint
  nonce?: bigint
  code?: Uint8Array
  /** Replaces the whole storage. */
  state?: Array<[Uint8Array, Uint8Array]>
  /** Changes single slots. */
  stateDiff?: Array<[Uint8Array, Uint8Array]>
}

export type StateOverrides = Array<[Address, AccountOverride]>

export interface BlockOverrides {
  number?: bigint
  time?: bigint
  gasLimit?: bigint
  feeRecipient?: Address
  prevRandao?: Uint8Array
  baseFeePerGas?: bigint
}

export interface SimulationOverrides {
  state?: StateOverrides
  block?: BlockOverrides
}

/** A call that names no fee runs without base fee (geth). */
export function noFees(request: CallRequest): boolean {
  return (
    (request.gasPrice ?? 0n) === 0n &&
    (request.maxFeePerGas ?? 0n) === 0n &&
    (request.maxPriorityFeePerGas ?? 0n) === 0n
  )
}

/** An unsigned transaction from `request` whose sender is `request.from` (zero address by default). */
export function buildCallTx(
  request: CallRequest,
  gasLimit: bigint,
  common: Common,
): TypedTransaction {
  if (request.chainId !== undefined && request.chainId !== common.chainId()) {
    throw new SimulationError(
      'SIM_INVALID_REQUEST',
      `invalid chain id ${request.chainId} for this chain (${common.chainId()})`,
    )
  }
  const from = request.from ?? createZeroAddress()
  let maxFeePerGas: bigint
  let maxPriorityFeePerGas: bigint
  if (request.gasPrice !== undefined) {
    maxFeePerGas = request.gasPrice
    maxPriorityFeePerGas = request.gasPrice
  } else {
    maxFeePerGas = request.maxFeePerGas ?? 0n
    maxPriorityFeePerGas = request.maxPriorityFeePerGas ?? 0n
    if (maxPriorityFeePerGas > maxFeePerGas) maxFeePerGas = maxPriorityFeePerGas
  }
  const base = {
    chainId: common.chainId(),
    nonce: request.nonce ?? 0n,
    gasLimit,
    maxFeePerGas,
    maxPriorityFeePerGas,
    to: request.to,
    value: request.value ?? 0n,
    data: request.data ?? new Uint8Array(0),
    accessList: (request.accessList ?? []).map(
      (e) => [e.address, e.storageKeys] as [Uint8Array, Uint8Array[]],
    ),
  }
  let tx: TypedTransaction
  try {
    if (request.authorizationList !== undefined && request.authorizationList.length > 0) {
      if (request.to === undefined)
        throw new SimulationError(
          'SIM_INVALID_REQUEST',
          'invalid argument 0 (transaction): a set-code transaction needs "to"',
        )
      tx = createTx(
        {
          ...base,
          type: 4,
          authorizationList: request.authorizationList.map((a) => ({
            chainId: `0x${a.chainId.toString(16)}`,
            address: bytesToHex(a.address),
            nonce: `0x${a.nonce.toString(16)}`,
            yParity: `0x${a.yParity.toString(16)}`,
            r: `0x${a.r.toString(16)}`,
            s: `0x${a.s.toString(16)}`,
          })),
        } as never,
        { common, freeze: false },
      )
    } else {
      tx = createTx({ ...base, type: 2 } as never, { common, freeze: false })
    }
  } catch (err) {
    throw preExecutionError(err)
  }
  // Impersonation: runTx asks the transaction who sent it.
  Object.defineProperty(tx, 'getSenderAddress', { value: () => from })
  return tx
}
