/**
 * ALL libp2p wiring lives here: the node key, the libp2p node (TCP, Noise, Yamux, identify,
 * gossipsub), the connection gater and the stream plumbing. Everything else in chain/p2p
 * talks to the `NetworkHost` interface (host.ts) in plain types, so moving to libp2p 3
 * (`@libp2p/gossipsub`, the new stream API) is a change to this one file.
 *
 * Gossipsub is configured for payloads that carry their own signatures:
 * - `StrictNoSign`: no author, seqno or libp2p signature; a message that has them is invalid;
 * - content-based message ids (sha256 over topic and data), so the same payload relayed by
 *   different peers is one message and is never forwarded twice;
 * - asynchronous validation: nothing is forwarded until `reportValidation` says ACCEPT.
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type GossipSub, type GossipsubOpts, gossipsub } from '@chainsafe/libp2p-gossipsub'
import { createTopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import {
  type Connection,
  type IdentifyResult,
  type Libp2p,
  type PeerId,
  type PrivateKey,
  type Stream,
  TopicValidatorResult,
} from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { SidechainError } from '../lib/errors.ts'
import { P2PError } from './errors.ts'
import { encodeFrame, FrameDecoder } from './framing.ts'
import type {
  HandleLimits,
  NetworkHost,
  NetworkHostEvents,
  PeerConnection,
  PublishOptions,
  RequestHandler,
  RequestLimits,
  TopicScore,
  ValidationResult,
} from './host.ts'

export type Libp2pErrorCode =
  | 'P2P_NODE_KEY_INVALID'
  | 'P2P_NOT_STARTED'
  | 'P2P_BAD_MULTIADDR'
  | 'P2P_TOO_MANY_FRAMES'
  | 'P2P_REQUEST_TOO_LARGE'

/** Decides who may connect; consulted on every dial and every inbound handshake. */
export interface PeerGate {
  allowPeer(peerId: string): boolean
}

export interface Libp2pHostOptions {
  privateKey: PrivateKey
  listenHost: string
  /** 0 picks a free port. */
  listenPort: number
  /** Addresses to advertise instead of the listen address (NAT, docker). */
  announce?: string[]
  maxConnections: number
  dialTimeoutMs: number
  agentVersion: string
  gossip: {
    heartbeatMs: number
    /** Cap on one gossipsub RPC frame (all messages and control in it). */
    maxRpcBytes: number
    thresholds: { gossip: number; publish: number; graylist: number }
    /** Application score of a peer (P5), added to its gossipsub score with weight 1. */
    appScore(peerId: string): number
    /** How long a disconnected peer's score is remembered. */
    retainScoreMs: number
    /** Test hook: replaces the content-based id (e.g. a random id makes a peer re-send duplicates). */
    messageId?: (topic: string, data: Uint8Array) => Uint8Array
  }
  gate: PeerGate
}

export interface Libp2pHostModules {
  logger?: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void }
}

// ------------------------------------------------------------------ node key

/**
 * Loads the node key (libp2p protobuf encoding, hex) or creates an Ed25519 one with mode
 * 0600. The peer id derives from it, so it stays stable across restarts.
 */
export async function loadOrCreateNodeKey(file: string): Promise<PrivateKey> {
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim()
    try {
      if (!/^[0-9a-f]+$/i.test(text)) throw new Error('not hex')
      return asPrivateKey(privateKeyFromProtobuf(Uint8Array.from(Buffer.from(text, 'hex'))))
    } catch (cause) {
      throw new P2PError<Libp2pErrorCode>(
        'P2P_NODE_KEY_INVALID',
        `node key file is invalid: ${file}`,
        { cause, details: { file } },
      )
    }
  }
  const key = asPrivateKey(await generateKeyPair('Ed25519'))
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, `${Buffer.from(privateKeyToProtobuf(key as never)).toString('hex')}\n`, {
    mode: 0o600,
    flag: 'wx',
  })
  chmodSync(file, 0o600)
  return key
}

export function peerIdOfKey(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}

/** Fresh in-memory key (tests, hand-made peers). */
export async function randomNodeKey(): Promise<PrivateKey> {
  return asPrivateKey(await generateKeyPair('Ed25519'))
}

/**
 * @libp2p/crypto 5.1.2x is typed against @libp2p/interface 3 while libp2p 2.9 uses
 * interface 2; the key objects are the same at runtime, only the declarations differ.
 */
function asPrivateKey(key: unknown): PrivateKey {
  return key as PrivateKey
}

// ------------------------------------------------------------------ helpers

export function contentMessageId(topic: string, data: Uint8Array): Uint8Array {
  // The topic is part of the id so identical bytes on two topics stay two messages.
  return createHash('sha256')
    .update(topic)
    .update(Uint8Array.of(0))
    .update(data)
    .digest()
    .subarray(0, 20)
}

function ipProtocol(host: string): 'ip4' | 'ip6' {
  return host.includes(':') ? 'ip6' : 'ip4'
}

function toBytes(chunk: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

function badAddress(address: string, cause: unknown): P2PError {
  return new P2PError<Libp2pErrorCode>('P2P_BAD_MULTIADDR', `not a valid multiaddr: ${address}`, {
    cause,
    details: { address },
  })
}

/** Validates a multiaddr string (CLI edge); returns the peer id in it, if any. */
export function parsePeerMultiaddr(address: string): { peerId?: string } {
  try {
    const ma = multiaddr(address)
    return { peerId: ma.getPeerId() ?? undefined }
  } catch (cause) {
    throw badAddress(address, cause)
  }
}

type Services = { pubsub: GossipSub; identify: unknown }

// ------------------------------------------------------------------ host

export class Libp2pHost extends EventEmitter<NetworkHostEvents> implements NetworkHost {
  readonly peerId: string
  private readonly options: Libp2pHostOptions
  private readonly logger: Libp2pHostModules['logger']
  private node: Libp2p<Services> | undefined
  private readonly handlers = new Map<string, { handler: RequestHandler; limits: HandleLimits }>()
  private readonly subscriptions = new Map<string, TopicScore>()
  private readonly cleanup: Array<() => void> = []

  constructor(options: Libp2pHostOptions, modules: Libp2pHostModules = {}) {
    super()
    this.options = options
    this.logger = modules.logger
    this.peerId = peerIdOfKey(options.privateKey)
  }

  private get libp2p(): Libp2p<Services> {
    if (this.node === undefined)
      throw new P2PError<Libp2pErrorCode>('P2P_NOT_STARTED', 'the p2p host is not started')
    return this.node
  }

  private get pubsub(): GossipSub {
    return this.libp2p.services.pubsub
  }

  async start(): Promise<void> {
    if (this.node !== undefined) return
    const { options } = this
    const gate = options.gate
    const denied = (peer: PeerId) => !gate.allowPeer(peer.toString())
    const msgId = options.gossip.messageId ?? contentMessageId
    const gossipOptions: Partial<GossipsubOpts> = {
      globalSignaturePolicy: 'StrictNoSign',
      msgIdFn: (msg) => msgId(msg.topic, msg.data),
      asyncValidation: true,
      emitSelf: false,
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      fallbackToFloodsub: false,
      floodPublish: true,
      doPX: false,
      heartbeatInterval: options.gossip.heartbeatMs,
      maxInboundDataLength: options.gossip.maxRpcBytes,
      scoreParams: {
        topics: {},
        topicScoreCap: 100,
        appSpecificScore: (peer) => options.gossip.appScore(peer),
        appSpecificWeight: 1,
        // Counted per IP; loopback test networks stay far below the threshold.
        IPColocationFactorWeight: -5,
        IPColocationFactorThreshold: 10,
        behaviourPenaltyWeight: -10,
        behaviourPenaltyThreshold: 6,
        behaviourPenaltyDecay: 0.9,
        decayInterval: 1000,
        decayToZero: 0.01,
        retainScore: options.gossip.retainScoreMs,
      },
      scoreThresholds: {
        gossipThreshold: options.gossip.thresholds.gossip,
        publishThreshold: options.gossip.thresholds.publish,
        graylistThreshold: options.gossip.thresholds.graylist,
        acceptPXThreshold: 100,
        opportunisticGraftThreshold: 5,
      },
    }
    const listen = `/${ipProtocol(options.listenHost)}/${options.listenHost}/tcp/${options.listenPort}`
    const node = await createLibp2p({
      privateKey: options.privateKey,
      addresses: { listen: [listen], announce: options.announce ?? [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: {
        maxConnections: options.maxConnections,
        dialTimeout: options.dialTimeoutMs,
      },
      connectionGater: {
        denyDialPeer: denied,
        denyInboundEncryptedConnection: denied,
        denyOutboundEncryptedConnection: denied,
      },
      nodeInfo: {
        name: 'sidechain',
        version: options.agentVersion,
        userAgent: options.agentVersion,
      },
      services: {
        identify: identify(),
        pubsub: gossipsub(gossipOptions),
      },
      start: false,
    })
    this.node = node as unknown as Libp2p<Services>
    const on = <T>(target: EventTarget, event: string, fn: (detail: T) => void) => {
      const listener = (evt: Event) => fn((evt as CustomEvent<T>).detail)
      target.addEventListener(event, listener)
      this.cleanup.push(() => target.removeEventListener(event, listener))
    }
    on<PeerId>(node, 'peer:connect', (peer) => this.emit('peer:connect', peer.toString()))
    on<PeerId>(node, 'peer:disconnect', (peer) => this.emit('peer:disconnect', peer.toString()))
    on<IdentifyResult>(node, 'peer:identify', (result) =>
      this.emit('peer:identify', result.peerId.toString(), {
        agentVersion: result.agentVersion,
        protocols: result.protocols,
      }),
    )
    const pubsub = this.pubsub
    on<{ propagationSource: PeerId; msgId: string; msg: { topic: string; data: Uint8Array } }>(
      pubsub,
      'gossipsub:message',
      (detail) =>
        this.emit('gossip:message', {
          topic: detail.msg.topic,
          data: detail.msg.data,
          msgId: detail.msgId,
          from: detail.propagationSource.toString(),
        }),
    )
    on(pubsub, 'gossipsub:heartbeat', () => this.emit('gossip:heartbeat'))
    for (const [protocol, { handler, limits }] of this.handlers)
      await this.register(protocol, handler, limits)
    await node.start()
    for (const [topic, score] of this.subscriptions) this.applySubscription(topic, score)
  }

  async stop(): Promise<void> {
    const node = this.node
    if (node === undefined) return
    this.node = undefined
    for (const fn of this.cleanup.splice(0)) fn()
    await node.stop()
  }

  listenAddresses(): string[] {
    if (this.node === undefined) return []
    return this.node.getMultiaddrs().map((ma) => ma.toString())
  }

  async dial(address: string, signal?: AbortSignal): Promise<string> {
    let ma: ReturnType<typeof multiaddr>
    try {
      ma = multiaddr(address)
    } catch (cause) {
      throw badAddress(address, cause)
    }
    const connection = await this.libp2p.dial(ma, { signal })
    return connection.remotePeer.toString()
  }

  async hangUp(peerId: string): Promise<void> {
    if (this.node === undefined) return
    await this.node.hangUp(peerIdFromString(peerId))
  }

  connections(): PeerConnection[] {
    if (this.node === undefined) return []
    return this.node.getConnections().map((c: Connection) => ({
      peerId: c.remotePeer.toString(),
      remoteAddr: c.remoteAddr.decapsulateCode(421).toString(),
      direction: c.direction,
      openedAt: c.timeline.open,
    }))
  }

  async peerInfo(peerId: string): Promise<{ agentVersion?: string; protocols: string[] }> {
    if (this.node === undefined) return { protocols: [] }
    try {
      const peer = await this.node.peerStore.get(peerIdFromString(peerId))
      const agent = peer.metadata.get('AgentVersion')
      return {
        agentVersion: agent === undefined ? undefined : Buffer.from(agent).toString('utf8'),
        protocols: peer.protocols,
      }
    } catch {
      return { protocols: [] }
    }
  }

  // ---------------------------------------------------------------- gossip

  subscribe(topic: string, score: TopicScore): void {
    this.subscriptions.set(topic, score)
    if (this.node !== undefined) this.applySubscription(topic, score)
  }

  private applySubscription(topic: string, score: TopicScore): void {
    // Topics can be registered after start (the consensus engine does), so the score
    // parameters object gossipsub holds is extended in place.
    this.pubsub.score.params.topics[topic] = createTopicScoreParams({
      topicWeight: score.topicWeight,
      timeInMeshWeight: score.timeInMeshWeight,
      timeInMeshQuantum: 1000,
      timeInMeshCap: score.timeInMeshCap,
      firstMessageDeliveriesWeight: score.firstMessageDeliveriesWeight,
      firstMessageDeliveriesDecay: 0.9,
      firstMessageDeliveriesCap: score.firstMessageDeliveriesCap,
      // Mesh delivery quotas punish honest peers on quiet topics (few transactions, idle
      // consensus between blocks); off.
      meshMessageDeliveriesWeight: 0,
      meshFailurePenaltyWeight: 0,
      invalidMessageDeliveriesWeight: score.invalidMessageDeliveriesWeight,
      invalidMessageDeliveriesDecay: score.invalidMessageDeliveriesDecay,
    })
    this.pubsub.subscribe(topic)
  }

  unsubscribe(topic: string): void {
    this.subscriptions.delete(topic)
    if (this.node === undefined) return
    this.pubsub.unsubscribe(topic)
    delete this.pubsub.score.params.topics[topic]
  }

  async publish(topic: string, data: Uint8Array, options?: PublishOptions): Promise<number> {
    if (options?.requirePeers !== true) {
      const result = await this.pubsub.publish(topic, data)
      return result.recipients.length
    }
    try {
      // Checked by gossipsub before the message enters its seen cache.
      const result = await this.pubsub.publish(topic, data, { allowPublishToZeroTopicPeers: false })
      return result.recipients.length
    } catch (err) {
      if ((err as Error).message === 'PublishError.NoPeersSubscribedToTopic') {
        throw new P2PError('P2P_NO_TOPIC_PEERS', `no peer subscribes to ${topic}`, { cause: err })
      }
      throw err
    }
  }

  reportValidation(msgId: string, from: string, result: ValidationResult): void {
    if (this.node === undefined) return
    const acceptance =
      result === 'accept'
        ? TopicValidatorResult.Accept
        : result === 'reject'
          ? TopicValidatorResult.Reject
          : TopicValidatorResult.Ignore
    this.pubsub.reportMessageValidationResult(msgId, from, acceptance)
  }

  gossipScore(peerId: string): number {
    if (this.node === undefined) return 0
    return this.pubsub.getScore(peerId)
  }

  meshPeers(topic: string): string[] {
    if (this.node === undefined) return []
    return this.pubsub.getMeshPeers(topic)
  }

  topicPeers(topic: string): string[] {
    if (this.node === undefined) return []
    return this.pubsub.getSubscribers(topic).map((p) => p.toString())
  }

  // ---------------------------------------------------------------- request / response

  handle(protocol: string, handler: RequestHandler, limits: HandleLimits): void {
    this.handlers.set(protocol, { handler, limits })
    if (this.node !== undefined) void this.register(protocol, handler, limits)
  }

  private async register(
    protocol: string,
    handler: RequestHandler,
    limits: HandleLimits,
  ): Promise<void> {
    await this.libp2p.handle(
      protocol,
      ({ stream, connection }) => {
        void this.serve(stream, connection.remotePeer.toString(), handler, limits)
      },
      {
        maxInboundStreams: limits.maxInboundStreams,
        maxOutboundStreams: limits.maxInboundStreams,
        force: true,
      },
    )
  }

  private async serve(
    stream: Stream,
    peerId: string,
    handler: RequestHandler,
    limits: HandleLimits,
  ): Promise<void> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new Error('request timeout')), limits.timeoutMs)
    const onAbort = () => stream.abort(controller.signal.reason as Error)
    controller.signal.addEventListener('abort', onAbort)
    try {
      const decoder = new FrameDecoder(limits.maxRequestBytes)
      let request: Uint8Array | undefined
      for await (const chunk of stream.source) {
        const frames = decoder.push(toBytes(chunk))
        if (frames.length > 1 || (frames.length === 1 && decoder.pending > 0)) {
          throw new P2PError<Libp2pErrorCode>(
            'P2P_REQUEST_TOO_LARGE',
            'more than one request frame',
          )
        }
        if (frames.length === 1) {
          request = frames[0]
          break
        }
      }
      if (request === undefined)
        throw new P2PError<Libp2pErrorCode>(
          'P2P_REQUEST_TOO_LARGE',
          'stream closed before the request',
        )
      clearTimeout(timer)
      controller.signal.removeEventListener('abort', onAbort)
      const frames = handler(peerId, request, controller.signal)
      await stream.sink(
        (async function* () {
          for await (const frame of frames) yield encodeFrame(frame)
        })(),
      )
      await stream.close()
    } catch (err) {
      this.logger?.debug({ peer: peerId, protocol: stream.protocol, err }, 'inbound request failed')
      stream.abort(err as Error)
    } finally {
      clearTimeout(timer)
      controller.signal.removeEventListener('abort', onAbort)
    }
  }

  async request(
    peerId: string,
    protocol: string,
    request: Uint8Array,
    limits: RequestLimits,
  ): Promise<Uint8Array[]> {
    const signals = [AbortSignal.timeout(limits.timeoutMs)]
    if (limits.signal !== undefined) signals.push(limits.signal)
    const signal = AbortSignal.any(signals)
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peerId), protocol, { signal })
    const onAbort = () =>
      stream.abort(signal.reason instanceof Error ? signal.reason : new Error('request aborted'))
    signal.addEventListener('abort', onAbort)
    try {
      await stream.sink([encodeFrame(request)])
      const decoder = new FrameDecoder(limits.maxFrameBytes)
      const frames: Uint8Array[] = []
      for await (const chunk of stream.source) {
        for (const frame of decoder.push(toBytes(chunk))) {
          frames.push(frame)
          if (frames.length > limits.maxFrames) {
            throw new P2PError<Libp2pErrorCode>(
              'P2P_TOO_MANY_FRAMES',
              `response has more than ${limits.maxFrames} frames`,
            )
          }
        }
      }
      decoder.end()
      return frames
    } catch (err) {
      stream.abort(err as Error)
      if (signal.aborted && !(err instanceof SidechainError)) throw signal.reason
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }
}
