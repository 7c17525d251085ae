/**
 * ethereumjs' interpreter analyses a contract's code each time a call into it reaches a
 * JUMP: it walks every byte, looks up each opcode and turns every PUSH value into a
 * bigint. For an ERC-20 transfer that was ~5% of block execution, and the result
 * depends only on the code and the EVM's opcode table.
 *
 * This keeps the analysis per opcode table (an EVM's, rebuilt if its hardfork changes) and
 * per code object: contract code
 * comes from the state manager's code cache, the same Uint8Array at every call, and is
 * never written to. Init code is a fresh array at each CREATE, so it is analysed as before.
 *
 * An analysis is 10-30 times the size of its code, and the code cache holds up to 20,000
 * contracts, so the cache is emptied whenever the code analysed since the last emptying
 * passes MAX_CODE_BYTES (a few dozen large contracts); hot contracts come back at once.
 *
 * The interpreter class is not exported by @ethereumjs/evm, so its module is loaded from
 * beside the package entry point (the same module instance the EVM uses) and its method is
 * wrapped once per process. If that layout changes, nothing is installed and the EVM runs
 * as upstream does; a test checks that it is installed.
 */

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
  _evm: { _opcodeMap: Record<symbol, AnalysisCache | undefined> }
}
interface InterpreterPrototype {
  _getValidJumpDestinations?: Analyse
  [INSTALLED]?: boolean
}

/** Wraps the interpreter's code analysis with the cache; true once installed. */
export async function installCodeAnalysisCache(): Promise<boolean> {
  let prototype: InterpreterPrototype | undefined
  try {
    const entry = import.meta.resolve('@ethereumjs/evm')
    const module = (await import(new URL('./interpreter.js', entry).href)) as {
      Interpreter?: { prototype: InterpreterPrototype }
    }
    prototype = module.Interpreter?.prototype
  } catch {
    return false
  }
  if (prototype === undefined) return false
  if (prototype[INSTALLED] === true) return true
  const analyse = prototype._getValidJumpDestinations
  if (typeof analyse !== 'function') return false
  prototype._getValidJumpDestinations = function (this: InterpreterLike, code: Uint8Array) {
    const opcodes = this._evm._opcodeMap
    let cache = opcodes[CACHE]
    const cached = cache?.analyses.get(code)
    if (cached !== undefined) return cached
    if (cache === undefined || cache.codeBytes + code.length > MAX_CODE_BYTES) {
      cache = { analyses: new WeakMap(), codeBytes: 0 }
      opcodes[CACHE] = cache
    }
    const analysis = analyse.call(this, code)
    cache.analyses.set(code, analysis)
    cache.codeBytes += code.length
    return analysis
  }
  prototype[INSTALLED] = true
  return true
}
