/**
 * The fast MSTORE, SLOAD and LOG handlers must behave exactly as upstream's: the same code
 * run on an EVM with them and on one without gives the same return data, gas, logs and
 * storage, for words of every length (0, one byte, odd hex lengths, the top bit set, all
 * ones), unaligned memory offsets, every LOG arity and a LOG of no bytes. If the opcode
 * table or a run-state method the handlers call is missing, none is installed.
 */
import { bytesToHex, createAddressFromString } from '@ethereumjs/util'
import { createVM } from '@ethereumjs/vm'
import t from 'tap'
import {
  buildSealedBlock,
  makeGenesis,
  openTestLedger,
  transfer,
} from '../../../test/support/chain.ts'
import { EDGE_WORDS } from '../../../test/support/words.ts'
import { wordToBytes32 } from '../../util/bigint-bytes.ts'
import type { BlockExecutor } from '../block-executor.ts'
import { createChainCommon } from '../common.ts'
import {
  fastPathsBlocker,
  fastPathsInstalled,
  installEvmFastPaths,
  opcodeTable,
  upstreamHandlers,
} from './evm-fast-paths.ts'
import { loadEvmInternals } from './evm-internals.ts'
import { applyUpstreamPatches } from './index.ts'

const WORDS = EDGE_WORDS

const push32 = (word: bigint) => `7f${word.toString(16).padStart(64, '0')}`
const push2 = (n: number) => `61${n.toString(16).padStart(4, '0')}`
const MSTORE = '52'
const SLOAD = '54'
const SSTORE = '55'

/**
 * Code that: stores every word at aligned and unaligned offsets (MSTORE); writes some
 * slots, then loads written and unwritten slots to memory (SLOAD); emits LOG0-LOG4 with
 * the words as topics over a slice of memory; returns the memory it wrote.
 */
function testCode(): string {
  let code = ''
  let offset = 0
  for (const word of WORDS) {
    code += push32(word) + push2(offset) + MSTORE
    offset += 32
    code += push32(word) + push2(offset + 7) + MSTORE
    offset += 40
  }
  // slot[key] = key ^ 0x55 for half of the words (zero stays zero), then load all of them.
  for (const key of WORDS.filter((_, i) => i % 2 === 0))
    code += push32(key ^ 0x55n) + push32(key) + SSTORE
  for (const key of WORDS) {
    code += push32(key) + SLOAD + push2(offset) + MSTORE
    offset += 32
  }
  for (let topics = 0; topics <= 4; topics++) {
    for (let i = 0; i < topics; i++) code += push32(WORDS[(topics * 3 + i) % WORDS.length]!)
    // LOGn pops offset then length: push length first.
    code += push2(topics * 50 + 3) + push2(topics * 61) + (0xa0 + topics).toString(16)
  }
  // LOG0 of no bytes at an offset far past memory: no read, no expansion.
  code += push2(0) + push32(1n << 200n) + 'a0'
  // RETURN memory[0:offset]
  code += push2(offset) + push2(0) + 'f3'
  return `0x${code}`
}

async function run(fast: boolean) {
  const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  const vm = await createVM({ common })
  const installed = fast ? installEvmFastPaths(vm, upstreamHandlers(common)) : 0
  const contract = createAddressFromString('0x00000000000000000000000000000000000c0de1')
  await vm.stateManager.putCode(contract, Buffer.from(testCode().slice(2), 'hex'))
  const result = await vm.evm.runCall({ to: contract, gasLimit: 10_000_000n })
  const storage: string[] = []
  for (const key of WORDS) {
    storage.push(bytesToHex(await vm.stateManager.getStorage(contract, wordToBytes32(key))))
  }
  return { installed, result: result.execResult, storage }
}

t.test('the fast handlers give the same results as upstream', async (t) => {
  const upstream = await run(false)
  const fast = await run(true)
  t.equal(fast.installed, 7, 'MSTORE, SLOAD and LOG0-LOG4 are replaced')
  t.notOk(upstream.result.exceptionError, 'the code runs to the end')
  t.equal(fast.result.exceptionError, undefined)
  t.equal(fast.result.executionGasUsed, upstream.result.executionGasUsed, 'same gas')
  t.equal(
    bytesToHex(fast.result.returnValue),
    bytesToHex(upstream.result.returnValue),
    'same memory',
  )
  t.same(fast.result.logs, upstream.result.logs, 'same logs')
  t.equal(upstream.result.logs?.length, 6)
  t.same(fast.storage, upstream.storage, 'same storage')
})

t.test('only upstream handlers are replaced', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  const vm = await createVM({ common })
  const upstream = upstreamHandlers(common)
  t.equal(installEvmFastPaths(vm, upstream), 7)
  t.equal(
    installEvmFastPaths(vm, upstream),
    0,
    'a second install finds nothing of upstream to replace',
  )

  const custom = () => {}
  const withCustom = await createVM({
    common,
    evmOpts: {
      customOpcodes: [{ opcode: 0x52, opcodeName: 'MSTORE', baseFee: 3, logicFunction: custom }],
    },
  })
  t.equal(installEvmFastPaths(withCustom, upstream), 6, 'a custom MSTORE is kept')
  t.equal(opcodeTable(withCustom)?.[0x52]?.opHandler, custom)
})

t.test('the run-state methods the handlers call are where 10.1.3 has them', async (t) => {
  t.equal(fastPathsBlocker(await loadEvmInternals()), undefined)
})

t.test('a missing run-state method or opcode table installs nothing', async (t) => {
  const internals = await loadEvmInternals()
  // Stack.popN renamed upstream: a stub class whose prototype lacks it.
  const { popN: _, ...stackWithoutPopN } = Object.fromEntries(
    Object.getOwnPropertyNames(internals.Stack!.prototype).map((name) => [name, () => {}]),
  )
  const renamed = { ...internals, Stack: { prototype: stackWithoutPopN } }
  t.equal(fastPathsBlocker(renamed), 'Stack lacks popN')
  t.match(fastPathsBlocker({ ...internals, Memory: undefined }), /Memory lacks read, write/)

  const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  const vm = await createVM({ common })
  const report = await applyUpstreamPatches({ vm, evmInternals: renamed })
  t.same(report['evm-fast-paths'], { active: false, reason: 'Stack lacks popN' })
  t.same(fastPathsInstalled(vm), { installed: 0, total: 7 }, 'upstream handlers stay')
  const upstream = upstreamHandlers(common)
  t.equal(opcodeTable(vm)?.[0x52]?.opHandler, upstream.get(0x52))

  const noTable = { evm: {} } as unknown as typeof vm
  t.equal(installEvmFastPaths(noTable, upstream), 0, 'no _opcodeMap: nothing replaced')
  t.same(fastPathsInstalled(noTable), { installed: 0, total: 7 })
})

t.test('the block executor runs with the fast handlers', async (t) => {
  const setup = makeGenesis({ accounts: 1 })
  const { ledger } = await openTestLedger(t, setup, 'fast-paths-')
  // A block first: running blocks must not rebuild the opcode table (a hardfork change would).
  const sender = setup.accounts[0]!
  const to = new Uint8Array(20).fill(1)
  await buildSealedBlock(
    ledger,
    setup.validators[0]!,
    [transfer(ledger.common, sender, to, 0n, 1n)],
    1_700_000_001_000,
  )
  t.equal(ledger.head.number, 1n)
  const executor = (ledger as unknown as { executor: BlockExecutor }).executor
  const upstream = upstreamHandlers(ledger.common)
  t.equal(installEvmFastPaths(executor.vm, upstream), 0, 'nothing of upstream is left to replace')
  t.same(ledger.upstreamPatches['evm-fast-paths'], { active: true }, 'and the report says so')
})
