/**
 * Block execution runs the whole block inside one state checkpoint (one trie write per
 * block). These tests pin what that must not change: per-transaction SSTORE gas (the
 * "original value" of a slot is the value at the start of each transaction, not of the
 * block), the state an importing node computes, and a clean rollback when a block fails.
 */
import { createBlock, createBlockFromRLP } from '@ethereumjs/block'
import { createTx, type TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToHex, hexToBytes } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import {
  buildSealedBlock,
  makeGenesis,
  openStaticLedger,
  tempDir,
} from '../../test/helpers/chain.ts'
import { signCommitSeal } from '../consensus/seals.ts'
import type { Ledger } from '../ledger/ledger.ts'

// Runtime code: slot0 = slot0 + 1 (PUSH0 SLOAD PUSH1 1 ADD PUSH0 SSTORE STOP).
const COUNTER = '0x00000000000000000000000000000000c0c0c0c0'
const COUNTER_CODE = '0x5f546001015f5500'

const setup = makeGenesis({
  accounts: 3,
  alloc: { [COUNTER]: { balance: '0x0', code: COUNTER_CODE } },
})
const [validator] = setup.validators

async function openLedger(t: Test): Promise<Ledger> {
  const dir = tempDir('executor-test-')
  const { db, ledger } = await openStaticLedger(setup, dir.path)
  t.teardown(async () => {
    await db.close()
    dir.remove()
  })
  return ledger
}

function counterCall(ledger: Ledger, sender: number, nonce = 0n): TypedTransaction {
  return createTx(
    {
      type: 2,
      chainId: ledger.common.chainId(),
      nonce,
      to: hexToBytes(COUNTER),
      gasLimit: 100_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
    },
    { common: ledger.common },
  ).sign(setup.accounts[sender]!.privateKey)
}

async function counterValue(ledger: Ledger): Promise<bigint> {
  const value = await ledger
    .headState()
    .getStorage(new Address(hexToBytes(COUNTER)), new Uint8Array(32))
  return value.length === 0 ? 0n : BigInt(bytesToHex(value))
}

async function gasUsedPerTx(ledger: Ledger, blockHash: Uint8Array): Promise<bigint[]> {
  return ((await ledger.getReceipts(blockHash)) ?? []).map((r) => r.gasUsed)
}

t.test('one block of three SSTOREs costs what three blocks of one cost, per tx', async (t) => {
  const together = await openLedger(t)
  const apart = await openLedger(t)

  const oneBlock = await buildSealedBlock(
    together,
    validator!,
    [0, 1, 2].map((i) => counterCall(together, i)),
    1_700_000_001_000,
  )
  t.equal(oneBlock.block.transactions.length, 3)
  const gasTogether = await gasUsedPerTx(together, oneBlock.block.hash())

  const gasApart: bigint[] = []
  for (const i of [0, 1, 2]) {
    const { block } = await buildSealedBlock(
      apart,
      validator!,
      [counterCall(apart, i)],
      1_700_000_001_000 + i * 1000,
    )
    gasApart.push(...(await gasUsedPerTx(apart, block.hash())))
  }
  // 0 -> 1 is a fresh slot (22,100 + the call); 1 -> 2 and 2 -> 3 are updates (5,000 + the call).
  t.same(gasTogether, gasApart, 'per-tx gas is the same in one block as in three')
  t.ok(gasTogether[0]! > gasTogether[1]!, 'the first write pays for a fresh slot')
  t.equal(gasTogether[1], gasTogether[2])
  t.equal(await counterValue(together), 3n)
  t.equal(await counterValue(apart), 3n)

  await t.test('an importing node computes the same state', async (t) => {
    const importer = await openLedger(t)
    const block = createBlockFromRLP(oneBlock.block.serialize(), {
      common: importer.common,
      skipConsensusFormatValidation: true,
    })
    await importer.importBlock(block, { seals: [oneBlock.seal] })
    t.same(importer.head.stateRoot, oneBlock.block.header.stateRoot)
    t.equal(await counterValue(importer), 3n)
  })
})

t.test('a block that fails execution leaves the state as it was', async (t) => {
  const producer = await openLedger(t)
  const { block, seal } = await buildSealedBlock(
    producer,
    validator!,
    [0, 1].map((i) => counterCall(producer, i)),
    1_700_000_001_000,
  )
  const importer = await openLedger(t)
  const genesisRoot = importer.head.stateRoot

  // Same transactions, wrong gasUsed: execution runs to the end, then the header check fails.
  const forged = createBlockFromRLP(block.serialize(), {
    common: importer.common,
    skipConsensusFormatValidation: true,
  })
  const headerData = { ...forged.header.toJSON(), gasUsed: forged.header.gasUsed + 1n }
  const bad = createBlock(
    { header: headerData, transactions: forged.transactions },
    { common: importer.common, skipConsensusFormatValidation: true },
  )
  await t.rejects(
    importer.importBlock(bad, { seals: [signCommitSeal(bad.hash(), 0, validator!.privateKey)] }),
    { code: 'EXEC_GAS_USED_MISMATCH' },
  )
  t.same(importer.head.stateRoot, genesisRoot, 'head unchanged')
  t.equal(await counterValue(importer), 0n, 'no write survived')

  // The executor is usable again: the real block imports on the same state.
  const good = createBlockFromRLP(block.serialize(), {
    common: importer.common,
    skipConsensusFormatValidation: true,
  })
  await importer.importBlock(good, { seals: [seal] })
  t.same(importer.head.stateRoot, block.header.stateRoot)
  t.equal(await counterValue(importer), 2n)

  // A rejected candidate while building does not disturb the block around it.
  const next = await buildSealedBlock(
    importer,
    validator!,
    [counterCall(importer, 0, 5n), counterCall(importer, 2)],
    1_700_000_002_000,
  )
  t.equal(next.rejected.length, 1, 'the nonce-gap tx is left out')
  t.equal(next.block.transactions.length, 1)
  t.equal(await counterValue(importer), 3n)
})
