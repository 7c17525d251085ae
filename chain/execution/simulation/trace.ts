/**
 * Traced runs for the debug tracers: the EVM's step and message hooks handed to a tracer
 * for one transaction, and the plain re-execution of the transactions before it in its
 * block. The tracers themselves (what geth's struct logger and callTracer output) live
 * with the RPC; they see only the event types below.
 */
import type { Block } from '@ethereumjs/block'
import type { InterpreterStep, Message } from '@ethereumjs/evm'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'
import { runTx } from '@ethereumjs/vm'
import { ExecutionTimeout, timeoutError } from './deadline.ts'
import { preExecutionError, SimulationError } from './errors.ts'
import { type CallOutcome, outcomeOf } from './outcome.ts'
import type { PreparedVm } from './vm-pool.ts'

export type TraceStep = InterpreterStep
export type TraceMessage = Message

export interface TraceMessageResult {
  createdAddress?: Address
  execResult: {
    returnValue: Uint8Array
    executionGasUsed: bigint
    exceptionError?: { error: string }
  }
}

export interface TraceEvents {
  on(event: 'step', listener: (step: TraceStep) => void): void
  on(event: 'beforeMessage', listener: (message: TraceMessage) => void): void
  on(event: 'afterMessage', listener: (result: TraceMessageResult) => void): void
}

/** Watches one run through the EVM's hooks; its own errors abort the run and reach the caller. */
export interface TraceHooks {
  attach(events: TraceEvents): void
}

interface EvmEventEmitter {
  on(event: string, listener: (value: never) => void): void
  removeAllListeners(event?: string): void
}

/** Marks an error thrown by a tracer hook, to tell it apart from ethereumjs' refusals. */
class HookError extends Error {
  override readonly name = 'HookError'
}

/**
 * Runs `tx` on the prepared VM with `hooks` attached (state changes stay: a block's
 * transactions are traced in order). `isCall`: a simulated call, whose nonce is not
 * checked.
 */
export async function runTraced(
  prepared: PreparedVm,
  block: Block,
  tx: TypedTransaction,
  hooks: TraceHooks,
  isCall: boolean,
): Promise<CallOutcome> {
  const events = (prepared.vm.evm as unknown as { events: EvmEventEmitter }).events
  hooks.attach({
    on(event: string, listener: (value: never) => void) {
      // One parameter: ethereumjs awaits two-parameter listeners.
      events.on(event, (value: never) => {
        try {
          listener(value)
        } catch (err) {
          throw new HookError('trace hook failed', { cause: err })
        }
      })
    },
  } as TraceEvents)
  try {
    const result = await runTx(prepared.vm, {
      tx,
      block,
      skipNonce: isCall,
      skipBlockGasLimitValidation: true,
      skipHardForkValidation: true,
    })
    return outcomeOf(result)
  } catch (err) {
    if (err instanceof ExecutionTimeout) throw timeoutError(prepared.deadline)
    if (err instanceof HookError) throw err.cause
    throw preExecutionError(err)
  } finally {
    events.removeAllListeners('step')
    events.removeAllListeners('beforeMessage')
    events.removeAllListeners('afterMessage')
  }
}

/**
 * Re-executes transaction `index` of `block` on the prepared VM, untraced (the ones before
 * a traced transaction). Returns the gas it used, to pass on as `blockGasUsed`.
 */
export async function replayTransaction(
  prepared: PreparedVm,
  block: Block,
  index: number,
  blockGasUsed: bigint,
): Promise<bigint> {
  try {
    const result = await runTx(prepared.vm, {
      tx: block.transactions[index]!,
      block,
      blockGasUsed,
      skipHardForkValidation: true,
    })
    return result.totalGasSpent
  } catch (err) {
    if (err instanceof ExecutionTimeout) throw timeoutError(prepared.deadline)
    throw new SimulationError(
      'SIM_REPLAY_FAILED',
      `re-executing transaction ${index} of block ${block.header.number} failed: ${(err as Error).message}`,
      { cause: err },
    )
  }
}
