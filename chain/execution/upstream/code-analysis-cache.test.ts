/**
 * The interpreter's code analysis is kept per code object across calls. It must be
 * installed (a layout change in @ethereumjs/evm would silently drop it), and a cached
 * analysis must judge jumps exactly as a fresh one: a JUMPDEST is valid, a 0x5b byte inside
 * PUSH data is not, on the first call and on every later one. Without the interpreter, its
 * method or an opcode table, upstream's analysis runs.
 */
import { Address, hexToBytes, setLengthLeft } from '@ethereumjs/util'
import t from 'tap'
import {
  buildSealedBlock,
  makeGenesis,
  openTestLedger,
  transfer,
} from '../../../test/support/chain.ts'
import { installCodeAnalysisCache, MAX_CODE_BYTES } from './code-analysis-cache.ts'
import { loadEvmInternals } from './evm-internals.ts'

async function interpreterPrototype() {
  const { Interpreter } = await loadEvmInternals()
  return Interpreter?.prototype
}

// PUSH1 4 JUMP INVALID JUMPDEST; slot0 = slot0 + 1 (PUSH1 1 PUSH0 SLOAD ADD PUSH0 SSTORE STOP).
const JUMPER = '0x00000000000000000000000000000000000a0001'
const JUMPER_CODE = '0x600456fe5b60015f54015f5500'
// PUSH1 4 JUMP PUSH1 0x5b ...: offset 4 is a 0x5b byte, the data of the PUSH1 at offset 3.
const BAD_JUMPER = '0x00000000000000000000000000000000000a0002'
const BAD_JUMPER_CODE = '0x600456605b60015f555f00'

t.test('installs once and reports it', async (t) => {
  const prototype = await interpreterPrototype()
  t.ok(prototype, 'the interpreter is where 10.1.3 keeps it')
  t.same(installCodeAnalysisCache(prototype), { active: true })
  const wrapped = prototype?._getValidJumpDestinations
  t.same(installCodeAnalysisCache(prototype), { active: true }, 'a second install is a no-op')
  t.equal(prototype?._getValidJumpDestinations, wrapped, 'the method is wrapped once')
})

t.test('without the interpreter or its method nothing is installed', async (t) => {
  t.match(installCodeAnalysisCache(undefined), { active: false, reason: /Interpreter/ })
  const renamed = { _analyseJumps: () => ({}) }
  t.match(installCodeAnalysisCache(renamed), {
    active: false,
    reason: /_getValidJumpDestinations/,
  })
  t.same(Object.keys(renamed), ['_analyseJumps'], 'the stub is left as it was')
})

t.test('an interpreter without an opcode table gets upstream analysis every time', async (t) => {
  let analysed = 0
  const prototype: { _getValidJumpDestinations?: unknown } = {
    _getValidJumpDestinations: () => ({ analysis: ++analysed }),
  }
  t.same(installCodeAnalysisCache(prototype), { active: true })
  const analyse = prototype._getValidJumpDestinations as (this: object, code: Uint8Array) => unknown
  const code = hexToBytes(JUMPER_CODE)
  t.same(analyse.call({ _evm: {} }, code), { analysis: 1 })
  t.same(analyse.call({ _evm: {} }, code), { analysis: 2 }, 'not cached')
  const interpreter = { _evm: { _opcodeMap: {} } }
  t.same(analyse.call(interpreter, code), { analysis: 3 })
  t.same(analyse.call(interpreter, code), { analysis: 3 }, 'with a table: cached')
})

t.test('cached analysis keeps valid jumps valid and invalid ones invalid', async (t) => {
  const setup = makeGenesis({
    accounts: 1,
    alloc: {
      [JUMPER]: { balance: '0x0', code: JUMPER_CODE },
      [BAD_JUMPER]: { balance: '0x0', code: BAD_JUMPER_CODE },
    },
  })
  const { ledger } = await openTestLedger(t, setup, 'code-analysis-')
  const sender = setup.accounts[0]!
  const call = (to: string, nonce: bigint) =>
    transfer(ledger.common, sender, hexToBytes(to as `0x${string}`), nonce, 0n, {
      gasLimit: 100_000n,
    })
  // Two blocks of three calls each: the first call of each code fills the cache.
  let nonce = 0n
  for (const timestamp of [1_700_000_001_000, 1_700_000_002_000]) {
    const txs = [call(JUMPER, nonce++), call(BAD_JUMPER, nonce++), call(JUMPER, nonce++)]
    const { block } = await buildSealedBlock(ledger, setup.validators[0]!, txs, timestamp)
    const receipts = (await ledger.getReceipts(block.hash())) ?? []
    t.same(
      receipts.map((r) => r.status),
      [1, 0, 1],
      'the jump to a JUMPDEST runs, the jump into PUSH data fails',
    )
  }
  const slot0 = await ledger
    .headState()
    .getStorage(new Address(hexToBytes(JUMPER)), new Uint8Array(32))
  t.same(setLengthLeft(slot0, 1), new Uint8Array([4]), 'four calls went through the jump')
})

t.test('the wrapped analysis is reused per code object and bounded', async (t) => {
  // The interpreter module the EVM loads, reached as the installer reaches it.
  const prototype = (await interpreterPrototype()) as unknown as {
    _getValidJumpDestinations(code: Uint8Array): unknown
  }
  t.same(installCodeAnalysisCache(prototype), { active: true })
  let analysed = 0
  // Just what the upstream analysis reads from its interpreter.
  const interpreter = {
    _evm: { _opcodeMap: [] as unknown[] },
    common: { isActivatedEIP: () => false },
    lookupOpInfo: () => {
      analysed++
      return {}
    },
  }
  const analyse = (code: Uint8Array) => prototype._getValidJumpDestinations.call(interpreter, code)
  const code = hexToBytes(JUMPER_CODE)
  const first = analyse(code)
  const perAnalysis = analysed
  t.equal(analyse(code), first, 'the same code object gets the same analysis')
  t.equal(analysed, perAnalysis, 'without analysing it again')
  t.not(analyse(hexToBytes(JUMPER_CODE)), first, 'another code object is analysed on its own')
  // Past the byte budget the cache starts over.
  const big = new Uint8Array(MAX_CODE_BYTES / 2)
  analyse(big)
  analyse(new Uint8Array(MAX_CODE_BYTES / 2))
  analysed = 0
  analyse(code)
  t.ok(analysed > 0, 'a full cache was emptied')
})
