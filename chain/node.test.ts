/**
 * Node foundation acceptance: block production at the period (deterministic clock),
 * transfers with exact balances/nonces/receipts/gasUsed, state roots equal to a
 * re-execution from genesis, restart from the same datadir.
 */
import { Address, bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { makeGenesis, tempDir, transfer, waitFor } from '../test/support/chain.ts'
import { ConsensusRules, StaticValidatorSet } from './consensus/rules.ts'
import { Ledger } from './ledger/ledger.ts'
import { SidechainNode } from './node.ts'
import { ChainDb } from './storage/chain-db.ts'
import { ManualScheduler } from './util/scheduler.ts'
import type { SingleValidatorEngine } from './validator/single-validator.ts'

const PERIOD = 1000

async function balanceOf(node: SidechainNode, address: Uint8Array) {
  const account = await node.ledger.headState().getAccount(new Address(address))
  return { balance: account?.balance ?? 0n, nonce: account?.nonce ?? 0n }
}

t.test('single validator: period, transfers, receipts, re-execution, restart', async (t) => {
  const setup = makeGenesis({ accounts: 3, config: { blockPeriodMs: PERIOD } })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const scheduler = new ManualScheduler(1_700_000_100_000)
  const start = () =>
    new SidechainNode(
      { genesis: setup.genesis, datadir: dir.path, validatorKey: setup.validators[0] },
      { scheduler },
    )
  let node = start()
  await node.start()
  t.teardown(() => node.stop())

  t.test('a block every period, none in between', async (t) => {
    for (let expected = 1n; expected <= 3n; expected++) {
      scheduler.advance(PERIOD - 1)
      await new Promise((r) => setImmediate(r))
      t.equal(node.ledger.head.number, expected - 1n, `no block ${expected} before the period ends`)
      scheduler.advance(1)
      await waitFor(() => node.ledger.head.number === expected, { what: `block ${expected}` })
    }
    const b1 = await node.ledger.getBlockByNumber(1n)
    const b3 = await node.ledger.getBlockByNumber(3n)
    t.equal(b3!.header.timestamp - b1!.header.timestamp, 2n, 'timestamps one period apart')
    t.equal(b1!.transactions.length, 0, 'empty blocks are produced too')
  })

  t.test('transfers land with exact balances, nonces, receipts and gasUsed', async (t) => {
    const [alice, bob, carol] = setup.accounts as [
      (typeof setup.accounts)[0],
      (typeof setup.accounts)[0],
      (typeof setup.accounts)[0],
    ]
    const validator = setup.validators[0]!
    const before = {
      alice: await balanceOf(node, alice.address),
      bob: await balanceOf(node, bob.address),
      carol: await balanceOf(node, carol.address),
      validator: await balanceOf(node, validator.address),
    }
    const common = node.ledger.common
    const txs = [
      transfer(common, alice, bob.address, 0n, 1_000n),
      transfer(common, alice, carol.address, 1n, 2_000n),
      transfer(common, bob, carol.address, 0n, 3n * 10n ** 18n),
    ]
    for (const tx of txs) await node.txpool.addRaw(tx.serialize())
    t.equal(node.txpool.size, 3)
    const target = node.ledger.head.number + 1n
    scheduler.advance(PERIOD)
    await waitFor(() => node.ledger.head.number === target, { what: 'block with transfers' })
    const block = (await node.ledger.getBlockByNumber(target))!
    t.equal(block.transactions.length, 3, 'all three transfers included')
    t.equal(block.header.gasUsed, 63_000n, 'gasUsed = 3 x 21000')
    const receipts = (await node.ledger.getReceipts(block.hash()))!
    t.same(
      receipts.map((r) => [r.status, r.gasUsed, r.cumulativeGasUsed]),
      [
        [1, 21_000n, 21_000n],
        [1, 21_000n, 42_000n],
        [1, 21_000n, 63_000n],
      ],
    )
    const baseFee = block.header.baseFeePerGas!
    const tip = 10n ** 9n // maxPriorityFeePerGas in the helper, below maxFee - baseFee
    const gasPrice = baseFee + tip
    const after = {
      alice: await balanceOf(node, alice.address),
      bob: await balanceOf(node, bob.address),
      carol: await balanceOf(node, carol.address),
      validator: await balanceOf(node, validator.address),
    }
    t.equal(after.alice.balance, before.alice.balance - 3_000n - 2n * 21_000n * gasPrice)
    t.equal(after.alice.nonce, 2n)
    t.equal(after.bob.balance, before.bob.balance + 1_000n - 3n * 10n ** 18n - 21_000n * gasPrice)
    t.equal(after.bob.nonce, 1n)
    t.equal(after.carol.balance, before.carol.balance + 2_000n + 3n * 10n ** 18n)
    t.equal(
      after.validator.balance,
      before.validator.balance + 63_000n * tip,
      'the proposer earns the tips',
    )
    t.equal(node.txpool.size, 0, 'included transactions leave the pool')
    const location = await node.ledger.getTxLocation(txs[2]!.hash())
    const index = block.transactions.findIndex(
      (tx) => bytesToHex(tx.hash()) === bytesToHex(txs[2]!.hash()),
    )
    t.same(location, { blockHash: block.hash(), blockNumber: target, index })
    const aliceOrder = block.transactions.filter((tx) =>
      tx.getSenderAddress().equals(new Address(alice.address)),
    )
    t.same(
      aliceOrder.map((tx) => tx.nonce),
      [0n, 1n],
      "a sender's transactions keep nonce order",
    )
  })

  t.test('every header state root equals a re-execution from genesis', async (t) => {
    const replayDir = tempDir()
    t.teardown(() => replayDir.remove())
    const db = new ChainDb(replayDir.path)
    await db.open()
    t.teardown(() => db.close())
    const rules = new ConsensusRules(new StaticValidatorSet(setup.validators.map((v) => v.address)))
    const replay = new Ledger({ genesis: setup.genesis }, { db, rules, clock: scheduler })
    await replay.open()
    t.same(replay.genesisHash, node.ledger.genesisHash, 'same genesis')
    for (let n = 1n; n <= node.ledger.head.number; n++) {
      const block = (await node.ledger.getBlockByNumber(n))!
      const commit = (await node.ledger.getCommit(block.hash()))!
      // Import re-executes the block and refuses it unless state, receipts and gas match.
      await replay.importBlock(block, { seals: commit.seals, sealRound: commit.round })
      t.same(
        bytesToHex(replay.head.stateRoot),
        bytesToHex(block.header.stateRoot),
        `state root of block ${n}`,
      )
    }
  })

  t.test('restart with the same datadir resumes at the same head and state', async (t) => {
    const head = node.ledger.head
    const alice = await balanceOf(node, setup.accounts[0]!.address)
    await node.stop()
    node = start()
    await node.start()
    t.equal(node.ledger.head.number, head.number)
    t.same(node.ledger.head.hash(), head.hash())
    t.same(await balanceOf(node, setup.accounts[0]!.address), alice)
    scheduler.advance(PERIOD)
    await waitFor(() => node.ledger.head.number === head.number + 1n, {
      what: 'next block after restart',
    })
    void (node.engine as SingleValidatorEngine)
  })
})
