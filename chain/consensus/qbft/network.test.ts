/**
 * Multi-engine scenarios on the simulated network (test/support/qbft-network.ts): happy path, silent
 * proposer, re-proposal of a prepared block, bad traffic, bad seals, equivocation, round
 * jumps, loss of quorum and recovery, buffer floods, random faults. Deterministic: fixed
 * seeds, simulated clock.
 */
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import t from 'tap'
import {
  CHAIN_ID,
  decodeTestBlock,
  type SimNetwork as Net,
  SimNetwork,
  testBlock,
  testKey,
} from '../../../test/support/qbft-network.ts'
import { privateKeyToAddress, sign } from '../../crypto/index.ts'
import { commitSealDigest, verifyCommitSeals } from '../seals.ts'
import { DEFAULT_QBFT_OPTIONS, verifyEvidence } from './engine.ts'
import {
  decodeMessage,
  decodeSignedPayload,
  encodeMessage,
  type QbftMessage,
  type QbftSigner,
  signPayload,
} from './messages.ts'

function signerOf(key: Uint8Array): QbftSigner {
  return { address: privateKeyToAddress(key), sign: (hash) => sign(hash, key) }
}

/**
 * Problems with the chain the nodes built: a fork, a decision with fewer than q valid
 * seals, or a node below `heights`. Empty when all is well.
 */
function chainProblems(net: Net, heights: bigint, nodes = net.nodes): string[] {
  const problems: string[] = []
  try {
    net.assertNoFork()
  } catch (err) {
    problems.push(String(err))
  }
  for (const node of net.nodes) {
    for (const [height, decision] of node.decisions) {
      try {
        verifyCommitSeals(
          decision.block.hash,
          decision.round,
          decision.commitSeals,
          net.validators,
          {
            strict: true,
          },
        )
      } catch (err) {
        problems.push(`node ${node.index} height ${height}: ${String(err)}`)
      }
    }
  }
  const head = net.minHead(nodes)
  if (head < heights) problems.push(`min head ${head} < ${heights}`)
  return problems
}

t.test('happy path: n = 1, 4, 7 finalize consecutive heights with valid seals', async (t) => {
  for (const n of [1, 4, 7]) {
    const net = new SimNetwork({ validators: n, seed: n })
    net.start(1n)
    const ok = await net.run(() => net.minHead() >= 5n, 60_000)
    t.ok(ok, `n=${n} finalized 5 heights`)
    t.same(chainProblems(net, 5n), [])
    for (const node of net.nodes) {
      for (let h = 1n; h <= 5n; h++) {
        const d = node.decisions.get(h)
        t.ok(d, `n=${n} node ${node.index} decided ${h}`)
        t.equal(d?.round, 0, 'round 0 on the happy path')
        // proposer(h, 0) = validators[(h + 0) mod n]
        const proposer = decodeTestBlock(d!.block.encoded).proposer
        t.ok(equalsBytes(proposer, net.validators[Number(h % BigInt(n))]!), 'round-robin proposer')
      }
      const rejected = node.outcomes.filter((o) => o.outcome.action === 'REJECT')
      t.equal(rejected.length, 0, 'no honest message rejected')
    }
    t.ok(net.now < 5 * 1_000, `n=${n} took ${net.now} ms of simulated time: no timeouts`)
  }
})

const kindOf = (m: QbftMessage) => m.kind
const at = (m: QbftMessage) => m.signed.payload

t.test('a silent proposer leads to a round change and the next proposer finalizes', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 2 })
  const silent = net.nodes[1]! // proposer(1, 0) = validators[(1 + 0) mod 4]
  silent.online = false
  net.start(1n)
  const online = net.nodes.filter((n) => n.online)
  t.ok(await net.run(() => net.minHead(online) >= 5n, 120_000), 'online nodes reach height 5')
  t.same(chainProblems(net, 5n, online), [])
  for (const node of online) {
    const d1 = node.decisions.get(1n)!
    t.equal(d1.round, 1, 'height 1 decided in round 1')
    t.ok(
      equalsBytes(decodeTestBlock(d1.block.encoded).proposer, net.validators[2]!),
      'by proposer(1, 1)',
    )
    // height 5: proposer(5, 0) = validators[1] is the silent one again
    t.equal(node.decisions.get(5n)!.round, 1)
    const stats = node.engine
      .status()
      .validatorStats.find((s) => equalsBytes(s.address, silent.address))!
    t.equal(stats.proposalsMissed, 2, 'two missed proposals recorded')
    t.equal(stats.proposalsMade, 0)
  }
  t.same(silent.decisions.size, 0)
})

t.test('a block prepared in a failed round is re-proposed unchanged', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 3 })
  // All round-0 COMMITs of height 1 are lost: everyone prepares, nobody decides.
  net.filter = (e) =>
    kindOf(e.message) === 'COMMIT' && at(e.message).height === 1n && at(e.message).round === 0
      ? 'drop'
      : 'deliver'
  net.start(1n)
  t.ok(await net.run(() => net.minHead() >= 2n, 60_000))
  t.same(chainProblems(net, 2n), [])
  const proposal0 = net.nodes[1]!.broadcasts.map((b) =>
    decodeMessage(b, { maxBytes: 1 << 20 }),
  ).find((m) => m.kind === 'PROPOSAL' && m.signed.payload.round === 0)!
  for (const node of net.nodes) {
    const d = node.decisions.get(1n)!
    t.equal(d.round, 1, `node ${node.index}: decided in round 1`)
    t.ok(
      proposal0.kind === 'PROPOSAL' && equalsBytes(d.block.hash, proposal0.signed.payload.digest),
      'the round-0 block, same hash',
    )
    const rc = node.broadcasts
      .map((b) => decodeMessage(b, { maxBytes: 1 << 20 }))
      .find((m) => m.kind === 'ROUND_CHANGE')
    t.equal(
      rc?.kind === 'ROUND_CHANGE' && rc.signed.payload.prepared?.round,
      0,
      'RC carried the certificate',
    )
  }
  const proposal1 = net.nodes[2]!.broadcasts.map((b) =>
    decodeMessage(b, { maxBytes: 1 << 20 }),
  ).find((m) => m.kind === 'PROPOSAL' && m.signed.payload.round === 1)
  t.ok(
    proposal1?.kind === 'PROPOSAL' &&
      proposal1.roundChanges.length >= 3 &&
      proposal1.prepares.length >= 3,
  )
})

t.test('a node that decided in round 0 and the rest deciding in round 1 agree', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 4 })
  // Round-0 COMMITs of height 1 reach node 0 only: it decides, the others time out.
  net.filter = (e) =>
    kindOf(e.message) === 'COMMIT' &&
    at(e.message).height === 1n &&
    at(e.message).round === 0 &&
    e.to !== 0
      ? 'drop'
      : 'deliver'
  net.start(1n)
  t.ok(await net.run(() => net.minHead() >= 4n, 120_000))
  t.same(chainProblems(net, 4n), [])
  t.equal(net.nodes[0]!.decisions.get(1n)!.round, 0)
  for (const node of net.nodes.slice(1)) t.equal(node.decisions.get(1n)!.round, 1)
})

function prepareBy(key: Uint8Array, height: bigint, round: number, digest: Uint8Array): Uint8Array {
  const signed = signPayload({ kind: 'PREPARE', height, round, digest }, CHAIN_ID, signerOf(key))
  return encodeMessage({ kind: 'PREPARE', signed })
}

t.test('bad traffic is dropped with the right outcome and does not stall progress', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 5 })
  const v = (i: number) => net.nodes[i]!.key
  const x = new Uint8Array(32).fill(0xab)
  net.start(1n)
  const expect = async (bytes: Uint8Array, action: string, code: string, name: string) => {
    const outcome = await net.inject(0, bytes)
    t.equal(outcome.action, action, name)
    t.equal(outcome.action !== 'ACCEPT' && outcome.error.code, code, name)
  }
  const highS = prepareBy(v(3), 1n, 0, x)
  highS.fill(0xff, highS.length - 33, highS.length - 1)
  const wrongProposer = encodeMessage({
    kind: 'PROPOSAL',
    signed: signPayload(
      { kind: 'PROPOSAL', height: 1n, round: 0, digest: x },
      CHAIN_ID,
      signerOf(v(3)),
    ),
    block: Uint8Array.of(1),
    roundChanges: [],
    prepares: [],
  })
  // proposer(1, 1) = validators[2]; a round-1 proposal needs q ROUND-CHANGEs
  const block1 = testBlockFor(net, 1n, 1, 2, 1)
  const unjustified = encodeMessage({
    kind: 'PROPOSAL',
    signed: signPayload(
      { kind: 'PROPOSAL', height: 1n, round: 1, digest: block1.hash },
      CHAIN_ID,
      signerOf(v(2)),
    ),
    block: block1.encoded,
    roundChanges: [],
    prepares: [],
  })
  const mismatched = encodeMessage({
    kind: 'PROPOSAL',
    signed: signPayload(
      { kind: 'PROPOSAL', height: 1n, round: 1, digest: x },
      CHAIN_ID,
      signerOf(v(2)),
    ),
    block: block1.encoded,
    roundChanges: [],
    prepares: [],
  })
  const rcZero = encodeMessage({
    kind: 'ROUND_CHANGE',
    signed: signPayload(
      { kind: 'ROUND_CHANGE', height: 1n, round: 0, prepared: null },
      CHAIN_ID,
      signerOf(v(3)),
    ),
    preparedBlock: null,
    prepares: [],
  })
  await expect(prepareBy(testKey(99), 1n, 0, x), 'REJECT', 'QBFT_NOT_VALIDATOR', 'non-validator')
  await expect(highS, 'REJECT', 'QBFT_BAD_SIGNATURE', 'high-s signature')
  await expect(Uint8Array.of(0xc0), 'REJECT', 'QBFT_MALFORMED', 'empty list')
  await expect(new Uint8Array(100).fill(0x42), 'REJECT', 'QBFT_MALFORMED', 'junk')
  await expect(prepareBy(v(3), 1n, 0, x).subarray(0, 50), 'REJECT', 'QBFT_MALFORMED', 'truncated')
  await expect(wrongProposer, 'REJECT', 'QBFT_WRONG_PROPOSER', 'wrong proposer')
  await expect(unjustified, 'REJECT', 'QBFT_BAD_JUSTIFICATION', 'unjustified round-1 proposal')
  await expect(mismatched, 'REJECT', 'QBFT_BAD_BLOCK', 'block does not hash to the digest')
  await expect(rcZero, 'REJECT', 'QBFT_BAD_ROUND_CHANGE', 'round change to round 0')
  await expect(prepareBy(v(3), 100n, 0, x), 'IGNORE', 'QBFT_FUTURE_HEIGHT', 'far-future height')
  await expect(prepareBy(v(3), 1n, 500, x), 'IGNORE', 'QBFT_FUTURE_ROUND', 'far-future round')
  const dup = prepareBy(v(3), 1n, 3, x)
  await expect(dup, 'ACCEPT', false as unknown as string, 'future-round prepare kept')
  await expect(dup, 'IGNORE', 'QBFT_DUPLICATE', 'duplicate')

  t.ok(await net.run(() => net.minHead() >= 3n, 60_000))
  await expect(prepareBy(v(3), 1n, 0, x), 'IGNORE', 'QBFT_PAST_HEIGHT', 'past height')
  // Round 1 of the current height is over once the node is at round 2.
  t.ok(await net.run(() => net.minHead() >= 5n, 60_000))
  t.same(chainProblems(net, 5n), [])
  for (const node of net.nodes) {
    t.notOk(
      node.outcomes.some((o) => o.from >= 0 && o.outcome.action === 'REJECT'),
      'no honest rejected',
    )
  }
})

t.test('one bad commit seal does not finalize until enough valid seals arrive', async (t) => {
  const net = new SimNetwork({
    validators: 4,
    seed: 6,
    engine: { roundTimeoutBaseMs: 10_000, roundTimeoutMaxMs: 10_000 },
  })
  const badSeal = (bytes: Uint8Array): Uint8Array => {
    const m = decodeMessage(bytes, { maxBytes: 1 << 20 })
    if (m.kind !== 'COMMIT') return bytes
    const p = m.signed.payload
    // A real signature by the author, but over another digest: recovers someone else.
    const commitSeal = sign(
      commitSealDigest(new Uint8Array(32).fill(1), p.round),
      net.nodes[2]!.key,
    )
    const signed = signPayload({ ...p, commitSeal }, CHAIN_ID, signerOf(net.nodes[2]!.key))
    return encodeMessage({ kind: 'COMMIT', signed })
  }
  net.filter = (e) => {
    if (e.to !== 0 || kindOf(e.message) !== 'COMMIT' || at(e.message).height !== 1n)
      return 'deliver'
    if (e.from === 2) return { replace: badSeal(e.bytes) }
    if (e.from === 3) return { delayMs: 2_000 }
    return 'deliver'
  }
  net.start(1n)
  await net.run(() => false, 1_500)
  t.notOk(net.nodes[0]!.decisions.has(1n), 'node 0 holds 2 valid seals + 1 bad: no decision')
  for (const node of net.nodes.slice(1)) t.ok(node.decisions.has(1n), `node ${node.index} decided`)
  const rejected = net.nodes[0]!.outcomes.filter(
    (o) => o.outcome.action === 'REJECT' && o.outcome.error.code === 'QBFT_BAD_COMMIT_SEAL',
  )
  t.equal(rejected.length, 1, 'bad seal rejected')
  t.equal(rejected[0]?.from, 2)
  t.ok(await net.run(() => net.nodes[0]!.decisions.has(1n), 5_000), 'the late valid seal finalizes')
  const d = net.nodes[0]!.decisions.get(1n)!
  const signers = verifyCommitSeals(d.block.hash, d.round, d.commitSeals, net.validators, {
    strict: true,
  })
  t.equal(signers.length, 3)
  t.notOk(signers.includes(bytesToHex(net.nodes[2]!.address)), 'the bad seal is not among them')
  t.same(chainProblems(net, 1n), [])
})

t.test('an equivocating validator is reported with both messages', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 7 })
  // Hold back COMMITs so the height stays open while we inject.
  net.filter = (e) =>
    kindOf(e.message) === 'COMMIT' && net.now < 600 ? { delayMs: 600 } : 'deliver'
  net.start(1n)
  await net.run(() => false, 500)
  t.ok(net.nodes[0]!.engine.status().prepared, 'prepared, not decided')
  const node0 = net.nodes[0]!
  // PREPARE equivocation by validator 3: a second PREPARE(1, 0) for another digest.
  const outcome = await net.inject(
    0,
    prepareBy(net.nodes[3]!.key, 1n, 0, new Uint8Array(32).fill(9)),
  )
  t.equal(outcome.action === 'IGNORE' && outcome.error.code, 'QBFT_EQUIVOCATION')
  // PROPOSAL equivocation by proposer(1, 0) = validator 1: another block for (1, 0).
  const other = testBlockFor(net, 1n, 0, 1, 77)
  const proposal = encodeMessage({
    kind: 'PROPOSAL',
    signed: signPayload(
      { kind: 'PROPOSAL', height: 1n, round: 0, digest: other.hash },
      CHAIN_ID,
      signerOf(net.nodes[1]!.key),
    ),
    block: other.encoded,
    roundChanges: [],
    prepares: [],
  })
  const outcome2 = await net.inject(0, proposal)
  t.equal(outcome2.action === 'IGNORE' && outcome2.error.code, 'QBFT_EQUIVOCATION')
  t.equal((await net.inject(0, proposal)).action, 'IGNORE', 'reported once')

  const evidence = node0.engine.evidence()
  t.equal(evidence.length, 2)
  t.same(node0.evidence, evidence, 'emitted as well as queryable')
  for (const [ev, author, kind] of [
    [evidence[0]!, net.nodes[3]!.address, 'PREPARE'],
    [evidence[1]!, net.nodes[1]!.address, 'PROPOSAL'],
  ] as const) {
    t.ok(equalsBytes(ev.author, author))
    t.equal(ev.kind, kind)
    t.equal(ev.height, 1n)
    t.equal(ev.round, 0)
    t.ok(verifyEvidence(ev, CHAIN_ID), 'evidence verifies on its own')
    const [a, b] = ev.messages.map(decodeSignedPayload)
    t.notSame(a!.payload, b!.payload)
  }
  const stats = node0.engine.status().validatorStats
  t.equal(stats.find((s) => equalsBytes(s.address, net.nodes[3]!.address))!.equivocations, 1)
  t.notOk(
    verifyEvidence(
      { ...evidence[0]!, messages: [evidence[0]!.messages[0], evidence[0]!.messages[0]] },
      CHAIN_ID,
    ),
  )
  t.ok(await net.run(() => net.minHead() >= 2n, 30_000), 'progress continues')
  t.same(chainProblems(net, 2n), [])
})

function testBlockFor(net: Net, height: bigint, round: number, proposer: number, salt: number) {
  return testBlock({
    height,
    round,
    proposer: net.nodes[proposer]!.address,
    salt: Uint8Array.of(salt),
  })
}

t.test('2 of 4 online decide nothing; a third returns, progress resumes, no fork', async (t) => {
  const net = new SimNetwork({ validators: 4, seed: 8 })
  net.nodes[2]!.online = false
  net.nodes[3]!.online = false
  net.start(1n)
  await net.run(() => false, 40_000)
  t.equal(net.minHead(net.nodes.slice(0, 2)), 0n, 'nothing decided')
  t.ok(net.nodes.every((n) => n.decisions.size === 0))
  // Round timers backed off and hit the cap (8 s): round r lasts min(1000 * 2^r, 8000).
  const deadlines = net.nodes[0]!.timers.filter((d): d is number => d !== null)
  const lengths = deadlines.map((d, i) => d - (deadlines[i - 1] ?? 0))
  t.same(lengths.slice(0, 5), [1_000, 2_000, 4_000, 8_000, 8_000], 'exponential backoff')
  t.ok(
    lengths.slice(3).every((g) => g === 8_000),
    'capped',
  )
  const roundBefore = net.nodes[0]!.engine.status().round!
  t.ok(roundBefore >= 5)

  net.nodes[2]!.online = true
  const three = net.nodes.slice(0, 3)
  t.ok(await net.run(() => net.minHead(three) >= 3n, 200_000), 'three validators make progress')
  t.same(chainProblems(net, 3n, three), [])
  // The returning node caught up by the f+1 rule: it jumped from round 1 to the others' round.
  const rcRounds = net.nodes[2]!.broadcasts.map((b) => decodeMessage(b, { maxBytes: 1 << 20 }))
    .filter((m) => m.kind === 'ROUND_CHANGE' && m.signed.payload.height === 1n)
    .map((m) => m.signed.payload.round)
  t.ok(
    rcRounds.some((r) => r >= roundBefore),
    `node 2 jumped (RC rounds ${rcRounds.join(',')})`,
  )
})

t.test('random drops, delays and reordering: safe, and live once sync fills gaps', async (t) => {
  const scenarios = [
    { validators: 4, seed: 101, offline: [] as number[], drop: 0.2 },
    { validators: 4, seed: 102, offline: [], drop: 0.3 },
    { validators: 4, seed: 103, offline: [3], drop: 0.1 },
    { validators: 7, seed: 104, offline: [6], drop: 0.1 },
    // f silent and q = exactly the online nodes: any lost message costs a round, so only
    // delays and reordering here (QBFT itself never retransmits PREPARE/COMMIT).
    { validators: 7, seed: 105, offline: [5, 6], drop: 0 },
  ]
  for (const { validators, seed, offline, drop } of scenarios) {
    const net = new SimNetwork({ validators, seed, syncAfterMs: 20_000, latencyMs: [1, 50] })
    for (const i of offline) net.nodes[i]!.online = false
    net.filter = () => {
      const r = net.random()
      if (r < drop) return 'drop'
      return r < drop + 0.2 ? { delayMs: Math.floor(net.random() * 800) } : 'deliver'
    }
    net.start(1n)
    const live = net.nodes.filter((n) => n.online)
    const ok = await net.run(() => net.minHead(live) >= 4n, 600_000)
    t.ok(ok, `n=${validators} seed=${seed}: 4 heights (at ${net.now} ms)`)
    t.same(chainProblems(net, 4n, live), [], `n=${validators} seed=${seed}: no fork, valid seals`)
  }
})

t.test('flood: future-message buffers stay bounded and progress continues', async (t) => {
  const limits = {
    ...DEFAULT_QBFT_OPTIONS.bufferLimits,
    perHeight: 40,
    perAuthor: 5,
    futureRounds: 4,
  }
  const net = new SimNetwork({
    validators: 4,
    seed: 9,
    engine: { futureHeightWindow: 4, bufferLimits: limits },
  })
  net.start(1n)
  const byzantine = net.nodes[3]!.key
  const counts = new Map<string, number>()
  let maxBuffered = 0
  for (let wave = 0; wave < 6; wave++) {
    const base = net.nodes[0]!.engine.status().height!
    for (let i = 0; i < 100; i++) {
      const digest = new Uint8Array(32).fill(i)
      digest[0] = wave
      const bytes =
        i % 4 === 0
          ? prepareBy(byzantine, base + BigInt(1 + ((i / 4) % 4)), i, digest) // near-future heights
          : i % 4 === 1
            ? prepareBy(byzantine, base, 100 + i, digest) // far-future rounds
            : i % 4 === 2
              ? prepareBy(testKey(1000 + i), base + 1n, 0, digest) // outsiders
              : Uint8Array.from([0xf8, 0x40, wave, ...new Uint8Array(63).fill(i)]) // junk
      const outcome = await net.nodes[0]!.engine.onMessage(bytes)
      const c = outcome.action === 'ACCEPT' ? 'ACCEPT' : outcome.error.code
      counts.set(c, (counts.get(c) ?? 0) + 1)
      maxBuffered = Math.max(maxBuffered, net.nodes[0]!.engine.status().bufferedFutureMessages)
    }
    await net.run(() => net.nodes[0]!.engine.status().height! > base, 60_000)
  }
  t.comment(JSON.stringify(Object.fromEntries(counts)))
  t.ok(maxBuffered <= 4 * limits.perHeight, `buffer stayed bounded (max ${maxBuffered})`)
  t.ok((counts.get('QBFT_BUFFER_FULL') ?? 0) > 0, 'per-author cap hit')
  t.equal(counts.get('QBFT_FUTURE_ROUND'), 150)
  t.equal(counts.get('QBFT_NOT_VALIDATOR'), 150)
  t.equal(counts.get('QBFT_MALFORMED'), 150)
  t.ok(await net.run(() => net.minHead() >= 7n, 60_000))
  t.same(chainProblems(net, 7n), [])
})
