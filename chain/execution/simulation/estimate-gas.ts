/**
 * eth_estimateGas: the smallest gas limit with which the call succeeds, found by binary
 * search (geth's algorithm: first run at the cap, an optimistic guess from the gas used,
 * then bisection). A call that fails even at the cap is reported like eth_call.
 */
import type { TypedTransaction } from '@ethereumjs/tx'
import { createZeroAddress } from '@ethereumjs/util'
import { SimulationError } from './errors.ts'
import { type CallOutcome, failureError } from './outcome.ts'
import type { CallRequest } from './request.ts'
import type { PreparedVm } from './vm-pool.ts'

/** The runs an estimate makes (the CallSimulator). */
export interface EstimationRuns {
  readonly maxCallGas: bigint
  buildTx(request: CallRequest, gasLimit: bigint, prepared: PreparedVm): TypedTransaction
  runOnce(prepared: PreparedVm, tx: TypedTransaction): Promise<CallOutcome>
}

export async function estimateGasOn(
  runs: EstimationRuns,
  prepared: PreparedVm,
  request: CallRequest,
): Promise<bigint> {
  const exceeds = (gas: bigint) =>
    new SimulationError('SIM_GAS_ALLOWANCE_EXCEEDED', `gas required exceeds allowance (${gas})`)
  let hi =
    request.gas !== undefined && request.gas >= 21_000n
      ? request.gas
      : prepared.block.header.gasLimit
  if (hi > runs.maxCallGas) hi = runs.maxCallGas
  // The sender cannot pay for more gas than its balance allows at the given price.
  const feeCap = request.gasPrice ?? request.maxFeePerGas ?? 0n
  if (feeCap > 0n) {
    const from = request.from ?? createZeroAddress()
    const balance = (await prepared.stateManager.getAccount(from))?.balance ?? 0n
    const value = request.value ?? 0n
    if (value > balance)
      throw new SimulationError('SIM_REJECTED', 'insufficient funds for transfer')
    const allowance = (balance - value) / feeCap
    if (hi > allowance) hi = allowance
  }
  /** The run at `gas`, undefined if that gas limit is refused before execution. */
  const attempt = async (gas: bigint): Promise<CallOutcome | undefined> => {
    let tx: TypedTransaction
    try {
      tx = runs.buildTx(request, gas, prepared)
    } catch (err) {
      if (err instanceof SimulationError && /intrinsic|too high/.test(err.message)) return undefined
      throw err
    }
    try {
      return await runs.runOnce(prepared, tx)
    } catch (err) {
      if (err instanceof SimulationError && err.code === 'SIM_INTRINSIC_GAS_TOO_LOW')
        return undefined
      throw err
    }
  }
  // Plain transfers to accounts without code cost exactly 21000.
  if (
    request.to !== undefined &&
    (request.data === undefined || request.data.length === 0) &&
    request.authorizationList === undefined
  ) {
    const code = await prepared.stateManager.getCode(request.to)
    if (code.length === 0 && hi >= 21_000n) {
      const outcome = await attempt(21_000n)
      if (outcome !== undefined && outcome.failure === undefined) return 21_000n
    }
  }
  const top = await attempt(hi)
  if (top === undefined) throw exceeds(hi)
  if (top.failure?.kind === 'halt' && top.failure.message === 'out of gas') throw exceeds(hi)
  if (top.failure !== undefined) throw failureError(top.failure)
  let lo = top.gasUsed - 1n
  const optimistic = ((top.gasUsed + top.gasRefund + 2300n) * 64n) / 63n
  if (optimistic < hi) {
    const outcome = await attempt(optimistic)
    if (outcome !== undefined && outcome.failure === undefined) hi = optimistic
    else lo = optimistic
  }
  while (lo + 1n < hi) {
    let mid = (hi + lo) / 2n
    if (mid > lo * 2n) mid = lo * 2n
    const outcome = await attempt(mid)
    if (outcome === undefined || outcome.failure !== undefined) lo = mid
    else hi = mid
  }
  return hi
}
