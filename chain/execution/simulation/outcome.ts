/** What a finished (not aborted) simulated run produced, and the error a failed one means. */
import type { RunTxResult } from '@ethereumjs/vm'
import { SimulationError } from './errors.ts'
import { decodeRevertReason, haltMessage } from './revert.ts'

export type CallFailure = { kind: 'revert'; data: Uint8Array } | { kind: 'halt'; message: string }

export interface CallOutcome {
  returnValue: Uint8Array
  /** Gas the transaction would be charged (after refunds, EIP-7623 floor). */
  gasUsed: bigint
  /** Refund counter (for the estimator's optimistic guess). */
  gasRefund: bigint
  /** Undefined on success. */
  failure?: CallFailure
}

/** The failure of an EVM result's exception, if any (revert keeps its data). */
export function failureOf(
  exceptionError: { error: string } | undefined,
  returnValue: Uint8Array,
): CallFailure | undefined {
  if (exceptionError === undefined) return undefined
  return exceptionError.error === 'revert'
    ? { kind: 'revert', data: returnValue }
    : { kind: 'halt', message: haltMessage(exceptionError.error) }
}

export function outcomeOf(result: RunTxResult): CallOutcome {
  const outcome: CallOutcome = {
    returnValue: result.execResult.returnValue,
    gasUsed: result.totalGasSpent,
    gasRefund: result.gasRefund ?? 0n,
  }
  const failure = failureOf(result.execResult.exceptionError, result.execResult.returnValue)
  if (failure !== undefined) outcome.failure = failure
  return outcome
}

/** eth_call's error for a failed run: a revert with its data and reason, or the halt. */
export function failureError(failure: CallFailure): SimulationError {
  if (failure.kind === 'revert') {
    const reason = decodeRevertReason(failure.data)
    return new SimulationError(
      'SIM_REVERTED',
      reason === undefined ? 'execution reverted' : `execution reverted: ${reason}`,
      { revert: { data: failure.data, reason } },
    )
  }
  return new SimulationError('SIM_HALTED', failure.message)
}
