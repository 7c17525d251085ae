/**
 * The engine with a signer that answers later (a remote signer): the safety rules stay on
 * the node's side of the call. The intent is recorded and the step reserved before the
 * request leaves; a signer that fails leaves the step reserved, and a restart restores the
 * reservation from the record, so no second digest is ever asked for at one step.
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
import { DEFAULT_QBFT_OPTIONS, QbftEngine, type QbftRecordEntry } from './engine.ts'
import {
  decodeMessage,
  encodeMessage,
  type ProposedBlock,
  type QbftMessage,
  signPayload,
} from './messages.ts'

const keys = Array.from({ length: 4 }, (_, i) => testKey(i))
  .map((key) => ({ key, address: privateKeyToAddress(key) }))
  .sort((a, b) => (bytesToHex(a.address) < bytesToHex(b.address) ? -1 : 1))
const addresses = keys.map((k) => k.address)
// proposer(1, 0) = validators[1]; this engine is validator 2, so it only prepares at round 0.
const PROPOSER = 1
const ME = 2

interface Harness {
  engine: QbftEngine
  /** what happened, in order: record (intent or signed) and signer calls */
  events: string[]
  records: QbftRecordEntry[]
  broadcasts: QbftMessage[]
  requests: { preimage: Uint8Array; answer(ok: boolean): void }[]
}

function harness(restored: QbftRecordEntry[] = []): Harness {
  const h: Harness = {
    engine: undefined as unknown as QbftEngine,
    events: [],
    records: [],
    broadcasts: [],
    requests: [],
  }
  const myKey = keys[ME]!.key
  h.engine = new QbftEngine(
    {
      ...DEFAULT_QBFT_OPTIONS,
      roundTimeoutBaseMs: 1_000,
      roundTimeoutMaxMs: 10_000,
      chainId: CHAIN_ID,
    },
    {
      signer: {
        address: keys[ME]!.address,
        remote: true,
        sign: (hash, preimage) => {
          h.events.push('sign-request')
          t.ok(
            equalsBytes(keccak256(preimage), hash),
            'the signer is sent the preimage of the hash',
          )
          return new Promise<Uint8Array>((resolve, reject) => {
            h.requests.push({
              preimage,
              answer: (ok) => (ok ? resolve(sign(hash, myKey)) : reject(new Error('signer down'))),
            })
          })
        },
      },
      clock: { now: () => 0 },
      validatorsAt: () => addresses,
      blockHash: (encoded) => testBlock({ ...decodeBlock(encoded) }).hash,
      buildBlock: async (height, round) =>
        testBlock({ height, round, proposer: keys[ME]!.address, salt: Uint8Array.of(round) }),
      validateBlock: async () => true,
      record: (entry) => {
        h.events.push(entry.message.length === 0 ? `intent ${entry.kind}` : `record ${entry.kind}`)
        h.records.push(entry)
      },
      broadcast: (bytes) => h.broadcasts.push(decodeMessage(bytes, { maxBytes: 1 << 20 })),
      decide: () => {},
    },
  )
  h.engine.restore({ entries: restored })
  h.engine.start()
  h.engine.startHeight(1n)
  return h
}

function proposal(b: ProposedBlock): Uint8Array {
  const key = keys[PROPOSER]!.key
  const signed = signPayload({ kind: 'PROPOSAL', height: 1n, round: 0, digest: b.hash }, CHAIN_ID, {
    address: keys[PROPOSER]!.address,
    sign: (hash) => sign(hash, key),
  })
  return encodeMessage({
    kind: 'PROPOSAL',
    signed,
    block: b.encoded,
    roundChanges: [],
    prepares: [],
  })
}

const blockA = testBlock({
  height: 1n,
  round: 0,
  proposer: addresses[PROPOSER]!,
  salt: Uint8Array.of(1),
})
const blockB = testBlock({
  height: 1n,
  round: 0,
  proposer: addresses[PROPOSER]!,
  salt: Uint8Array.of(2),
})

/** Lets the engine's promise chains run (no timers involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

t.test('the intent is durable and the step reserved before the signer is asked', async (t) => {
  const h = harness()
  t.equal((await h.engine.onMessage(proposal(blockA))).action, 'ACCEPT')
  await flush()
  t.same(h.events, ['intent PREPARE', 'sign-request'], 'record first, then the request')
  t.equal(h.records[0]!.message.length, 0, 'an intent carries no message')
  t.ok(equalsBytes(h.records[0]!.digest!, blockA.hash), 'and the digest it reserves')
  t.same(h.broadcasts, [], 'nothing sent before the answer')
  h.requests[0]!.answer(true)
  await flush()
  t.same(h.events, ['intent PREPARE', 'sign-request', 'record PREPARE'])
  t.equal(h.broadcasts.length, 1, 'the signed PREPARE leaves once recorded')
  t.equal(h.broadcasts[0]!.kind, 'PREPARE')
  await h.engine.stop()
})

t.test('a failed signer leaves the step reserved, across a restart too', async (t) => {
  const h = harness()
  await h.engine.onMessage(proposal(blockA))
  await flush()
  h.requests[0]!.answer(false)
  await flush()
  t.same(h.broadcasts, [], 'no answer, nothing sent')
  await h.engine.stop()

  // Restarted with only the intent in its record, it is shown another block for the step.
  const restarted = harness(h.records)
  t.equal((await restarted.engine.onMessage(proposal(blockB))).action, 'ACCEPT')
  await flush()
  t.same(restarted.events, [], 'another digest for the reserved step: the signer is not even asked')
  t.same(restarted.broadcasts, [])

  // The digest it had asked for may be asked again.
  const again = harness(h.records)
  await again.engine.onMessage(proposal(blockA))
  await flush()
  t.same(again.events, ['sign-request'], 'the same digest is retried (its intent is on record)')
  again.requests[0]!.answer(true)
  await flush()
  t.equal(again.broadcasts.length, 1, 'and sent')
  await restarted.engine.stop()
  await again.engine.stop()
})
