/**
 * Crash-restart scenarios on the simulated network (test/support/qbft-network.ts): a
 * validator's engine state is lost, its consensus record (and written blocks) survive.
 * Deterministic: fixed seeds, simulated clock.
 */
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import t from 'tap'
import {
  CHAIN_ID,
  SimNetwork,
  type SimNode,
  testBlock,
} from '../../../test/support/qbft-network.ts'
import { sign } from '../../crypto/index.ts'
import { verifyEvidence } from './engine.ts'
import { decodeMessage, encodeMessage, type QbftMessage, signPayload } from './messages.ts'

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

/** What a signed message binds: the block digest, or a round change's prepared (round, digest). */
function boundDigest(message: QbftMessage): string {
  const payload = message.signed.payload
  if (payload.kind !== 'ROUND_CHANGE') return bytesToHex(payload.digest)
  const prepared = payload.prepared
  return prepared === null ? 'none' : `${prepared.round}:${bytesToHex(prepared.digest)}`
}

interface ChaosReport {
  problems: string[]
  heights: bigint
  crashes: { afterRecord: number; afterDecide: number; other: number }
  restarts: number
}

/**
 * Random crash-restarts (also between record and send, and between decide and write) with
 * random drops, delays, duplicates and reordering, in rounds of chaos followed by a calm
 * spell with a quorum up, over `targetHeight` heights. Returns what went wrong.
 */
async function chaos(seed: number, targetHeight: bigint): Promise<ChaosReport> {
  const net = new SimNetwork({
    validators: 4,
    seed,
    latencyMs: [2, 30],
    blockPeriodMs: 100,
    syncAfterMs: 1_000,
    writeDelayMs: 20,
    engine: { roundTimeoutBaseMs: 300, roundTimeoutMaxMs: 2_400 },
  })
  const random = () => net.random()
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!
  const report: ChaosReport = {
    problems: [],
    heights: 0n,
    crashes: { afterRecord: 0, afterDecide: 0, other: 0 },
    restarts: 0,
  }
  const quorum = 3
  const online = () => net.nodes.filter((n) => n.online)
  const head = (nodes: SimNode[]) =>
    nodes.reduce((max, n) => (net.writtenHead(n) > max ? net.writtenHead(n) : max), 0n)
  const crash = (node: SimNode) => {
    const unwritten = [...node.decisions.keys()].some((h) => !node.written.has(h))
    if (unwritten) report.crashes.afterDecide++
    else report.crashes.other++
    net.crash(node.index)
  }
  let faults = true
  net.filter = () => {
    if (!faults) return 'deliver'
    const roll = random()
    if (roll < 0.1) return 'drop'
    if (roll < 0.15) return { duplicateAfterMs: Math.floor(random() * 200) }
    if (roll < 0.3) return { delayMs: Math.floor(random() * 400) }
    return 'deliver'
  }
  net.crashOnDecide = () => {
    if (!faults || random() >= 0.03) return false
    report.crashes.afterDecide++
    return true
  }
  net.crashOnRecord = () => {
    if (!faults || random() >= 0.02) return false
    report.crashes.afterRecord++
    return true
  }
  net.start(1n)
  let phase = 0
  while (head(net.nodes) < targetHeight && phase < 40) {
    phase++
    // Chaos: crashes of any node at any moment, restarts after a while, a faulty network.
    faults = true
    const chaosEnd = net.now + 1_500 + Math.floor(random() * 1_500)
    while (net.now < chaosEnd) {
      await net.run(() => false, net.now + 20 + Math.floor(random() * 80))
      const up = online()
      if (up.length > 0 && random() < 0.1) crash(pick(up))
      for (const node of net.nodes) {
        if (!node.online && random() < 0.15) {
          net.restart(node.index)
          report.restarts++
        }
      }
    }
    // Calm: a quorum (at least) up, no network faults: the chain must move.
    faults = false
    const want = quorum + Math.floor(random() * (net.nodes.length - quorum + 1))
    for (const node of net.nodes) {
      if (online().length >= want) break
      if (!node.online) {
        net.restart(node.index)
        report.restarts++
      }
    }
    const up = online()
    const from = head(up)
    const moved = await net.run(() => head(up) >= from + 2n, net.now + 60_000)
    if (!moved) report.problems.push(`phase ${phase}: ${up.length} nodes up, stuck at ${head(up)}`)
  }
  // Everyone back: all catch up.
  faults = false
  for (const node of net.nodes) if (!node.online) net.restart(node.index)
  const target = head(net.nodes)
  if (
    !(await net.run(() => net.nodes.every((n) => net.writtenHead(n) >= target), net.now + 60_000))
  )
    report.problems.push(`not every node reached height ${target}`)
  report.heights = target

  try {
    net.assertNoFork()
  } catch (err) {
    report.problems.push(String(err))
  }
  report.problems.push(...net.selfForks)
  const signedBy = new Map<string, string>()
  const sources = [...net.sent.map(({ from, message }) => ({ from, message }))]
  for (const { from, message } of sources) {
    const p = message.signed.payload
    const key = `node ${from} ${p.kind} at (${p.height}, ${p.round})`
    const digest = boundDigest(message)
    const before = signedBy.get(key)
    if (before === undefined) signedBy.set(key, digest)
    else if (before !== digest) report.problems.push(`${key}: signed ${before} and ${digest}`)
  }
  for (const node of net.nodes) {
    if (node.evidence.length > 0)
      report.problems.push(`node ${node.index} holds evidence against honest validators`)
  }
  return report
}

t.test(
  'random crash-restarts, drops, delays, duplicates: no fork, no double sign, progress',
  async (t) => {
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    let afterRecord = 0
    let afterDecide = 0
    for (const seed of seeds) {
      const report = await chaos(seed, 25n)
      t.same(report.problems, [], `seed ${seed}: no problems (rerun with this seed to replay)`)
      t.ok(report.heights >= 25n, `seed ${seed}: reached height ${report.heights}`)
      t.ok(report.restarts > 0, `seed ${seed}: ${report.restarts} restarts`)
      afterRecord += report.crashes.afterRecord
      afterDecide += report.crashes.afterDecide
      t.comment(`seed ${seed}: ${JSON.stringify(report.crashes)}, ${report.restarts} restarts`)
    }
    t.ok(afterRecord > 0, `crashes between record and send happened (${afterRecord})`)
    t.ok(afterDecide > 0, `crashes between decide and write happened (${afterDecide})`)
  },
)

t.test('a restarted validator never signs a second digest for a step it signed', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 21 })
  const V = 0
  const P = net.nodes[1]! // proposer(1, 0)
  // Only the proposal reaches V; V prepares X, then crashes with nothing else seen.
  net.filter = (e) => (e.to === V && e.message.kind === 'PROPOSAL' ? 'deliver' : 'drop')
  net.start(1n)
  const prepared = () =>
    net.nodes[V]!.record.find((entry) => entry.kind === 'PREPARE' && entry.height === 1n)
  t.ok(await net.run(() => prepared() !== undefined, 1_000), 'V prepared X')
  const x = prepared()!.digest!
  net.crash(V)
  net.restart(V, { sync: false })
  const sentBefore = net.nodes[V]!.broadcasts.length
  // The proposer (Byzantine now) sends V another block for the same (1, 0).
  const y = testBlock({ height: 1n, round: 0, proposer: P.address, salt: Uint8Array.of(99) })
  const signer = { address: P.address, sign: (hash: Uint8Array) => sign(hash, P.key) }
  const proposal = encodeMessage({
    kind: 'PROPOSAL',
    signed: signPayload(
      { kind: 'PROPOSAL', height: 1n, round: 0, digest: y.hash },
      CHAIN_ID,
      signer,
    ),
    block: y.encoded,
    roundChanges: [],
    prepares: [],
  })
  const outcome = await net.inject(V, proposal)
  t.equal(outcome.action, 'ACCEPT', 'the new engine had not seen X: Y looks fine to it')
  const prepares = net.nodes[V]!.broadcasts.slice(sentBefore)
    .map((b) => decodeMessage(b, { maxBytes: 1 << 20 }))
    .filter((m) => m.kind === 'PREPARE')
  t.ok(
    prepares.every((m) =>
      equalsBytes(m.signed.payload.kind === 'PREPARE' ? m.signed.payload.digest : x, x),
    ),
    'every PREPARE V sends at (1, 0) is for X',
  )
  t.notOk(
    net.nodes[V]!.record.some(
      (e) => e.kind === 'PREPARE' && e.digest && equalsBytes(e.digest, y.hash),
    ),
    'no PREPARE for Y was ever recorded or signed',
  )
})

t.test('equivocation evidence survives a restart', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 22 })
  const P = net.nodes[1]! // proposer(1, 0)
  net.start(1n)
  const signer = { address: P.address, sign: (hash: Uint8Array) => sign(hash, P.key) }
  const proposal = (salt: number) => {
    const block = testBlock({
      height: 1n,
      round: 0,
      proposer: P.address,
      salt: Uint8Array.of(salt),
    })
    return encodeMessage({
      kind: 'PROPOSAL',
      signed: signPayload(
        { kind: 'PROPOSAL', height: 1n, round: 0, digest: block.hash },
        CHAIN_ID,
        signer,
      ),
      block: block.encoded,
      roundChanges: [],
      prepares: [],
    })
  }
  await net.inject(0, proposal(1))
  await net.inject(0, proposal(2))
  t.equal(net.nodes[0]!.evidence.length, 1, 'node 0 caught the double proposal')
  net.crash(0)
  net.restart(0, { sync: false })
  const engine = net.nodes[0]!.engine
  t.equal(engine.evidence().length, 1, 'the restarted engine still reports it')
  t.equal(engine.status().evidenceCount, 1)
  const stats = engine.status().validatorStats.find((s) => equalsBytes(s.address, P.address))
  t.equal(stats?.equivocations, 1, 'and counts it against the proposer')
  t.ok(verifyEvidence(engine.evidence()[0]!, CHAIN_ID), 'the kept evidence still verifies')
})
