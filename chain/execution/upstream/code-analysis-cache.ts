/**
 * ethereumjs' interpreter analyses a contract's code each time a call into it reaches a
 * JUMP: it walks every byte, looks up each opcode and turns every PUSH value into a
 * bigint, and the result depends only on the code and the EVM's opcode table.
 *
 * This keeps the analysis per opcode table (an EVM's, rebuilt if its hardfork changes) and
 * per code object: contract code comes from the state manager's code cache, the same
 * Uint8Array at every call, and is never written to. Init code is a fresh array at each
 * CREATE, so it is analysed as before.
 *
 * An analysis is 10-30 times the size of its code, and the code cache holds up to 20,000
 * contracts, so the cache is emptied whenever the code analysed since the last emptying
 * passes MAX_CODE_BYTES (a few dozen large contracts); hot contracts come back at once.
 *
 * PROCESS-GLOBAL: the interpreter class is not exported by @ethereumjs/evm, so this wraps
 * the method on its prototype, once per process (a `Symbol.for` marker, so even two copies
 * of this module install it once), and every EVM in the process uses the wrapper. It is
 * the one exception to "no module-level state": the analyses themselves are kept per EVM
 * opcode table, so two nodes in one process share nothing but the wrapper. If the
 * interpreter's file, class or method is missing, nothing is installed and the EVM runs as
 * upstream does; if an interpreter has no opcode table, the call goes to upstream's method.
 */
import type { PatchStatus } from './status.ts'

const INSTALLED = Symbol.for('sidechain.codeAnalysisCache.installed')
const CACHE = Symbol.for('sidechain.codeAnalysisCache')
/** Code bytes analysed before the cache is emptied (bounds it to tens of MB). */
export const MAX_CODE_BYTES = 2 * 1024 * 1024

interface AnalysisCache {
  analyses: WeakMap<Uint8Array, unknown>
  codeBytes: number
}

type Analyse = (this: InterpreterLike, code: Uint8Array) => unknown
interface InterpreterLike {
  _evm?: { _opcodeMap?: Record<symbol, AnalysisCache | undefined> }
}
/** The interpreter's prototype, as far as the wrapper uses it. */
interface InterpreterPrototype {
  _getValidJumpDestinations?: unknown
  [INSTALLED]?: boolean
}

/**
 * Wraps the code analysis of `prototype` (ethereumjs' `Interpreter.prototype`, see
 * loadEvmInternals) with the cache, once.
 */
export function installCodeAnalysisCache(interpreterPrototype: object | undefined): PatchStatus {
  const prototype = interpreterPrototype as InterpreterPrototype | undefined
  if (prototype === undefined) {
    return { active: false, reason: '@ethereumjs/evm interpreter.js has no Interpreter class' }
  }
  if (prototype[INSTALLED] === true) return { active: true }
  const analyse = prototype._getValidJumpDestinations
  if (typeof analyse !== 'function') {
    return { active: false, reason: 'Interpreter._getValidJumpDestinations is not a method' }
  }
  prototype._getValidJumpDestinations = function (this: InterpreterLike, code: Uint8Array) {
    const opcodes = this._evm?._opcodeMap
    if (typeof opcodes !== 'object' || opcodes === null) {
      return (analyse as Analyse).call(this, code)
    }
    let cache = opcodes[CACHE]
    const cached = cache?.analyses.get(code)
    if (cached !== undefined) return cached
    if (cache === undefined || cache.codeBytes + code.length > MAX_CODE_BYTES) {
      cache = { analyses: new WeakMap(), codeBytes: 0 }
      opcodes[CACHE] = cache
    }
    const analysis = (analyse as Analyse).call(this, code)
    cache.analyses.set(code, analysis)
    cache.codeBytes += code.length
    return analysis
  }
  prototype[INSTALLED] = true
  return { active: true }
}
