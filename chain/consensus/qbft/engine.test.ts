/**
 * One engine driven by hand-made messages from the other validators' keys and a manual
 * clock: lifecycle, validation outcomes, round-change rules, timers, buffers.
 */
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import t from 'tap'
import {
  CHAIN_ID,
  decodeTestBlock as decodeBlock,
  testBlock,
  testKey,
} from '../../../test/support/qbft-network.ts'
import { keccak256, privateKeyToAddress, sign } from '../../crypto/index.ts'
import { commitSealDigest, verifyCommitSeals } from '../seals.ts'
import {
  DEFAULT_QBFT_OPTIONS,
  type MessageOutcome,
  type QbftDecision,
  QbftEngine,
  type QbftOptions,
} from './engine.ts'
import {
  decodeMessage,
  encodeMessage,
  type PreparePayload,
  type ProposedBlock,
  type QbftMessage,
  type QbftSigner,
  type RoundChangeMessage,
  type Signed,
  signPayload,
} from './messages.ts'

interface Setup {
  engine: QbftEngine
  keys: Uint8Array[]
  addresses: Uint8Array[]
  clock: { t: number }
  broadcasts: QbftMessage[]
  decisions: QbftDecision[]
  timers: (number | null)[]
  built: { height: bigint; round: number }[]
  validated: { round: number; preparedRound: number | null }[]
  validate: { result: () => Promise<boolean> }
  send(bytes: Uint8Array): Promise<MessageOutcome>
}

function setup(
  options: {
    n?: number
    me?: number | 'observer'
    engine?: Partial<QbftOptions>
    futureSetsUnknown?: boolean
  } = {},
): Setup {
  const n = options.n ?? 4
  const entries = Array.from({ length: n }, (_, i) => {
    const key = testKey(i)
    return { key, address: privateKeyToAddress(key) }
  }).sort((a, b) => (bytesToHex(a.address) < bytesToHex(b.address) ? -1 : 1))
  const keys = entries.map((e) => e.key)
  const addresses = entries.map((e) => e.address)
  const myKey = options.me === 'observer' ? testKey(500) : keys[options.me ?? 0]!
  const clock = { t: 0 }
  const s: Setup = {
    engine: undefined as unknown as QbftEngine,
    keys,
    addresses,
    clock,
    broadcasts: [],
    decisions: [],
    timers: [],
    built: [],
    validated: [],
    validate: { result: async () => true },
    send: async (bytes) => {
      const outcome = await s.engine.onMessage(bytes)
      await s.engine.settled()
      return outcome
    },
  }
  s.engine = new QbftEngine(
    {
      ...DEFAULT_QBFT_OPTIONS,
      roundTimeoutBaseMs: 1_000,
      roundTimeoutMaxMs: 10_000,
      ...options.engine,
      chainId: CHAIN_ID,
    },
    {
      signer: { address: privateKeyToAddress(myKey), sign: (hash) => sign(hash, myKey) },
      clock: { now: () => clock.t },
      validatorsAt: (height) => (options.futureSetsUnknown && height > 1n ? null : addresses),
      blockHash: (encoded) => testBlock({ ...decodeBlock(encoded) }).hash,
      buildBlock: async (height, round) => {
        s.built.push({ height, round })
        return testBlock({
          height,
          round,
          proposer: privateKeyToAddress(myKey),
          salt: Uint8Array.of(round),
        })
      },
      validateBlock: async (_block, _height, round, preparedRound) => {
        s.validated.push({ round, preparedRound })
        return s.validate.result()
      },
      broadcast: (bytes) => s.broadcasts.push(decodeMessage(bytes, { maxBytes: 1 << 20 })),
      decide: (decision) => s.decisions.push(decision),
      timerSet: (deadline) => s.timers.push(deadline),
    },
  )
  return s
}

const signer = (key: Uint8Array): QbftSigner => ({
  address: privateKeyToAddress(key),
  sign: (hash) => sign(hash, key),
})

function block(s: Setup, height: bigint, round: number, proposer: number, salt = 0): ProposedBlock {
  return testBlock({ height, round, proposer: s.addresses[proposer]!, salt: Uint8Array.of(salt) })
}

function prepareSigned(s: Setup, i: number, height: bigint, round: number, digest: Uint8Array) {
  return signPayload({ kind: 'PREPARE', height, round, digest }, CHAIN_ID, signer(s.keys[i]!))
}

function prepare(s: Setup, i: number, height: bigint, round: number, digest: Uint8Array) {
  return encodeMessage({ kind: 'PREPARE', signed: prepareSigned(s, i, height, round, digest) })
}

function commit(
  s: Setup,
  i: number,
  height: bigint,
  round: number,
  digest: Uint8Array,
  seal?: Uint8Array,
) {
  const commitSeal = seal ?? sign(commitSealDigest(digest, round), s.keys[i]!)
  const signed = signPayload(
    { kind: 'COMMIT', height, round, digest, commitSeal },
    CHAIN_ID,
    signer(s.keys[i]!),
  )
  return encodeMessage({ kind: 'COMMIT', signed })
}

function roundChange(
  s: Setup,
  i: number,
  height: bigint,
  round: number,
  prepared?: { round: number; block: ProposedBlock; by: number[] },
): RoundChangeMessage {
  const signed = signPayload(
    {
      kind: 'ROUND_CHANGE',
      height,
      round,
      prepared: prepared ? { round: prepared.round, digest: prepared.block.hash } : null,
    },
    CHAIN_ID,
    signer(s.keys[i]!),
  )
  return {
    kind: 'ROUND_CHANGE',
    signed,
    preparedBlock: prepared ? prepared.block.encoded : null,
    prepares: prepared
      ? prepared.by.map((j) => prepareSigned(s, j, height, prepared.round, prepared.block.hash))
      : [],
  }
}

function proposal(
  s: Setup,
  i: number,
  height: bigint,
  round: number,
  b: ProposedBlock,
  roundChanges: RoundChangeMessage[] = [],
  prepares: Signed<PreparePayload>[] = [],
): Uint8Array {
  const signed = signPayload(
    { kind: 'PROPOSAL', height, round, digest: b.hash },
    CHAIN_ID,
    signer(s.keys[i]!),
  )
  return encodeMessage({
    kind: 'PROPOSAL',
    signed,
    block: b.encoded,
    roundChanges: roundChanges.map((m) => m.signed),
    prepares,
  })
}

const code = (o: MessageOutcome) => (o.action === 'ACCEPT' ? 'ACCEPT' : o.error.code)

t.test('lifecycle: start/stop idempotent, usage errors, not-running outcome', async (t) => {
  const s = setup()
  const x = new Uint8Array(32)
  t.equal(code(await s.send(prepare(s, 1, 1n, 0, x))), 'QBFT_NOT_RUNNING')
  t.throws(() => s.engine.startHeight(1n), { code: 'QBFT_NOT_STARTED' })
  s.engine.start()
  s.engine.start()
  t.equal(code(await s.send(prepare(s, 1, 1n, 0, x))), 'QBFT_NOT_RUNNING', 'no height yet')
  s.engine.startHeight(1n)
  s.engine.startHeight(1n)
  t.throws(() => s.engine.startHeight(0n), { code: 'QBFT_BAD_HEIGHT' })
  t.same(s.timers, [1_000])
  t.equal(code(await s.send(prepare(s, 1, 1n, 0, x))), 'ACCEPT')
  await s.engine.stop()
  await s.engine.stop()
  t.same(s.timers, [1_000, null])
  t.equal(code(await s.send(prepare(s, 2, 1n, 0, x))), 'QBFT_NOT_RUNNING')
  s.clock.t = 5_000
  s.engine.onTick()
  t.equal(s.engine.status().round, 0, 'no ticks while stopped')
  s.engine.start()
  t.same(s.timers, [1_000, null, 1_000], 'timer re-announced on restart')
  t.equal(s.engine.status().running, true)

  t.throws(
    () =>
      new QbftEngine({ ...DEFAULT_QBFT_OPTIONS, chainId: 1n, roundTimeoutBaseMs: 0 }, {} as never),
    { code: 'QBFT_BAD_OPTIONS' },
  )
  const unsorted = setup()
  unsorted.engine.start()
  const rev = [...unsorted.addresses].reverse()
  const e = new QbftEngine({ ...DEFAULT_QBFT_OPTIONS, chainId: 1n }, {
    signer: signer(unsorted.keys[0]!),
    clock: { now: () => 0 },
    validatorsAt: () => rev,
  } as never)
  e.start()
  t.throws(() => e.startHeight(1n), { code: 'QBFT_BAD_VALIDATOR_SET' })
})

t.test('f+1 higher ROUND-CHANGEs make a lagging node jump; timers back off, capped', async (t) => {
  const s = setup({ n: 4 }) // f = 1: two validators above us are enough
  s.engine.start()
  s.engine.startHeight(1n)
  s.clock.t = 100
  t.equal(code(await s.send(encodeMessage(roundChange(s, 2, 1n, 3)))), 'ACCEPT')
  t.equal(s.engine.status().round, 0, 'one validator (f) is not enough')
  s.clock.t = 200
  t.equal(
    code(await s.send(encodeMessage(roundChange(s, 3, 1n, 60)))),
    'ACCEPT',
    'far round: kept as latest',
  )
  const status = s.engine.status()
  t.equal(status.round, 3, 'jumped to the lowest round of the f+1 highest')
  t.equal(status.roundDeadline, 200 + 8_000, 'round 3 lasts 1000 * 2^3')
  const rc = s.broadcasts.at(-1)!
  t.ok(rc.kind === 'ROUND_CHANGE' && rc.signed.payload.round === 3, 'sent ROUND-CHANGE(3)')
  // Early tick (timers can fire before the clock reaches the deadline): same round, and
  // the same deadline announced again so the embedder re-arms instead of going silent.
  s.clock.t = 8_000
  const announced = s.timers.length
  s.engine.onTick()
  t.equal(s.engine.status().round, 3)
  t.same(s.timers.slice(announced), [200 + 8_000], 'early tick: deadline re-announced')
  const lengths: number[] = []
  for (let i = 0; i < 4; i++) {
    s.clock.t = s.engine.status().roundDeadline!
    s.engine.onTick()
    await s.engine.settled()
    lengths.push(s.engine.status().roundDeadline! - s.clock.t)
  }
  t.same(lengths, [10_000, 10_000, 10_000, 10_000], 'rounds 4..7 capped at 10 s')
  t.equal(s.engine.status().round, 7)
  t.equal(code(await s.send(encodeMessage(roundChange(s, 2, 1n, 5)))), 'QBFT_OLD_ROUND')

  const fresh = setup({ n: 4 })
  fresh.engine.start()
  fresh.engine.startHeight(1n)
  const deadlines: number[] = []
  for (let i = 0; i < 6; i++) {
    deadlines.push(fresh.engine.status().roundDeadline! - fresh.clock.t)
    fresh.clock.t = fresh.engine.status().roundDeadline!
    fresh.engine.onTick()
  }
  t.same(deadlines, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000], 'base * 2^r, capped')
})

t.test('the proposer of round r proposes once it holds q ROUND-CHANGEs', async (t) => {
  // proposer(1, 1) = validators[2]
  const s = setup({ n: 4, me: 2 })
  s.engine.start()
  s.engine.startHeight(1n)
  t.same(s.built, [], 'not proposer of round 0')
  t.equal(code(await s.send(encodeMessage(roundChange(s, 0, 1n, 1)))), 'ACCEPT')
  t.equal(code(await s.send(encodeMessage(roundChange(s, 1, 1n, 1)))), 'ACCEPT')
  // 2 RCs for round 1 >= f+1: jump to 1 and send our own: 3 = q, so propose.
  t.same(s.built, [{ height: 1n, round: 1 }])
  const p = s.broadcasts.find((m) => m.kind === 'PROPOSAL')
  t.ok(
    p?.kind === 'PROPOSAL' &&
      p.signed.payload.round === 1 &&
      p.roundChanges.length === 3 &&
      p.prepares.length === 0,
  )
  t.ok(
    s.broadcasts.some((m) => m.kind === 'PREPARE' && m.signed.payload.round === 1),
    'processed its own proposal',
  )
})

t.test('re-proposal: the block of the highest prepared round, unchanged', async (t) => {
  const s = setup({ n: 4, me: 2 }) // proposer(1, 2)... proposer(1, 1) = validators[2]
  s.engine.start()
  s.engine.startHeight(1n)
  const b0 = block(s, 1n, 0, 1, 1)
  // Two RCs carry prepared certificates (round 0 only exists here), one does not.
  const rcs = [
    roundChange(s, 0, 1n, 1, { round: 0, block: b0, by: [0, 1, 3] }),
    roundChange(s, 1, 1n, 1),
    roundChange(s, 3, 1n, 1, { round: 0, block: b0, by: [0, 1, 3] }),
  ]
  for (const rc of rcs) t.equal(code(await s.send(encodeMessage(rc))), 'ACCEPT')
  t.same(s.built, [], 'no new block built')
  const p = s.broadcasts.find((m) => m.kind === 'PROPOSAL')
  t.ok(
    p?.kind === 'PROPOSAL' && equalsBytes(p.signed.payload.digest, b0.hash),
    're-proposed b0 as is',
  )
  t.ok(p?.kind === 'PROPOSAL' && p.prepares.length === 3, 'with the prepare certificate')

  // A receiver checks the same rule.
  const r = setup({ n: 4, me: 0 })
  r.engine.start()
  r.engine.startHeight(1n)
  const other = block(r, 1n, 1, 2, 9)
  const certificate = rcs[0]!.prepares
  const cases: [string, Uint8Array][] = [
    ['another block than the prepared one', proposal(r, 2, 1n, 1, other, rcs, certificate)],
    ['prepared block without certificate', proposal(r, 2, 1n, 1, b0, rcs, [])],
    ['certificate below quorum', proposal(r, 2, 1n, 1, b0, rcs, certificate.slice(0, 2))],
    ['too few round changes', proposal(r, 2, 1n, 1, b0, rcs.slice(0, 2), certificate)],
    [
      'duplicate round-change author',
      proposal(r, 2, 1n, 1, b0, [rcs[0]!, rcs[0]!, rcs[1]!], certificate),
    ],
    [
      'round change for another round',
      proposal(r, 2, 1n, 1, b0, [rcs[0]!, rcs[1]!, roundChange(r, 3, 1n, 2)], certificate),
    ],
    [
      'prepares without prepared round changes',
      proposal(
        r,
        2,
        1n,
        1,
        other,
        [rcs[1]!, roundChange(r, 0, 1n, 1), roundChange(r, 3, 1n, 1)],
        certificate,
      ),
    ],
    ['justification on a round-0 proposal', proposal(r, 1, 1n, 0, block(r, 1n, 0, 1), rcs, [])],
  ]
  for (const [name, bytes] of cases) {
    const outcome = await r.send(bytes)
    t.equal(code(outcome), 'QBFT_BAD_JUSTIFICATION', name)
    t.equal(outcome.action, 'REJECT', name)
  }
  // The valid one, for a round above ours: accepted, and we move to round 1.
  t.equal(code(await r.send(proposal(r, 2, 1n, 1, b0, rcs, certificate))), 'ACCEPT')
  t.equal(r.engine.status().round, 1)
  t.same(
    r.validated.at(-1),
    { round: 1, preparedRound: 0 },
    'validateBlock told it is a re-proposal',
  )
  t.ok(r.broadcasts.some((m) => m.kind === 'PREPARE' && m.signed.payload.round === 1))
})

t.test('ROUND-CHANGE certificates are checked', async (t) => {
  const s = setup({ n: 4 })
  s.engine.start()
  s.engine.startHeight(1n)
  const b0 = block(s, 1n, 0, 1)
  const b1 = block(s, 1n, 0, 1, 5)
  const withBlock = (rc: RoundChangeMessage, encoded: Uint8Array) => ({
    ...rc,
    preparedBlock: encoded,
  })
  const cases: [string, RoundChangeMessage][] = [
    [
      'block does not match the prepared digest',
      withBlock(roundChange(s, 1, 1n, 1, { round: 0, block: b0, by: [0, 1, 2] }), b1.encoded),
    ],
    ['certificate below quorum', roundChange(s, 1, 1n, 1, { round: 0, block: b0, by: [0, 1] })],
    [
      'prepared round not below the round',
      roundChange(s, 1, 1n, 1, { round: 1, block: b0, by: [0, 1, 2] }),
    ],
    [
      'certificate from a non-validator',
      {
        ...roundChange(s, 1, 1n, 1, { round: 0, block: b0, by: [0, 1] }),
        prepares: [
          ...roundChange(s, 1, 1n, 1, { round: 0, block: b0, by: [0, 1] }).prepares,
          signPayload(
            { kind: 'PREPARE', height: 1n, round: 0, digest: b0.hash },
            CHAIN_ID,
            signer(testKey(77)),
          ),
        ],
      },
    ],
  ]
  for (const [name, rc] of cases) {
    const outcome = await s.send(encodeMessage(rc))
    t.equal(code(outcome), 'QBFT_BAD_ROUND_CHANGE', name)
  }
  t.equal(
    code(
      await s.send(encodeMessage(roundChange(s, 1, 1n, 1, { round: 0, block: b0, by: [0, 1, 2] }))),
    ),
    'ACCEPT',
  )
})

t.test(
  'block validation: invalid is REJECT, a failing validator is IGNORE and retried',
  async (t) => {
    const s = setup({ n: 4 })
    s.engine.start()
    s.engine.startHeight(1n)
    const b = block(s, 1n, 0, 1)
    const bytes = proposal(s, 1, 1n, 0, b)
    s.validate.result = async () => false
    t.equal(code(await s.send(bytes)), 'QBFT_BAD_BLOCK')
    s.validate.result = async () => {
      throw new Error('parent not imported yet')
    }
    const outcome = await s.send(bytes)
    t.equal(code(outcome), 'QBFT_BLOCK_UNVERIFIABLE')
    t.equal(outcome.action, 'IGNORE')
    s.validate.result = async () => true
    t.equal(code(await s.send(bytes)), 'ACCEPT', 'the same bytes are accepted later')
    t.equal(code(await s.send(bytes)), 'QBFT_DUPLICATE')
    t.same(s.validated.at(-1), { round: 0, preparedRound: null })
    // A proposal that arrives while its twin is being validated is a duplicate, not re-run.
    const s2 = setup({ n: 4 })
    s2.engine.start()
    s2.engine.startHeight(1n)
    const first = s2.engine.onMessage(bytes)
    const second = s2.engine.onMessage(bytes)
    t.equal(code(await second), 'QBFT_DUPLICATE')
    t.equal(code(await first), 'ACCEPT')
    t.equal(s2.validated.length, 1)
  },
)

t.test('decision: q valid seals; late COMMITs still accepted; other kinds ignored', async (t) => {
  const s = setup({ n: 4 })
  s.engine.start()
  s.engine.startHeight(1n)
  const b = block(s, 1n, 0, 1)
  t.equal(code(await s.send(proposal(s, 1, 1n, 0, b))), 'ACCEPT')
  for (const i of [1, 2]) t.equal(code(await s.send(prepare(s, i, 1n, 0, b.hash))), 'ACCEPT')
  t.ok(
    s.broadcasts.some((m) => m.kind === 'COMMIT'),
    'prepared: sent COMMIT',
  )
  const badSeal = sign(commitSealDigest(b.hash, 1), s.keys[1]!) // wrong round
  t.equal(code(await s.send(commit(s, 1, 1n, 0, b.hash, badSeal))), 'QBFT_BAD_COMMIT_SEAL')
  t.equal(
    code(await s.send(commit(s, 2, 1n, 0, b.hash, new Uint8Array(65)))),
    'QBFT_BAD_COMMIT_SEAL',
  )
  t.equal(s.decisions.length, 0, 'own commit + bad seals: not final')
  t.equal(code(await s.send(commit(s, 1, 1n, 0, b.hash))), 'ACCEPT')
  t.equal(s.decisions.length, 0)
  t.equal(code(await s.send(commit(s, 2, 1n, 0, b.hash))), 'ACCEPT')
  t.equal(s.decisions.length, 1)
  const d = s.decisions[0]!
  t.equal(d.round, 0)
  t.same(verifyCommitSeals(d.block.hash, 0, d.commitSeals, s.addresses, { strict: true }).length, 3)
  t.equal(s.timers.at(-1), null, 'no timer once decided')
  t.equal(code(await s.send(commit(s, 3, 1n, 0, b.hash))), 'ACCEPT', 'late commit')
  t.equal(code(await s.send(prepare(s, 3, 1n, 0, b.hash))), 'QBFT_HEIGHT_DECIDED')
  const stats = s.engine.status().validatorStats
  t.same(
    stats.map((v) => v.commitsIncluded),
    [1, 1, 1, 1],
  )
  t.equal(stats.find((v) => equalsBytes(v.address, s.addresses[1]!))!.proposalsMade, 1)
  t.equal(s.engine.status().decidedHeights, 1)
})

t.test('late COMMITs of a past round decide once its block is known', async (t) => {
  const s = setup({ n: 4 })
  s.engine.start()
  s.engine.startHeight(1n)
  for (const deadline of [1_000, 3_000]) {
    s.clock.t = deadline
    s.engine.onTick()
  }
  t.equal(s.engine.status().round, 2)
  const b = block(s, 1n, 0, 1)
  t.equal(
    code(await s.send(proposal(s, 1, 1n, 0, b))),
    'ACCEPT',
    'old-round proposal: block learned',
  )
  t.notOk(
    s.broadcasts.some((m) => m.kind === 'PREPARE'),
    'no PREPARE for a past round',
  )
  for (const i of [1, 2]) await s.send(commit(s, i, 1n, 0, b.hash))
  t.equal(s.decisions.length, 0)
  await s.send(commit(s, 3, 1n, 0, b.hash))
  t.equal(s.decisions.length, 1)
  t.equal(s.decisions[0]!.round, 0)
})

t.test('an observer (not a validator) follows and decides without sending', async (t) => {
  const s = setup({ n: 4, me: 'observer' })
  s.engine.start()
  s.engine.startHeight(1n)
  const b = block(s, 1n, 0, 1)
  await s.send(proposal(s, 1, 1n, 0, b))
  for (const i of [0, 1, 2]) await s.send(prepare(s, i, 1n, 0, b.hash))
  for (const i of [0, 1, 2]) await s.send(commit(s, i, 1n, 0, b.hash))
  t.equal(s.decisions.length, 1)
  t.same(s.broadcasts, [])
  t.equal(s.engine.status().isValidator, false)
})

t.test('messages are bound to the chain id', async (t) => {
  const s = setup({ n: 4 })
  s.engine.start()
  s.engine.startHeight(1n)
  const signed = signPayload(
    { kind: 'PREPARE', height: 1n, round: 0, digest: new Uint8Array(32) },
    CHAIN_ID + 1n,
    signer(s.keys[1]!),
  )
  const outcome = await s.send(encodeMessage({ kind: 'PREPARE', signed }))
  t.equal(outcome.action, 'REJECT', 'recovers a stranger on another chain id')
})

t.test('future-message buffers are bounded per author and per height', async (t) => {
  const s = setup({
    n: 7,
    engine: {
      futureHeightWindow: 3,
      bufferLimits: {
        ...DEFAULT_QBFT_OPTIONS.bufferLimits,
        perHeight: 20,
        perAuthor: 5,
        futureRounds: 3,
      },
    },
  })
  s.engine.start()
  s.engine.startHeight(1n)
  const d = new Uint8Array(32).fill(3)
  const counts = new Map<string, number>()
  const tally = (o: MessageOutcome) => counts.set(code(o), (counts.get(code(o)) ?? 0) + 1)
  // Every validator floods heights 2..4 with 10 distinct messages each.
  for (let height = 2n; height <= 4n; height++) {
    for (let i = 1; i < 7; i++) {
      for (let round = 0; round < 10; round++) tally(await s.send(prepare(s, i, height, round, d)))
    }
  }
  // 3 heights x 20 per height; each author at most 5 per height.
  t.equal(counts.get('ACCEPT'), 60)
  t.equal(counts.get('QBFT_BUFFER_FULL'), 3 * 6 * 10 - 60)
  t.equal(s.engine.status().bufferedFutureMessages, 60)
  t.equal(code(await s.send(prepare(s, 1, 5n, 0, d))), 'QBFT_FUTURE_HEIGHT', 'beyond the window')
  t.equal(code(await s.send(prepare(s, 1, 2n, 0, d))), 'QBFT_DUPLICATE')
  const stranger = { ...s, keys: [testKey(1234)] } as Setup
  t.equal(code(await s.send(prepare(stranger, 0, 2n, 0, d))), 'QBFT_NOT_VALIDATOR')

  // Current height: rounds beyond the window are ignored; far ROUND-CHANGEs keep 1 each.
  const current = new Map<string, number>()
  for (let round = 0; round < 50; round++) {
    const c = code(await s.send(prepare(s, 1, 1n, round, d)))
    current.set(c, (current.get(c) ?? 0) + 1)
  }
  t.same(Object.fromEntries(current), { ACCEPT: 4, QBFT_FUTURE_ROUND: 46 })
  for (let round = 100; round < 150; round++) {
    t.equal(code(await s.send(encodeMessage(roundChange(s, 1, 1n, round)))), 'ACCEPT')
  }
  t.equal(code(await s.send(encodeMessage(roundChange(s, 1, 1n, 99)))), 'QBFT_OLD_ROUND', 'stale')
  t.equal(s.engine.status().round, 0, 'one validator cannot move us (f = 2)')

  // Starting height 2 replays (and frees) its bucket; older buckets are dropped.
  s.engine.startHeight(2n)
  await s.engine.settled()
  t.equal(s.engine.status().bufferedFutureMessages, 40)
  t.equal(code(await s.send(prepare(s, 1, 2n, 0, d))), 'QBFT_DUPLICATE', 'replayed and accepted')
})

t.test('unknown future validator sets: outsiders ignored, not rejected', async (t) => {
  const s = setup({ n: 4, futureSetsUnknown: true })
  s.engine.start()
  s.engine.startHeight(1n)
  const stranger = { ...s, keys: [testKey(1234)] } as Setup
  const d = new Uint8Array(32)
  const outcome = await s.send(prepare(stranger, 0, 2n, 0, d))
  t.equal(code(outcome), 'QBFT_UNKNOWN_AUTHOR')
  t.equal(outcome.action, 'IGNORE')
  t.equal(code(await s.send(prepare(s, 1, 2n, 0, d))), 'ACCEPT')
})

t.test('two engines in one process are independent', async (t) => {
  const a = setup({ n: 1 })
  const b = setup({ n: 1 })
  a.engine.start()
  a.engine.startHeight(1n)
  await a.engine.settled()
  t.equal(a.decisions.length, 1, 'single validator decides alone')
  t.equal(b.decisions.length, 0)
  t.equal(b.engine.status().height, null)
})

t.test('a flood of large future proposals from one validator is capped in bytes', async (t) => {
  const MiB = 1024 * 1024
  const s = setup({
    n: 4,
    engine: {
      futureHeightWindow: 8,
      bufferLimits: {
        perHeight: 512,
        perAuthor: 32,
        futureRounds: 10,
        perAuthorBytes: MiB,
        totalBytes: 1.5 * MiB,
      },
    },
  })
  s.engine.start()
  s.engine.startHeight(1n)
  const big = (i: number, height: bigint, round: number) => {
    // A block of 64 KiB: the buffer keeps future proposals undecoded.
    const encoded = new Uint8Array(64 * 1024).fill(round + 1)
    return proposal(s, i, height, round, { hash: keccak256(encoded), encoded })
  }
  const counts = new Map<string, number>()
  // Validator 1 sends 32 proposals for each of heights 2..9: 16 MiB if only counted.
  for (let height = 2n; height <= 9n; height++) {
    for (let round = 0; round < 32; round++) {
      const c = code(await s.send(big(1, height, round)))
      counts.set(c, (counts.get(c) ?? 0) + 1)
    }
  }
  const buffered = s.engine.status().bufferedFutureMessages
  t.ok(buffered * 64 * 1024 <= MiB, `${buffered} proposals of 64 KiB kept (1 MiB per author)`)
  const accepted = counts.get('ACCEPT') ?? 0
  t.ok(accepted >= 14 && accepted <= 16, `${accepted} fit the author's 1 MiB`)
  t.equal(counts.get('QBFT_BUFFER_FULL'), 8 * 32 - accepted, 'the rest are ignored as buffer full')
  // The others still get room, up to the total cap.
  const other = code(await s.send(big(2, 2n, 0)))
  t.equal(other, 'ACCEPT', 'another validator still has room')
  t.ok((s.engine.status().bufferedFutureBytes ?? 0) <= 1.5 * MiB, 'total within 1.5 MiB')
  // Reaching height 3 gives back what heights 2 and 3 held.
  s.engine.startHeight(3n)
  await s.engine.settled()
  t.ok(
    (s.engine.status().bufferedFutureBytes ?? Number.POSITIVE_INFINITY) < MiB,
    'bytes of replayed heights are given back',
  )
  t.equal(code(await s.send(big(1, 9n, 31))), 'ACCEPT', 'room again for the author')
})
