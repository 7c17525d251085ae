import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import fc from 'fast-check'
import t from 'tap'
import { testKey } from '../../../test/support/qbft-network.ts'
import { privateKeyToAddress, sign } from '../../crypto/index.ts'
import { commitSealDigest } from '../seals.ts'
import { QbftError } from './errors.ts'
import {
  type CommitMessage,
  decodeMessage,
  decodeSignedPayload,
  encodeMessage,
  encodeSignedPayload,
  encodeUint,
  MAX_ROUND,
  messageSigningHash,
  type Payload,
  type PreparePayload,
  type ProposalMessage,
  type QbftMessage,
  type QbftSigner,
  type RoundChangeMessage,
  recoverAuthor,
  type Signed,
  signPayload,
} from './messages.ts'

const CHAIN = 7n
const LIMITS = { maxBytes: 1 << 20 }
const key = testKey(1)
const signer: QbftSigner = { address: privateKeyToAddress(key), sign: (h) => sign(h, key) }
const digest = (n: number) => new Uint8Array(32).fill(n)

function prepare(round: number, d: Uint8Array, height = 5n): Signed<PreparePayload> {
  return signPayload({ kind: 'PREPARE', height, round, digest: d }, CHAIN, signer)
}

function samples(): QbftMessage[] {
  const proposal0: ProposalMessage = {
    kind: 'PROPOSAL',
    signed: signPayload(
      { kind: 'PROPOSAL', height: 5n, round: 0, digest: digest(1) },
      CHAIN,
      signer,
    ),
    block: Uint8Array.of(1, 2, 3),
    roundChanges: [],
    prepares: [],
  }
  const rc: RoundChangeMessage = {
    kind: 'ROUND_CHANGE',
    signed: signPayload(
      { kind: 'ROUND_CHANGE', height: 5n, round: 2, prepared: { round: 1, digest: digest(2) } },
      CHAIN,
      signer,
    ),
    preparedBlock: Uint8Array.of(9),
    prepares: [prepare(1, digest(2))],
  }
  const rcEmpty: RoundChangeMessage = {
    kind: 'ROUND_CHANGE',
    signed: signPayload(
      { kind: 'ROUND_CHANGE', height: 5n, round: 0x1_0000, prepared: null },
      CHAIN,
      signer,
    ),
    preparedBlock: null,
    prepares: [],
  }
  const proposal2: ProposalMessage = {
    kind: 'PROPOSAL',
    signed: signPayload(
      { kind: 'PROPOSAL', height: 5n, round: 2, digest: digest(3) },
      CHAIN,
      signer,
    ),
    block: new Uint8Array(300).fill(7),
    roundChanges: [rc.signed, rcEmpty.signed],
    prepares: [prepare(1, digest(2))],
  }
  const commit: CommitMessage = {
    kind: 'COMMIT',
    signed: signPayload(
      {
        kind: 'COMMIT',
        height: 2n ** 64n - 1n,
        round: MAX_ROUND,
        digest: digest(4),
        commitSeal: sign(commitSealDigest(digest(4), MAX_ROUND), key),
      },
      CHAIN,
      signer,
    ),
  }
  return [
    proposal0,
    proposal2,
    { kind: 'PREPARE', signed: prepare(0, digest(5), 0n) },
    commit,
    rc,
    rcEmpty,
  ]
}

t.test('every message kind round-trips canonically and recovers its author', (t) => {
  for (const message of samples()) {
    const bytes = encodeMessage(message)
    const decoded = decodeMessage(bytes, LIMITS)
    t.same(decoded, message, message.kind)
    t.ok(equalsBytes(encodeMessage(decoded), bytes))
    t.equal(bytesToHex(recoverAuthor(decoded.signed, CHAIN)), bytesToHex(signer.address))
    const signedBytes = encodeSignedPayload(decoded.signed)
    t.same(decodeSignedPayload(signedBytes), decoded.signed)
  }
  t.end()
})

t.test('signatures are bound to the chain id and domain-separated from commit seals', (t) => {
  const signed = prepare(0, digest(1))
  t.notOk(
    equalsBytes(
      messageSigningHash(CHAIN, signed.payload),
      messageSigningHash(CHAIN + 1n, signed.payload),
    ),
  )
  t.not(bytesToHex(recoverAuthor(signed, CHAIN + 1n)), bytesToHex(signer.address))
  // A commit seal over (digest, round) is never a valid message signature and vice versa.
  t.notOk(equalsBytes(commitSealDigest(digest(1), 0), messageSigningHash(CHAIN, signed.payload)))
  // Kinds are separated: a PREPARE signature does not verify as a PROPOSAL.
  const asProposal: Signed = {
    payload: { ...signed.payload, kind: 'PROPOSAL' } as Payload,
    signature: signed.signature,
  }
  t.not(bytesToHex(recoverAuthor(asProposal, CHAIN)), bytesToHex(signer.address))
  t.end()
})

t.test('bad signatures are QBFT_BAD_SIGNATURE (REJECT)', (t) => {
  const signed = prepare(0, digest(1))
  const highS = { ...signed, signature: Uint8Array.from(signed.signature) }
  highS.signature.fill(0xff, 32, 64)
  const badRecid = { ...signed, signature: Uint8Array.from(signed.signature) }
  badRecid.signature[64] = 9
  for (const bad of [highS, badRecid]) {
    t.throws(() => recoverAuthor(bad, CHAIN), { code: 'QBFT_BAD_SIGNATURE', action: 'REJECT' })
  }
  t.end()
})

t.test('strict decoding: malformed inputs are QBFT_MALFORMED, oversized QBFT_TOO_LARGE', (t) => {
  const [proposal0, , prep, commit, rc] = samples().map(encodeMessage) as Uint8Array[]
  const list = (items: unknown[]) => RLP.encode(items as Uint8Array[])
  const prepFields = RLP.decode(prep!) as unknown as [Uint8Array, Uint8Array[], Uint8Array]
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['garbage', Uint8Array.of(0xff, 0x01)],
    ['trailing byte', Uint8Array.from([...prep!, 0])],
    ['truncated', prep!.subarray(0, prep!.length - 1)],
    ['not a list', RLP.encode(Uint8Array.of(0x13))],
    ['unknown code', list([Uint8Array.of(0x16), prepFields[1], prepFields[2]])],
    ['two-byte code', list([Uint8Array.of(0, 0x13), prepFields[1], prepFields[2]])],
    ['extra item', list([...prepFields, new Uint8Array(0)])],
    [
      'short digest',
      list([
        prepFields[0],
        [prepFields[1][0], prepFields[1][1], digest(1).subarray(1)],
        prepFields[2],
      ]),
    ],
    [
      'height leading zero',
      list([
        prepFields[0],
        [Uint8Array.of(0, 5), prepFields[1][1], prepFields[1][2]],
        prepFields[2],
      ]),
    ],
    [
      'height 9 bytes',
      list([
        prepFields[0],
        [new Uint8Array(9).fill(1), prepFields[1][1], prepFields[1][2]],
        prepFields[2],
      ]),
    ],
    [
      'round 5 bytes',
      list([
        prepFields[0],
        [prepFields[1][0], new Uint8Array(5).fill(1), prepFields[1][2]],
        prepFields[2],
      ]),
    ],
    ['payload is bytes', list([prepFields[0], Uint8Array.of(1), prepFields[2]])],
    ['short signature', list([prepFields[0], prepFields[1], prepFields[2].subarray(1)])],
    ['non-canonical length', Uint8Array.from([0xf8, prep!.length - 1, ...prep!.subarray(1)])],
  ]
  const p = RLP.decode(proposal0!) as unknown as unknown[]
  cases.push([
    'proposal with empty block',
    list([...p.slice(0, 3), new Uint8Array(0), ...p.slice(4)]),
  ])
  cases.push(['proposal missing justification', list(p.slice(0, 5))])
  const r = RLP.decode(rc!) as unknown as unknown[]
  cases.push([
    'prepared round change without block',
    list([...r.slice(0, 3), new Uint8Array(0), r[4]]),
  ])
  cases.push(['prepared round change without prepares', list([...r.slice(0, 4), []])])
  const c = RLP.decode(commit!) as unknown as [Uint8Array, Uint8Array[], Uint8Array]
  cases.push(['commit without seal', list([c[0], c[1].slice(0, 3), c[2]])])
  for (const [name, bytes] of cases) {
    t.throws(() => decodeMessage(bytes, LIMITS), { code: 'QBFT_MALFORMED', action: 'REJECT' }, name)
  }
  t.throws(() => decodeMessage(proposal0!, { maxBytes: proposal0!.length - 1 }), {
    code: 'QBFT_TOO_LARGE',
    action: 'REJECT',
  })
  t.end()
})

t.test('round change without prepared must not carry block or prepares', (t) => {
  const signed = signPayload(
    { kind: 'ROUND_CHANGE', height: 1n, round: 1, prepared: null },
    CHAIN,
    signer,
  )
  const bytes = RLP.encode([
    Uint8Array.of(0x15),
    [encodeUint(1), encodeUint(1), []],
    signed.signature,
    Uint8Array.of(1),
    [],
  ])
  t.throws(() => decodeMessage(bytes, LIMITS), { code: 'QBFT_MALFORMED' })
  t.end()
})

t.test('property: random messages round-trip; random bytes only ever raise QbftError', (t) => {
  const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
  const sig = fc.uint8Array({ minLength: 65, maxLength: 65 })
  const height = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
  const round = fc.integer({ min: 0, max: MAX_ROUND })
  const preparePayload = fc.record({
    kind: fc.constant('PREPARE' as const),
    height,
    round,
    digest: bytes32,
  })
  const rcPayload = fc.record({
    kind: fc.constant('ROUND_CHANGE' as const),
    height,
    round,
    prepared: fc.option(fc.record({ round, digest: bytes32 }), { nil: null }),
  })
  const signedOf = <P>(p: fc.Arbitrary<P>) => fc.record({ payload: p, signature: sig })
  const message: fc.Arbitrary<QbftMessage> = fc.oneof(
    fc.record({
      kind: fc.constant('PROPOSAL' as const),
      signed: signedOf(
        fc.record({ kind: fc.constant('PROPOSAL' as const), height, round, digest: bytes32 }),
      ),
      block: fc.uint8Array({ minLength: 1, maxLength: 100 }),
      roundChanges: fc.array(signedOf(rcPayload), { maxLength: 4 }),
      prepares: fc.array(signedOf(preparePayload), { maxLength: 4 }),
    }),
    fc.record({ kind: fc.constant('PREPARE' as const), signed: signedOf(preparePayload) }),
    fc.record({
      kind: fc.constant('COMMIT' as const),
      signed: signedOf(
        fc.record({
          kind: fc.constant('COMMIT' as const),
          height,
          round,
          digest: bytes32,
          commitSeal: sig,
        }),
      ),
    }),
    signedOf(rcPayload).chain((signed) =>
      signed.payload.prepared === null
        ? fc.constant<QbftMessage>({
            kind: 'ROUND_CHANGE',
            signed,
            preparedBlock: null,
            prepares: [],
          })
        : fc.record({
            kind: fc.constant('ROUND_CHANGE' as const),
            signed: fc.constant(signed),
            preparedBlock: fc.uint8Array({ minLength: 1, maxLength: 50 }),
            prepares: fc.array(signedOf(preparePayload), { minLength: 1, maxLength: 3 }),
          }),
    ),
  )
  fc.assert(
    fc.property(message, (m) => {
      const bytes = encodeMessage(m)
      const decoded = decodeMessage(bytes, LIMITS)
      return equalsBytes(encodeMessage(decoded), bytes)
    }),
    { seed: 42, numRuns: 300 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), message, fc.nat(), (junk, m, cut) => {
      const valid = encodeMessage(m)
      const mutated = Uint8Array.from(valid)
      mutated[cut % mutated.length] ^= 1 + (cut % 255)
      for (const input of [junk, mutated, valid.subarray(0, cut % valid.length)]) {
        try {
          decodeMessage(input, LIMITS)
        } catch (err) {
          if (!(err instanceof QbftError)) return false
        }
      }
      return true
    }),
    { seed: 7, numRuns: 500 },
  )
  t.end()
})
