/**
 * Crash-restart scenarios on the simulated network (test/support/qbft-network.ts): a
 * validator's engine state is lost, its consensus record (and written blocks) survive.
 * Deterministic: fixed seeds, simulated clock.
 */
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import t from 'tap'
import { SimNetwork } from '../../../test/support/qbft-network.ts'

t.test(
  'amnesia: committers that restart keep their lock, no second block at the height',
  async (t) => {
    const net = new SimNetwork({ validators: 4, seed: 19 })
    // proposer(1, 0) = node 1, proposer(1, 1) = node 2
    const [D, A, B, C] = [0, 1, 2, 3] as const
    // Round 0 of height 1: D never prepares and only A sees the commits.
    net.filter = (e) => {
      const p = e.message.signed.payload
      if (p.height !== 1n || p.round !== 0) return 'deliver'
      if (e.message.kind === 'PREPARE' && e.to === D) return 'drop'
      if (e.message.kind === 'COMMIT' && e.to !== A) return 'drop'
      return 'deliver'
    }
    net.start(1n)
    t.ok(await net.run(() => net.nodes[A]!.decisions.has(1n), 10_000), 'A decides height 1')
    const x = net.nodes[A]!.decisions.get(1n)!.block.hash
    for (const i of [B, C]) {
      const sent = net.nodes[i]!.broadcasts.length
      t.ok(sent >= 2, `node ${i} sent its PREPARE and COMMIT before the crash`)
    }
    // A is cut off with its decision; B and C lose their engine state.
    net.crash(A)
    net.crash(B)
    net.crash(C)
    net.restart(B, { sync: false })
    net.restart(C, { sync: false })
    net.filter = () => 'deliver'
    const others = [B, C, D].map((i) => net.nodes[i]!)
    t.ok(await net.run(() => net.minHead(others) >= 3n, 120_000), 'B, C and D go on without A')
    for (const node of others) {
      const decided = node.decisions.get(1n)
      t.ok(decided, `node ${node.index} decided height 1`)
      t.equal(
        bytesToHex(decided!.block.hash),
        bytesToHex(x),
        `node ${node.index} decided the block A decided at height 1`,
      )
    }
    t.doesNotThrow(() => net.assertNoFork(), 'no height has two decided blocks')
    t.same(net.selfForks, [])
    // A comes back and catches up.
    net.restart(A)
    t.ok(await net.run(() => net.minHead() >= 5n, 120_000), 'all four reach height 5')
    t.doesNotThrow(() => net.assertNoFork())
  },
)

t.test('a restarted round-0 proposer re-proposes its block and is no equivocator', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 20 })
  const P = 1 // proposer(1, 0)
  net.start(1n)
  t.ok(await net.run(() => net.nodes[P]!.broadcasts.length >= 1, 1_000), 'P proposed')
  const first = net.nodes[P]!.broadcasts[0]!
  net.crash(P)
  net.restart(P, { sync: false })
  t.ok(await net.run(() => net.minHead() >= 3n, 60_000), 'the network goes on')
  t.doesNotThrow(() => net.assertNoFork())
  for (const node of net.nodes) {
    t.same(node.evidence.length, 0, `node ${node.index} recorded no equivocation`)
    const stats = node.engine
      .status()
      .validatorStats.find((s) => equalsBytes(s.address, net.nodes[P]!.address))
    t.equal(stats?.equivocations ?? 0, 0)
  }
  const reproposed = net.nodes[P]!.broadcasts.filter((b) => equalsBytes(b, first))
  t.ok(reproposed.length >= 2, 'the restarted proposer sent the very same PROPOSAL again')
})
