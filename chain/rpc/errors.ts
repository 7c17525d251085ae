/**
 * JSON-RPC errors. `RpcError` is what a handler throws when it means a specific JSON-RPC
 * error; `toRpcError` is the one place where domain errors (txpool, ledger, storage...)
 * become JSON-RPC errors, by their code's row in ERROR_TABLE (chain/lib/error-codes.ts).
 * Anything unexpected becomes -32603 and is logged by the caller. `RpcServiceError` is the
 * server's own failure to start (bad options, port in use), never sent to a client.
 */
import { bytesToHex } from '@ethereumjs/util'
import { SimulationError, type SimulationErrorCode } from '../execution/simulation/errors.ts'
import { type ErrorCodeOf, JSON_RPC_SERVER_ERROR } from '../lib/error-codes.ts'
import { describeError, SidechainError } from '../lib/errors.ts'

export type RpcServiceErrorCode = ErrorCodeOf<'rpc'>

export class RpcServiceError extends SidechainError<RpcServiceErrorCode> {
  override readonly name: string = 'RpcServiceError'
}

export const RPC_ERROR = {
  PARSE: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  /** geth's generic server error: refused transactions, unknown blocks, failed calls. */
  SERVER: JSON_RPC_SERVER_ERROR,
  /** EIP-1474 "limit exceeded": range caps, result caps, subscription caps. */
  LIMIT_EXCEEDED: -32005,
  /** geth's "response too large": a batch's answers past the response byte cap. */
  RESPONSE_TOO_LARGE: -32003,
  /** EIP-1474 "resource not found". */
  RESOURCE_NOT_FOUND: -32001,
  /** Reverted eth_call / eth_estimateGas, with the revert data in `data` (geth, anvil). */
  EXECUTION_REVERTED: 3,
} as const

export class RpcError extends Error {
  override readonly name = 'RpcError'
  readonly code: number
  readonly data: unknown

  constructor(code: number, message: string, data?: unknown) {
    super(message)
    this.code = code
    this.data = data
  }

  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data }
  }
}

export function invalidParams(message: string): RpcError {
  return new RpcError(RPC_ERROR.INVALID_PARAMS, message)
}

export function limitExceeded(message: string): RpcError {
  return new RpcError(RPC_ERROR.LIMIT_EXCEEDED, message)
}

export function serverError(message: string, data?: unknown): RpcError {
  return new RpcError(RPC_ERROR.SERVER, message, data)
}

export function headerNotFound(): RpcError {
  return new RpcError(RPC_ERROR.SERVER, 'header not found')
}

/** Reverted call: "execution reverted[: reason]" with the raw revert data (hex). */
export function executionReverted(reason: string | undefined, data: `0x${string}`): RpcError {
  return new RpcError(
    RPC_ERROR.EXECUTION_REVERTED,
    reason === undefined ? 'execution reverted' : `execution reverted: ${reason}`,
    data,
  )
}

export interface MappedError {
  error: RpcError
  /** True when the error was not an expected, client-caused one (log it). */
  unexpected: boolean
}

/** JSON-RPC code of each simulation failure; the message is the simulation's (geth's wording). */
const SIMULATION_RPC_CODES = {
  SIM_BUSY: RPC_ERROR.LIMIT_EXCEEDED,
  SIM_INVALID_REQUEST: RPC_ERROR.INVALID_PARAMS,
  SIM_TIMEOUT: RPC_ERROR.SERVER,
  SIM_REJECTED: RPC_ERROR.SERVER,
  SIM_INTRINSIC_GAS_TOO_LOW: RPC_ERROR.SERVER,
  SIM_REVERTED: RPC_ERROR.EXECUTION_REVERTED,
  SIM_HALTED: RPC_ERROR.SERVER,
  SIM_GAS_ALLOWANCE_EXCEEDED: RPC_ERROR.SERVER,
  SIM_REPLAY_FAILED: RPC_ERROR.SERVER,
} as const satisfies Record<SimulationErrorCode, number>

function simulationRpcError(err: SimulationError): RpcError {
  if (err.revert !== undefined) {
    return executionReverted(err.revert.reason, bytesToHex(err.revert.data) as `0x${string}`)
  }
  return new RpcError(SIMULATION_RPC_CODES[err.code], err.message)
}

/** The single mapping from anything thrown by a handler to a JSON-RPC error. */
export function toRpcError(err: unknown): MappedError {
  if (err instanceof RpcError) return { error: err, unexpected: false }
  if (err instanceof SimulationError) return { error: simulationRpcError(err), unexpected: false }
  // Exposed codes carry the domain message, already the wording tools match on ("nonce too
  // low", "already known", ...); anything else is ours and reaches the client as -32603.
  const described = describeError(err)
  if (described.rpcExposed) {
    return { error: new RpcError(described.rpcCode, (err as Error).message), unexpected: false }
  }
  return { error: new RpcError(RPC_ERROR.INTERNAL, 'internal error'), unexpected: true }
}
