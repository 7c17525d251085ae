/**
 * The ledger keeps accounts at the head across heads for the pool. Every read must equal a
 * fresh read of the head state, after blocks that change cached accounts, create one, and
 * whether the import ran the block itself or took a build's execution.
 */
import { Account, Address, bytesToUnprefixedHex } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import {
  buildSealedBlock,
  makeGenesis,
  openTestLedger,
  transfer,
} from '../../test/support/chain.ts'
import { HeadAccounts } from './head-accounts.ts'
import type { Ledger } from './ledger.ts'

const setup = makeGenesis({ validators: 1, accounts: 3 })
const [validator] = setup.validators
const [alice, bob, carol] = setup.accounts as [
  (typeof setup.accounts)[0],
  (typeof setup.accounts)[0],
  (typeof setup.accounts)[0],
]
const newcomer = new Address(new Uint8Array(20).fill(0x42))
const everyone = [
  alice.address,
  bob.address,
  carol.address,
  validator!.address,
  newcomer.bytes,
].map((bytes) => new Address(bytes))

async function expectHeadAccounts(t: Test, ledger: Ledger, what: string) {
  const fresh = ledger.cachedStateAt(ledger.head.stateRoot)
  for (const address of everyone) {
    const kept = await ledger.headAccount(address)
    const read = await fresh.getAccount(address)
    t.same(
      kept === undefined ? 'none' : [kept.nonce, kept.balance, kept.storageRoot, kept.codeHash],
      read === undefined ? 'none' : [read.nonce, read.balance, read.storageRoot, read.codeHash],
      `${what}: ${address}`,
    )
  }
}

t.test('accounts at the head stay right across blocks', async (t) => {
  const producer = await openTestLedger(t, setup, 'head-accounts-')
  const importer = await openTestLedger(t, setup, 'head-accounts-')
  const common = producer.ledger.common
  // Everyone is read (and kept) before any block, then each block changes some of them.
  await expectHeadAccounts(t, producer.ledger, 'genesis')
  await expectHeadAccounts(t, importer.ledger, 'genesis (importer)')
  const blocks = [
    [transfer(common, alice, bob.address, 0n, 1000n)],
    [transfer(common, bob, carol.address, 0n, 7n), transfer(common, alice, bob.address, 1n, 5n)],
    [transfer(common, carol, newcomer.bytes, 0n, 3n)],
    [],
    [transfer(common, alice, newcomer.bytes, 2n, 1n)],
  ]
  let time = 2_000_000_001_000
  for (const [i, txs] of blocks.entries()) {
    time += 1000
    const { block, seal } = await buildSealedBlock(producer.ledger, validator!, txs, time)
    await expectHeadAccounts(t, producer.ledger, `block ${i + 1} (built here)`)
    // The importer runs the block itself.
    await importer.ledger.importBlock(block, { seals: [seal], sealsVerified: true })
    await expectHeadAccounts(t, importer.ledger, `block ${i + 1} (run on import)`)
  }
  t.equal((await producer.ledger.headAccount(newcomer))?.balance, 4n, 'the newcomer exists')
})

t.test('the kept accounts: copies, forgotten when a block is not known, bounded', (t) => {
  const accounts = new HeadAccounts(2)
  const key = (n: number) => bytesToUnprefixedHex(new Uint8Array(20).fill(n))
  t.equal(accounts.get(key(1)), undefined, 'not known')
  accounts.set(key(1), undefined)
  t.equal(accounts.get(key(1)), null, 'known not to exist')
  const mine = new Account(1n, 10n)
  accounts.set(key(2), mine)
  mine.balance = 0n
  const read = accounts.get(key(2))!
  read.nonce = 5n
  t.match(accounts.get(key(2)), { nonce: 1n, balance: 10n }, 'copies in and out')
  accounts.applyBlock(new Map([[key(2), new Account(2n, 8n).serialize()]]))
  t.match(accounts.get(key(2)), { nonce: 2n, balance: 8n }, 'a block writes it')
  accounts.applyBlock(new Map([[key(3), null]]))
  t.equal(accounts.size, 2, 'bounded')
  t.equal(accounts.get(key(1)), undefined, 'the oldest write went first')
  accounts.applyBlock(undefined)
  t.equal(accounts.size, 0, 'a block whose writes are not known clears all')
  t.end()
})
