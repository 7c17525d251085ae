/**
 * The validation wrapper: every outcome of a validation function becomes exactly one
 * accept/ignore/reject report, size caps apply before the validator sees the bytes, and
 * the queue is bounded. Uses a fake host; real libp2p is covered in p2p-service.test.ts.
 */
import { EventEmitter } from 'node:events'
import t from 'tap'
import { SidechainError } from '../lib/errors.ts'
import { silentLogger } from '../lib/logger.ts'
import { GossipRouter, topicName } from './gossip.ts'
import { GossipValidationError } from './gossip-errors.ts'
import type { NetworkHost, NetworkHostEvents, ValidationResult } from './host.ts'

class FakeHost extends EventEmitter<NetworkHostEvents> {
  readonly peerId = 'self'
  readonly reports: Array<{ msgId: string; result: ValidationResult }> = []
  readonly subscribed = new Set<string>()
  readonly published: Array<{ topic: string; data: Uint8Array }> = []
  subscribe(topic: string) {
    this.subscribed.add(topic)
  }
  unsubscribe(topic: string) {
    this.subscribed.delete(topic)
  }
  async publish(topic: string, data: Uint8Array) {
    this.published.push({ topic, data })
    return 1
  }
  reportValidation(msgId: string, _from: string, result: ValidationResult) {
    this.reports.push({ msgId, result })
  }
  deliver(topic: string, data: Uint8Array, msgId: string) {
    this.emit('gossip:message', { topic, data, msgId, from: 'peer-1' })
  }
}

function setup() {
  const host = new FakeHost()
  const router = new GossipRouter(
    { chainId: 7n },
    { host: host as unknown as NetworkHost, logger: silentLogger() },
  )
  return { host, router }
}

const settle = () => new Promise((r) => setImmediate(r))

t.test('topic names are per chain id', async (t) => {
  t.equal(topicName(1337n, 'blocks'), '/sidechain/1337/blocks/1')
  const { host, router } = setup()
  const topic = router.register({ name: 'blocks', maxMessageBytes: 10, validate: () => undefined })
  t.ok(host.subscribed.has('/sidechain/7/blocks/1'))
  t.throws(
    () => router.register({ name: 'blocks', maxMessageBytes: 10, validate: () => undefined }),
    { code: 'P2P_TOPIC_EXISTS' },
  )
  topic.unregister()
  t.notOk(host.subscribed.has('/sidechain/7/blocks/1'))
})

t.test('outcomes map to accept / ignore / reject', async (t) => {
  const { host, router } = setup()
  const rejected: string[] = []
  router.on('rejected', (_peer, _topic, reason) => rejected.push(reason))
  const verdicts: Record<string, () => unknown> = {
    a: () => undefined,
    b: () => 'ACCEPT',
    c: () => {
      throw new GossipValidationError('IGNORE', 'BLOCK_KNOWN', 'duplicate')
    },
    d: () => {
      throw new GossipValidationError('REJECT', 'BLOCK_BAD_SEALS', 'bad signature')
    },
    // Another domain's error with an action (the QBFT engine's QbftError has one).
    e: () => {
      throw Object.assign(new SidechainError('QBFT_NOT_VALIDATOR', 'not a validator'), {
        action: 'REJECT',
      })
    },
    f: () => {
      throw new Error('a bug of ours')
    },
    g: async () => 'IGNORE',
    h: async () => {
      await settle()
      return 'REJECT'
    },
  }
  const topic = router.register({
    name: 'consensus',
    maxMessageBytes: 100,
    validate: (data) => verdicts[String.fromCharCode(data[0]!)]!() as never,
  })
  for (const id of Object.keys(verdicts))
    host.deliver(topic.topic, Uint8Array.of(id.charCodeAt(0)), id)
  for (let i = 0; i < 5; i++) await settle()
  t.same(
    Object.fromEntries(host.reports.map((r) => [r.msgId, r.result])),
    {
      a: 'accept',
      b: 'accept',
      c: 'ignore',
      d: 'reject',
      e: 'reject',
      f: 'ignore',
      g: 'ignore',
      h: 'reject',
    },
    'one report per message',
  )
  t.equal(host.reports.length, 8)
  t.match(topic.stats(), { received: 8, accepted: 2, ignored: 3, rejected: 3 })
  t.match(rejected, [/BLOCK_BAD_SEALS/, /QBFT_NOT_VALIDATOR/, /validator verdict/])
})

t.test('oversized messages are rejected before the validator runs', async (t) => {
  const { host, router } = setup()
  let calls = 0
  const topic = router.register({
    name: 'transactions',
    maxMessageBytes: 4,
    validate: () => {
      calls++
      return undefined
    },
  })
  host.deliver(topic.topic, new Uint8Array(5), 'big')
  host.deliver(topic.topic, new Uint8Array(4), 'ok')
  await settle()
  t.equal(calls, 1, 'validator saw only the message within the cap')
  t.same(host.reports, [
    { msgId: 'big', result: 'reject' },
    { msgId: 'ok', result: 'accept' },
  ])
  t.match(topic.stats(), { oversized: 1, rejected: 1 })
  await t.rejects(
    topic.publish(new Uint8Array(5)),
    { code: 'P2P_TOPIC_BAD_OPTIONS' },
    'we never publish over the cap',
  )
})

t.test('validation is queued with bounded length and concurrency', async (t) => {
  const { host, router } = setup()
  const release: Array<() => void> = []
  let running = 0
  let maxRunning = 0
  const topic = router.register({
    name: 'blocks',
    maxMessageBytes: 10,
    concurrency: 2,
    maxQueueLength: 3,
    validate: async () => {
      running++
      maxRunning = Math.max(maxRunning, running)
      await new Promise<void>((resolve) => release.push(resolve))
      running--
      return undefined
    },
  })
  for (let i = 0; i < 7; i++) host.deliver(topic.topic, Uint8Array.of(i), `m${i}`)
  await settle()
  t.equal(running, 2, 'two validations at a time')
  t.same(
    host.reports,
    [
      { msgId: 'm5', result: 'ignore' },
      { msgId: 'm6', result: 'ignore' },
    ],
    'messages beyond the queue are ignored, not penalized',
  )
  while (release.length > 0 || running > 0) {
    release.shift()?.()
    await settle()
  }
  t.equal(maxRunning, 2)
  t.match(topic.stats(), { accepted: 5, dropped: 2, ignored: 2 })
})

t.test('messages on unknown topics are ignored', async (t) => {
  const { host } = setup()
  host.deliver('/sidechain/7/other/1', Uint8Array.of(1), 'x')
  t.same(host.reports, [{ msgId: 'x', result: 'ignore' }])
})
