/**
 * A wall-clock deadline for every simulated run. The ethereumjs interpreter awaits each
 * step on the microtask queue, so a timer cannot interrupt it; instead JUMP and JUMPI
 * (every loop goes through one of them) are wrapped to check the clock every 1024 jumps.
 */
import type { Common } from '@ethereumjs/common'
import { SimulationError } from './errors.ts'

export interface Deadline {
  readonly at: number
  readonly ms: number
}

export function deadlineIn(ms: number): Deadline {
  return { at: Date.now() + ms, ms }
}

/** Thrown from inside the EVM when the deadline passes (not an EVMError, so it aborts the run). */
export class ExecutionTimeout extends Error {
  override readonly name = 'ExecutionTimeout'
}

export function timeoutError(deadline: Deadline): SimulationError {
  return new SimulationError(
    'SIM_TIMEOUT',
    `execution aborted (timeout = ${formatDuration(deadline.ms)})`,
  )
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

export type OpcodeHandler = (runState: unknown, common: Common) => unknown

/** How long an execution may hold the event loop before it lets other work (consensus timers, other requests) run. */
const YIELD_EVERY_MS = 10

/** Per-VM execution clock: the deadline of the current run and when it last yielded. */
export interface ExecutionClock {
  current: Deadline
  lastYield: number
}

/**
 * JUMP/JUMPI that, every 1024 jumps, check the deadline and yield to the event loop when
 * the run has held it for YIELD_EVERY_MS (the interpreter otherwise never gives it back:
 * a long eth_call would stall block production). Otherwise the stock implementations.
 */
export function deadlineOpcodes(
  common: Common,
  originals: ReadonlyMap<number, OpcodeHandler>,
  clock: ExecutionClock,
) {
  let jumps = 0
  const wrap = (code: number, name: string) => {
    const original = originals.get(code)!
    return {
      opcode: code,
      opcodeName: name,
      baseFee: Number(common.param(`${name.toLowerCase()}Gas`)),
      logicFunction: (runState: unknown, c: Common) => {
        if ((++jumps & 1023) === 0) {
          const now = Date.now()
          if (now > clock.current.at) throw new ExecutionTimeout('deadline passed')
          if (now - clock.lastYield >= YIELD_EVERY_MS) {
            return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
              clock.lastYield = Date.now()
              return original(runState, c)
            })
          }
        }
        return original(runState, c)
      },
    }
  }
  return [wrap(0x56, 'JUMP'), wrap(0x57, 'JUMPI')]
}
