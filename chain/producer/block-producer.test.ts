/**
 * The producer builds proposals from the pool. The pool admits transactions against the
 * head state, so one can still fail when the block runs it (an earlier transaction of the
 * same sender spent the balance): it is dropped from the pool, and the sender's later
 * nonces are skipped for that block (they cannot run without it), not run and dropped.
 */
import { Address, bytesToHex } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import { makeGenesis, openTestLedger, transfer } from '../../test/support/chain.ts'
import { nextBaseFee } from '../ledger/base-fee.ts'
import { TxPool } from '../txpool/txpool.ts'
import { ManualScheduler, threadCpuMs } from '../util/scheduler.ts'
import { BlockProducer } from './block-producer.ts'

const BALANCE = 10n ** 24n
const setup = makeGenesis({ validators: 1, accounts: 2, balanceWei: BALANCE })
const [validator] = setup.validators
const [spender, other] = setup.accounts as [(typeof setup.accounts)[0], (typeof setup.accounts)[0]]

async function openPool(t: Test) {
  const { ledger } = await openTestLedger(t, setup, 'producer-test-')
  const { config } = setup.genesis
  const txpool = new TxPool(
    { common: ledger.common, maxTxSize: config.maxTxSize, baseFeeFloor: config.baseFeeFloor },
    {
      state: {
        getAccount: async (address: Address) => {
          const account = await ledger.headState().getAccount(address)
          return { nonce: account?.nonce ?? 0n, balance: account?.balance ?? 0n }
        },
        nextBaseFee: () => nextBaseFee(ledger.head, config.baseFeeFloor),
        blockGasLimit: () => config.gasLimit,
      },
    },
  )
  return { ledger, txpool }
}

t.test('a sender whose transaction fails in the block has its later nonces skipped', async (t) => {
  const { ledger, txpool } = await openPool(t)
  const common = ledger.common
  const maxFee = 10n ** 10n
  // Nonce 0 sends nearly everything: against the head state the pool admits nonces 1 and
  // 2 (each needs 21000 * maxFee + 1), but after nonce 0 the balance cannot pay for them.
  const spendAll = transfer(common, spender, other.address, 0n, BALANCE - 21_000n * maxFee)
  const broke = transfer(common, spender, other.address, 1n, 1n)
  const after = transfer(common, spender, other.address, 2n, 1n)
  const unrelated = transfer(common, other, spender.address, 0n, 5n)
  for (const tx of [spendAll, broke, after, unrelated]) await txpool.add(tx)
  t.equal(txpool.size, 4, 'the pool admitted all four against the head state')

  const producer = new BlockProducer(
    { buildBudgetMs: 1_000_000 },
    { ledger, txpool, scheduler: new ManualScheduler(1_700_000_001_000) },
  )
  const { block, rejected } = await producer.propose({
    round: 0,
    coinbase: validator!.address,
    parentCommitRound: 0,
    parentCommitSeals: [...ledger.headSeals],
  })
  const hex = (txs: { hash(): Uint8Array }[]) => txs.map((tx) => bytesToHex(tx.hash())).sort()
  t.same(hex(block.transactions), hex([spendAll, unrelated]), 'the block holds what could run')
  t.same(hex(rejected.map((r) => r.tx)), hex([broke]), 'only the failing one was run and refused')
  t.notOk(txpool.has(bytesToHex(broke.hash())), 'it is dropped from the pool')
  t.ok(txpool.has(bytesToHex(after.hash())), 'the later nonce was skipped, not run and dropped')
  const balance = (await ledger.headState().getAccount(new Address(spender.address)))?.balance
  t.equal(balance, BALANCE, 'nothing was written: the block is built, not imported')
})

t.test('the build budget is counted on the CPU clock', async (t) => {
  const { ledger, txpool } = await openPool(t)
  for (let nonce = 0n; nonce < 3n; nonce++)
    await txpool.add(transfer(ledger.common, spender, other.address, nonce, 1n))
  // A CPU clock that advances 1 s per reading: each transaction costs exactly 1 s, and the
  // wall-time cap (twice the budget) is far away.
  let cpu = 0
  const producer = new BlockProducer(
    { buildBudgetMs: 2_000 },
    {
      ledger,
      txpool,
      scheduler: new ManualScheduler(1_700_000_001_000),
      cpuClock: () => {
        cpu += 1_000
        return cpu
      },
    },
  )
  const built = await producer.propose({
    round: 0,
    coinbase: validator!.address,
    parentCommitRound: 0,
    parentCommitSeals: [...ledger.headSeals],
  })
  t.equal(built.block.transactions.length, 2, 'the block is full at the budget')
  t.equal(built.executionMs, 2_000)
})

t.test('the default CPU clock does not run while the thread waits', async (t) => {
  const before = threadCpuMs()
  const wallBefore = performance.now()
  await new Promise((resolve) => setTimeout(resolve, 200))
  const waited = performance.now() - wallBefore
  t.ok(threadCpuMs() - before < waited / 2, 'waiting costs (nearly) no CPU time')
  const busyFrom = threadCpuMs()
  const until = performance.now() + 50
  while (performance.now() < until) {
    // busy
  }
  t.ok(threadCpuMs() - busyFrom > 0, 'running code does')
})
