/**
 * Why a simulated call (eth_call, eth_estimateGas, a trace) did not produce a result. The
 * messages are geth's wording, which tools match on; the RPC maps each code to its
 * JSON-RPC error (chain/rpc/errors.ts) and keeps the message.
 */
import type { ErrorCodeOf } from '../../lib/error-codes.ts'
import { SidechainError, type SidechainErrorOptions } from '../../lib/errors.ts'

/**
 * SIM_BUSY: too many executions running and waiting, retry later; SIM_INVALID_REQUEST: the
 * request is malformed for this chain (wrong chain id, set-code without "to"); SIM_TIMEOUT:
 * the wall-clock deadline passed; SIM_REJECTED / SIM_INTRINSIC_GAS_TOO_LOW: refused before
 * execution (funds, fee cap, initcode size, gas limit below the intrinsic gas); SIM_REVERTED:
 * the call reverted (`revert` holds the data and reason); SIM_HALTED: an EVM error (out of
 * gas, invalid opcode...); SIM_GAS_ALLOWANCE_EXCEEDED: no gas limit the sender can afford
 * lets the call succeed; SIM_REPLAY_FAILED: a transaction before the traced one failed to
 * re-execute.
 */
export type SimulationErrorCode = ErrorCodeOf<'simulation'>

export interface RevertInfo {
  data: Uint8Array
  /** Error(string) or Panic(uint256), decoded (see revert.ts). */
  reason?: string
}

export class SimulationError extends SidechainError<SimulationErrorCode> {
  override readonly name = 'SimulationError'
  /** Set for SIM_REVERTED. */
  readonly revert: RevertInfo | undefined

  constructor(
    code: SimulationErrorCode,
    message: string,
    options: SidechainErrorOptions & { revert?: RevertInfo } = {},
  ) {
    super(code, message, options)
    this.revert = options.revert
  }
}

/**
 * Turns a refusal thrown by ethereumjs before execution (createTx, runTx) into the geth
 * message tools know.
 */
export function preExecutionError(err: unknown): SimulationError {
  if (err instanceof SimulationError) return err
  const message = err instanceof Error ? err.message : String(err)
  const rejected = (text: string) => new SimulationError('SIM_REJECTED', text, { cause: err })
  if (/enough funds/.test(message)) return rejected('insufficient funds for gas * price + value')
  if (/INTRINSIC_GAS_TOO_LOW|intrinsic gas|lower than the minimum gas limit/.test(message))
    return new SimulationError('SIM_INTRINSIC_GAS_TOO_LOW', 'intrinsic gas too low', { cause: err })
  if (/is less than the block's baseFeePerGas/.test(message))
    return rejected('max fee per gas less than block base fee')
  if (/EIP-7825|exceeds the maximum allowed/.test(message))
    return rejected('transaction gas limit too high (cap: 16777216)')
  if (/initcode|init code/i.test(message)) return rejected('max initcode size exceeded')
  if (/not EOA/.test(message)) return rejected('sender not an eoa')
  return rejected(message.split(' (')[0]!.slice(0, 200))
}
