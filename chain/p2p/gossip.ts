/**
 * Gossip topics: registration, the size cap checked before any decoding, a bounded
 * validation queue per topic, and the ONE wrapper that turns a validation function's
 * outcome (return = ACCEPT, thrown action = IGNORE/REJECT) into gossipsub's
 * accept/ignore/reject report. Gossipsub forwards only after ACCEPT (asynchronous
 * validation) and drops duplicates by content id before they reach us.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { errorMessage } from '../lib/errors.ts'
import type { GossipMetrics } from '../metrics/events.ts'
import { P2PError } from './errors.ts'
import { type GossipAction, type GossipVerdict, gossipActionOf } from './gossip-errors.ts'
import type {
  NetworkHost,
  PublishOptions,
  RawGossipMessage,
  TopicScore,
  ValidationResult,
} from './host.ts'

export type GossipRouterErrorCode = 'P2P_TOPIC_EXISTS' | 'P2P_TOPIC_BAD_OPTIONS'

export interface GossipMessageMeta {
  topic: string
  /** Peer that relayed the message. */
  from: string
  msgId: string
}

/**
 * Validates one message. Return (undefined or 'ACCEPT') to accept and forward it; throw an
 * error carrying `action: 'IGNORE' | 'REJECT'` (or return 'IGNORE' / 'REJECT') otherwise.
 * Processing of the message (importing a block, adding a transaction) belongs here too:
 * a message is forwarded only once it proved useful.
 */
export type GossipValidator = (
  data: Uint8Array,
  meta: GossipMessageMeta,
) => Promise<GossipVerdict | undefined> | GossipVerdict | undefined

export interface GossipTopicSpec {
  /** Short name; the topic string is `/sidechain/<chainId>/<name>/1`. */
  name: string
  /** Messages larger than this are rejected before any decoding. */
  maxMessageBytes: number
  validate: GossipValidator
  /** Validations running at once (1 keeps order, e.g. blocks). Default 1. */
  concurrency?: number
  /** Messages waiting for validation; more are ignored (not penalized). Default 1024. */
  maxQueueLength?: number
  score?: Partial<TopicScore>
}

export interface GossipTopicStats {
  received: number
  accepted: number
  ignored: number
  rejected: number
  /** Part of `rejected`: over the size cap. */
  oversized: number
  /** Part of `ignored`: the validation queue was full. */
  dropped: number
  published: number
}

export interface GossipTopic {
  readonly name: string
  readonly topic: string
  /**
   * Publishes a message we produced or accepted; a duplicate of a seen message is a no-op.
   * `requirePeers`: throw P2P_NO_TOPIC_PEERS when no peer subscribes to the topic.
   */
  publish(data: Uint8Array, options?: PublishOptions): Promise<number>
  stats(): GossipTopicStats
  unregister(): void
}

export interface GossipRouterEvents {
  /** A message was rejected; the peer's score has been reported to gossipsub. */
  rejected: [peerId: string, topic: string, reason: string]
  validated: [topic: string, result: ValidationResult]
}

/**
 * Default scoring: P4 (invalid messages, squared) dominates. With weight -100 a peer falls
 * below the default disconnect score (-1000) after its 4th invalid message; the counter
 * decays by 1% per second. P1/P2 give honest peers a small positive cushion.
 */
export const defaultTopicScore: TopicScore = {
  topicWeight: 1,
  invalidMessageDeliveriesWeight: -100,
  invalidMessageDeliveriesDecay: 0.99,
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesCap: 50,
  timeInMeshWeight: 0.01,
  timeInMeshCap: 3600,
}

export function topicName(chainId: bigint, name: string): string {
  return `/sidechain/${chainId}/${name}/1`
}

interface RegisteredTopic {
  spec: Required<Omit<GossipTopicSpec, 'score'>>
  topic: string
  stats: GossipTopicStats
  queue: RawGossipMessage[]
  running: number
}

export class GossipRouter extends EventEmitter<GossipRouterEvents> {
  private readonly host: NetworkHost
  private readonly chainId: bigint
  private readonly logger: Logger
  private readonly metrics: GossipMetrics | null
  private readonly topics = new Map<string, RegisteredTopic>()
  private readonly onMessage: (msg: RawGossipMessage) => void

  constructor(
    options: { chainId: bigint },
    modules: { host: NetworkHost; logger: Logger; metrics?: GossipMetrics | null },
  ) {
    super()
    this.chainId = options.chainId
    this.host = modules.host
    this.logger = modules.logger
    this.metrics = modules.metrics ?? null
    this.onMessage = (msg) => this.receive(msg)
    this.host.on('gossip:message', this.onMessage)
  }

  dispose(): void {
    this.host.off('gossip:message', this.onMessage)
  }

  register(spec: GossipTopicSpec): GossipTopic {
    const topic = topicName(this.chainId, spec.name)
    if (this.topics.has(topic)) {
      throw new P2PError<GossipRouterErrorCode>(
        'P2P_TOPIC_EXISTS',
        `gossip topic ${spec.name} is already registered`,
      )
    }
    if (!Number.isInteger(spec.maxMessageBytes) || spec.maxMessageBytes <= 0) {
      throw new P2PError<GossipRouterErrorCode>(
        'P2P_TOPIC_BAD_OPTIONS',
        'maxMessageBytes must be a positive integer',
      )
    }
    const entry: RegisteredTopic = {
      spec: { concurrency: 1, maxQueueLength: 1024, ...spec },
      topic,
      stats: {
        received: 0,
        accepted: 0,
        ignored: 0,
        rejected: 0,
        oversized: 0,
        dropped: 0,
        published: 0,
      },
      queue: [],
      running: 0,
    }
    this.topics.set(topic, entry)
    this.host.subscribe(topic, { ...defaultTopicScore, ...spec.score })
    return {
      name: spec.name,
      topic,
      publish: async (data, options) => {
        if (data.length > entry.spec.maxMessageBytes) {
          throw new P2PError<GossipRouterErrorCode>(
            'P2P_TOPIC_BAD_OPTIONS',
            `message of ${data.length} bytes exceeds the ${spec.name} cap`,
          )
        }
        const sent = await this.host.publish(topic, data, options)
        entry.stats.published++
        return sent
      },
      stats: () => ({ ...entry.stats }),
      unregister: () => {
        if (this.topics.get(topic) !== entry) return
        this.topics.delete(topic)
        this.host.unsubscribe(topic)
        for (const msg of entry.queue.splice(0)) this.report(entry, msg, 'ignore')
      },
    }
  }

  /** Largest cap of any topic: the gossipsub frame cap must leave room for it. */
  get largestMessageBytes(): number {
    let max = 0
    for (const entry of this.topics.values()) max = Math.max(max, entry.spec.maxMessageBytes)
    return max
  }

  stats(): Record<string, GossipTopicStats> {
    return Object.fromEntries([...this.topics.values()].map((e) => [e.spec.name, { ...e.stats }]))
  }

  private receive(msg: RawGossipMessage): void {
    const entry = this.topics.get(msg.topic)
    if (entry === undefined) {
      // Subscribed a moment ago or unregistered: nothing to judge it by.
      this.host.reportValidation(msg.msgId, msg.from, 'ignore')
      return
    }
    entry.stats.received++
    if (msg.data.length > entry.spec.maxMessageBytes) {
      entry.stats.oversized++
      this.fail(
        entry,
        msg,
        'REJECT',
        'OVERSIZED',
        `oversized: ${msg.data.length} > ${entry.spec.maxMessageBytes} bytes`,
      )
      return
    }
    if (entry.queue.length >= entry.spec.maxQueueLength) {
      entry.stats.dropped++
      this.fail(entry, msg, 'IGNORE', 'QUEUE_FULL', 'validation queue full')
      return
    }
    entry.queue.push(msg)
    this.drain(entry)
  }

  private drain(entry: RegisteredTopic): void {
    while (entry.running < entry.spec.concurrency && entry.queue.length > 0) {
      const msg = entry.queue.shift()!
      entry.running++
      void this.validate(entry, msg).finally(() => {
        entry.running--
        this.drain(entry)
      })
    }
  }

  /** The one place where validation outcomes become gossipsub results. */
  private async validate(entry: RegisteredTopic, msg: RawGossipMessage): Promise<void> {
    let verdict: GossipVerdict | undefined
    try {
      verdict = await entry.spec.validate(msg.data, {
        topic: msg.topic,
        from: msg.from,
        msgId: msg.msgId,
      })
    } catch (err) {
      const action = gossipActionOf(err)
      if (action === undefined) {
        this.logger.warn(
          { topic: entry.spec.name, peer: msg.from, err },
          'gossip validation failed unexpectedly; ignoring message',
        )
        this.fail(entry, msg, 'IGNORE', 'UNEXPECTED', errorMessage(err))
      } else {
        const code = (err as { code?: unknown }).code
        if (typeof code === 'string') {
          this.fail(entry, msg, action, code, `${code}: ${errorMessage(err)}`)
        } else {
          this.fail(entry, msg, action, 'UNCODED', errorMessage(err))
        }
      }
      return
    }
    if (verdict === 'IGNORE' || verdict === 'REJECT') {
      this.fail(entry, msg, verdict, 'VERDICT', 'validator verdict')
      return
    }
    entry.stats.accepted++
    this.report(entry, msg, 'accept')
    this.metrics?.gossipResult(entry.spec.name, 'accept', 'none')
  }

  /** `code` labels the metric: the error code, or what the router itself decided. */
  private fail(
    entry: RegisteredTopic,
    msg: RawGossipMessage,
    action: GossipAction,
    code: string,
    reason: string,
  ): void {
    this.metrics?.gossipResult(entry.spec.name, action === 'REJECT' ? 'reject' : 'ignore', code)
    if (action === 'REJECT') {
      entry.stats.rejected++
      this.logger.debug(
        { topic: entry.spec.name, peer: msg.from, reason },
        'gossip message rejected',
      )
      this.report(entry, msg, 'reject')
      this.emit('rejected', msg.from, entry.spec.name, reason)
    } else {
      entry.stats.ignored++
      this.logger.trace(
        { topic: entry.spec.name, peer: msg.from, reason },
        'gossip message ignored',
      )
      this.report(entry, msg, 'ignore')
    }
  }

  private report(entry: RegisteredTopic, msg: RawGossipMessage, result: ValidationResult): void {
    this.host.reportValidation(msg.msgId, msg.from, result)
    this.emit('validated', entry.spec.name, result)
  }
}
