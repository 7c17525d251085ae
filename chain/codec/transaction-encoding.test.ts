import { Block } from '@ethereumjs/block'
import { createTx, createTxFromRLP } from '@ethereumjs/tx'
import t from 'tap'
import { makeGenesis, transfer } from '../../test/support/chain.ts'
import { keccak256 } from '../crypto/index.ts'
import { createChainCommon } from '../execution/common.ts'
import { decodeRawTransaction } from '../txpool/decode.ts'
import { decodeBlock } from './decode-block.ts'
import { freezeWithEncoding } from './transaction-encoding.ts'

const setup = makeGenesis({ accounts: 2 })
const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
const [alice, bob] = setup.accounts as [(typeof setup.accounts)[0], (typeof setup.accounts)[0]]

t.test('a decoded transaction serializes to its bytes once, frozen like upstream', (t) => {
  const typed = transfer(common, alice, bob.address, 0n, 1n).serialize()
  const legacy = createTx(
    { type: 0, nonce: 1n, to: bob.address, value: 1n, gasLimit: 21_000n, gasPrice: 10n ** 10n },
    { common },
  )
    .sign(alice.privateKey)
    .serialize()
  for (const [what, raw] of [
    ['typed', typed],
    ['legacy', legacy],
  ] as const) {
    const tx = decodeRawTransaction(raw, common, 128 * 1024)
    const upstream = createTxFromRLP(raw, { common })
    t.same(tx.serialize(), upstream.serialize(), `${what}: the encoding upstream computes`)
    t.same(tx.serialize(), raw, `${what}: which is the received bytes`)
    t.equal(tx.serialize(), tx.serialize(), `${what}: computed once`)
    t.same(tx.hash(), keccak256(raw), `${what}: hash of those bytes`)
    t.ok(Object.isFrozen(tx), `${what}: frozen`)
    t.throws(() => {
      ;(tx as { nonce: bigint }).nonce = 9n
    }, TypeError)
    t.equal(tx.nonce, upstream.nonce, `${what}: fields cannot change under the encoding`)
  }
  t.end()
})

t.test('transactions a block brings that the pool lacks get the same treatment', (t) => {
  const tx = transfer(common, alice, bob.address, 0n, 1n)
  const encoded = new Block(undefined, [tx], [], [], { common }).serialize()
  const [decoded] = decodeBlock(encoded, common).transactions
  t.ok(Object.isFrozen(decoded))
  t.equal(decoded!.serialize(), decoded!.serialize(), 'encoded once')
  t.same(decoded!.serialize(), tx.serialize())
  t.same(decodeBlock(encoded, common).serialize(), encoded, 'the block re-encodes to its bytes')
  t.end()
})

t.test('an already frozen transaction is returned as it is', (t) => {
  const tx = transfer(common, alice, bob.address, 0n, 1n)
  t.equal(freezeWithEncoding(tx), tx)
  t.not(tx.serialize(), tx.serialize(), 'upstream encodes at every call')
  t.end()
})
