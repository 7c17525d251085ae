import { Block, createBlockFromRLP } from '@ethereumjs/block'
import { bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { makeGenesis, transfer } from '../../test/helpers/chain.ts'
import { createChainCommon } from '../execution/common.ts'
import { withKnownTransactions } from './reuse.ts'

t.test('decoded proposals take the pool objects of transactions it holds', (t) => {
  const setup = makeGenesis({ accounts: 2 })
  const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
  const [alice, bob] = setup.accounts as [(typeof setup.accounts)[0], (typeof setup.accounts)[0]]
  const pooled = transfer(common, alice, bob.address, 0n, 1n)
  pooled.getSenderAddress() // recovered once, cached on the object
  const other = transfer(common, bob, alice.address, 0n, 1n)
  const encoded = new Block(undefined, [pooled, other], [], [], { common }).serialize()
  const decoded = createBlockFromRLP(encoded, { common, skipConsensusFormatValidation: true })
  const pool = new Map([[bytesToHex(pooled.hash()), { tx: pooled }]])

  const block = withKnownTransactions(decoded, pool)
  t.equal(block.transactions[0], pooled, 'the pool object')
  t.equal(block.transactions[1], decoded.transactions[1], 'unknown ones stay')
  t.same(block.hash(), decoded.hash(), 'same header')
  t.same(block.serialize(), encoded, 'same bytes')
  t.equal(withKnownTransactions(decoded, new Map()), decoded, 'nothing known: same block')
  t.end()
})
