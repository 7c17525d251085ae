import { createBlockHeader } from '@ethereumjs/block'
import { bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { randomPrivateKey } from '../crypto/index.ts'
import { keyPairFromPrivateKey } from '../lib/keys.ts'
import { type ConsensusExtraData, emptyVanity } from './extra-data.ts'
import { VoteProposals, VoteTally } from './validator-votes.ts'

const keys = Array.from({ length: 5 }, () => keyPairFromPrivateKey(randomPrivateKey()))
const [a, b, c, d, e] = keys as [
  (typeof keys)[0],
  (typeof keys)[0],
  (typeof keys)[0],
  (typeof keys)[0],
  (typeof keys)[0],
]

function importBlock(
  tally: VoteTally,
  number: bigint,
  proposer: Uint8Array,
  vote: ConsensusExtraData['vote'],
) {
  const header = createBlockHeader(
    { number, coinbase: proposer },
    { skipConsensusFormatValidation: true },
  )
  const extra: ConsensusExtraData = {
    vanity: emptyVanity(),
    round: 0,
    vote,
    validators: [],
    parentCommitRound: 0,
    parentCommitSeals: [],
  }
  tally.prepareBlock(header, extra).apply()
}
const has = (tally: VoteTally, n: bigint, who: Uint8Array) =>
  tally.validatorsAt(n).some((v) => bytesToHex(v) === bytesToHex(who))

t.test('a majority of the current set adds, then removes, from the next block', (t) => {
  const tally = new VoteTally([a.address, b.address, c.address, d.address], 100)
  importBlock(tally, 1n, a.address, { address: e.address, add: true })
  importBlock(tally, 2n, b.address, { address: e.address, add: true })
  t.notOk(has(tally, 3n, e.address), '2 of 4 is not a majority')
  importBlock(tally, 3n, b.address, { address: e.address, add: true })
  t.notOk(has(tally, 4n, e.address), 'a repeated vote of the same validator counts once')
  importBlock(tally, 4n, c.address, { address: e.address, add: true })
  t.ok(has(tally, 5n, e.address), '3 of 4 adds from the next block')
  t.notOk(has(tally, 4n, e.address), 'history is kept: not a validator of block 4')
  t.equal(tally.tally().size, 0, 'votes for the applied change are cleared')
  // Removing needs 3 of 5.
  for (const [n, voter] of [
    [5n, a],
    [6n, b],
    [7n, e],
  ] as const)
    importBlock(tally, n, voter.address, { address: e.address, add: false })
  t.ok(has(tally, 7n, e.address))
  t.notOk(has(tally, 8n, e.address), '3 of 5 remove from the next block')
  t.end()
})

t.test('epoch blocks reset pending votes; snapshots restore exactly', (t) => {
  const tally = new VoteTally([a.address, b.address, c.address, d.address], 4)
  importBlock(tally, 1n, a.address, { address: e.address, add: true })
  importBlock(tally, 2n, b.address, { address: e.address, add: true })
  importBlock(tally, 4n, c.address, null)
  t.equal(tally.tally().size, 0, 'epoch block 4 cleared the votes')
  importBlock(tally, 5n, c.address, { address: e.address, add: true })
  t.notOk(has(tally, 6n, e.address), 'old votes do not count after the epoch')
  const header = createBlockHeader(
    { number: 6n, coinbase: d.address },
    { skipConsensusFormatValidation: true },
  )
  const next = tally.prepareBlock(header, {
    vanity: emptyVanity(),
    round: 0,
    vote: { address: e.address, add: true },
    validators: [],
    parentCommitRound: 0,
    parentCommitSeals: [],
  })
  t.notOk(has(tally, 7n, e.address), 'prepareBlock does not apply by itself')
  const restored = new VoteTally([a.address], 4)
  restored.restore(next.snapshot)
  t.same(restored.validatorsAt(1n), tally.validatorsAt(1n))
  t.same([...restored.tally().keys()], [...tally.tally().keys()])
  t.end()
})

t.test(
  'proposals: one meaningful vote per block, none on epoch blocks, fulfilled wishes dropped',
  (t) => {
    const tally = new VoteTally([a.address, b.address], 10)
    const wishes = new VoteProposals()
    wishes.propose(a.address, true) // already a member: meaningless, dropped
    wishes.propose(e.address, true)
    t.same(wishes.voteFor(10n, tally), null, 'no vote on an epoch block')
    t.same(wishes.voteFor(3n, tally), { address: e.address, add: true })
    t.same(
      wishes.list().map((w) => w.address),
      [e.addressHex],
    )
    t.ok(wishes.discard(e.address))
    t.same(wishes.voteFor(3n, tally), null)
    t.end()
  },
)
