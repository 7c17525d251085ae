/**
 * Faster equivalents of ethereumjs' MSTORE, SLOAD and LOG0-LOG4 handlers.
 *
 * Upstream turns a 256-bit stack word into 32 bytes as `setLengthLeft(bigIntToBytes(w), 32)`,
 * through a validated hex string; `wordToBytes32` (util/bigint-bytes.ts) writes the bytes
 * directly, and Solidity code stores words to memory all the time (ABI encoding, the free
 * memory pointer, event data). The handlers do exactly what upstream's do otherwise; gas
 * (dynamic gas handlers, memory expansion) is untouched.
 *
 * The handlers are swapped in the EVM's own opcode table (the private `_opcodeMap`, one per
 * EVM, rebuilt only if its hardfork changes, which ours never does). A handler is only
 * replaced where the table holds upstream's, so custom opcodes stay; without a table
 * nothing is replaced. The handlers call the interpreter's stack, memory and storage
 * methods listed in RUN_STATE_METHODS: `fastPathsBlocker` names the first one missing, and
 * then none is installed. The test runs the same code with and without these handlers and
 * compares every result.
 */
import type { Common } from '@ethereumjs/common'
import { getOpcodesForHF } from '@ethereumjs/evm'
import { bytesToBigInt } from '@ethereumjs/util'
import type { VM } from '@ethereumjs/vm'
import { wordToBytes32 } from '../../util/bigint-bytes.ts'
import { type EvmInternals, missingMethods } from './evm-internals.ts'

/** The parts of ethereumjs' run state that these handlers use. */
interface RunState {
  stack: {
    pop(): bigint
    popN(n: number): bigint[]
    push(value: bigint): void
  }
  memory: {
    read(offset: number, size: number): Uint8Array
    write(offset: number, size: number, value: Uint8Array): void
  }
  interpreter: {
    storageLoad(key: Uint8Array): Promise<Uint8Array>
    log(data: Uint8Array, topicsCount: number, topics: Uint8Array[]): void
  }
  opCode: number
}

interface OpcodeEntry {
  opHandler: (runState: RunState) => unknown
}

/** The opcode table of an ethereumjs EVM (an internal field). */
export type OpcodeTable = Record<number, OpcodeEntry | undefined>

/** The table of `vm`'s EVM, if it has one where 10.1.3 keeps it. */
export function opcodeTable(vm: VM): OpcodeTable | undefined {
  const table = (vm.evm as unknown as { _opcodeMap?: unknown })._opcodeMap
  return typeof table === 'object' && table !== null ? (table as OpcodeTable) : undefined
}

/** What the handlers call on the run state, by the class that provides it. */
const RUN_STATE_METHODS = {
  Stack: ['pop', 'popN', 'push'],
  Memory: ['read', 'write'],
  Interpreter: ['storageLoad', 'log'],
} as const satisfies Record<keyof EvmInternals, readonly string[]>

/** Why the fast handlers cannot run on this @ethereumjs/evm, or undefined if they can. */
export function fastPathsBlocker(internals: EvmInternals): string | undefined {
  for (const [name, methods] of Object.entries(RUN_STATE_METHODS)) {
    const missing = missingMethods(internals[name as keyof EvmInternals], methods)
    if (missing.length > 0) return `${name} lacks ${missing.join(', ')}`
  }
  return undefined
}

/**
 * ethereumjs' own handlers by opcode: what `installEvmFastPaths` replaces. Building them
 * builds a whole opcode table (costs about as much as creating a VM): callers that create VMs
 * often keep them.
 */
export function upstreamHandlers(common: Common): ReadonlyMap<number, unknown> {
  return getOpcodesForHF(common).handlers
}

const MSTORE = 0x52
const SLOAD = 0x54
const LOG0 = 0xa0

function mstore(runState: RunState): void {
  const [offset, word] = runState.stack.popN(2) as [bigint, bigint]
  runState.memory.write(Number(offset), 32, wordToBytes32(word))
}

async function sload(runState: RunState): Promise<void> {
  const key = wordToBytes32(runState.stack.pop())
  const value = await runState.interpreter.storageLoad(key)
  runState.stack.push(value.length > 0 ? bytesToBigInt(value) : 0n)
}

function log(runState: RunState): void {
  const [memOffset, memLength] = runState.stack.popN(2) as [bigint, bigint]
  const topicsCount = runState.opCode - LOG0
  const topics = runState.stack.popN(topicsCount).map(wordToBytes32)
  const data =
    memLength === 0n
      ? new Uint8Array(0)
      : runState.memory.read(Number(memOffset), Number(memLength))
  runState.interpreter.log(data, topicsCount, topics)
}

const REPLACEMENTS: ReadonlyArray<[code: number, handler: OpcodeEntry['opHandler']]> = [
  [MSTORE, mstore],
  [SLOAD, sload],
  ...[0, 1, 2, 3, 4].map((n) => [LOG0 + n, log] as [number, OpcodeEntry['opHandler']]),
]

/**
 * Puts the faster handlers into the opcode table of `vm`'s EVM, each only where the table
 * holds upstream's own handler for that opcode (`upstream`, see upstreamHandlers). Returns
 * how many were installed (7 on an EVM with the upstream table).
 */
export function installEvmFastPaths(vm: VM, upstream: ReadonlyMap<number, unknown>): number {
  const table = opcodeTable(vm)
  if (table === undefined) return 0
  let installed = 0
  for (const [code, handler] of REPLACEMENTS) {
    const entry = table[code]
    if (entry === undefined || entry.opHandler !== upstream.get(code)) continue
    entry.opHandler = handler
    installed++
  }
  return installed
}

/** How many of the fast handlers `vm`'s opcode table holds, and how many there are. */
export function fastPathsInstalled(vm: VM): { installed: number; total: number } {
  const table = opcodeTable(vm)
  let installed = 0
  for (const [code, handler] of REPLACEMENTS) {
    if (table?.[code]?.opHandler === handler) installed++
  }
  return { installed, total: REPLACEMENTS.length }
}
