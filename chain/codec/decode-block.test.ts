import { Block, createBlockFromRLP } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { createTx } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { makeGenesis, transfer } from '../../test/support/chain.ts'
import { createChainCommon } from '../execution/common.ts'
import { decodeBlock } from './decode-block.ts'

const setup = makeGenesis({ accounts: 2 })
const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
const [alice, bob] = setup.accounts as [(typeof setup.accounts)[0], (typeof setup.accounts)[0]]
const fromRlp = (encoded: Uint8Array) =>
  createBlockFromRLP(encoded, { common, skipConsensusFormatValidation: true })

t.test('a decoded block takes the known object of each transaction the pool holds', (t) => {
  const pooled = transfer(common, alice, bob.address, 0n, 1n)
  pooled.getSenderAddress() // recovered once, cached on the object
  const legacy = createTx(
    { type: 0, nonce: 1n, to: bob.address, value: 1n, gasLimit: 21_000n, gasPrice: 10n ** 10n },
    { common },
  ).sign(alice.privateKey)
  const other = transfer(common, bob, alice.address, 0n, 1n)
  const encoded = new Block(undefined, [pooled, legacy, other], [], [], { common }).serialize()
  const pool = new Map([
    [bytesToHex(pooled.hash()), { tx: pooled }],
    [bytesToHex(legacy.hash()), { tx: legacy }],
  ])

  const block = decodeBlock(encoded, common, pool)
  t.equal(block.transactions[0], pooled, 'a typed transaction: the pool object')
  t.equal(block.transactions[1], legacy, 'a legacy transaction (a field list in the body) too')
  t.not(block.transactions[2], other, 'an unknown one is decoded')
  t.same(block.transactions[2]!.hash(), other.hash())
  const upstream = fromRlp(encoded)
  t.same(block.hash(), upstream.hash(), 'same header')
  t.same(block.serialize(), encoded, 'same bytes')
  t.same(
    decodeBlock(encoded, common).transactions.map((tx) => tx.hash()),
    upstream.transactions.map((tx) => tx.hash()),
    'without a pool: as createBlockFromRLP',
  )
  t.end()
})

t.test('malformed blocks fail as they do in createBlockFromRLP', (t) => {
  const tx = transfer(common, alice, bob.address, 0n, 1n)
  const good = new Block(undefined, [tx], [], [], { common })
  const [header, , uncles, withdrawals] = RLP.decode(good.serialize()) as Uint8Array[][]
  const pool = new Map([[bytesToHex(tx.hash()), { tx }]])
  const cases: Array<[string, Uint8Array]> = [
    ['not a list', RLP.encode(new Uint8Array([1, 2, 3]))],
    ['transactions not a list', RLP.encode([header!, new Uint8Array([1]), uncles!, withdrawals!])],
    ['an undecodable transaction', RLP.encode([header!, [new Uint8Array([2, 1])], [], []])],
    ['a short header', RLP.encode([header!.slice(0, 5), [], [], []])],
    ['too many parts', RLP.encode([header!, [], [], [], [], []])],
  ]
  for (const [what, encoded] of cases) {
    t.throws(() => decodeBlock(encoded, common, pool), { code: 'BLOCK_MALFORMED' }, what)
    t.throws(() => decodeBlock(encoded, common), { code: 'BLOCK_MALFORMED' }, `${what} (no pool)`)
    t.throws(() => fromRlp(encoded), `${what} (upstream)`)
  }

  // Stricter than upstream, with or without a pool: a byte string is not a transaction list.
  const emptyBytes = RLP.encode([header!, new Uint8Array(0), uncles!, withdrawals!])
  t.equal(fromRlp(emptyBytes).transactions.length, 0, 'upstream reads 0x80 as no transactions')
  t.throws(() => decodeBlock(emptyBytes, common, pool), { code: 'BLOCK_MALFORMED' })
  t.throws(() => decodeBlock(emptyBytes, common), { code: 'BLOCK_MALFORMED' })
  t.end()
})

t.test('a legacy transaction given as bytes in the body decodes as upstream does', (t) => {
  const legacy = createTx(
    { type: 0, nonce: 0n, to: bob.address, value: 1n, gasLimit: 21_000n, gasPrice: 10n ** 10n },
    { common },
  ).sign(alice.privateKey)
  const block = new Block(undefined, [legacy], [], [], { common })
  const [header, , uncles, withdrawals] = RLP.decode(block.serialize()) as Uint8Array[][]
  const wrapped = RLP.encode([header!, [legacy.serialize()], uncles!, withdrawals!])
  const pool = new Map([[bytesToHex(legacy.hash()), { tx: legacy }]])
  t.equal(decodeBlock(wrapped, common, pool).transactions[0], legacy, 'the pool object')
  t.same(
    decodeBlock(wrapped, common).transactions[0]!.hash(),
    fromRlp(wrapped).transactions[0]!.hash(),
    'without a pool, the same transaction as upstream',
  )
  t.end()
})
