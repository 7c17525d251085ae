/**
 * The network host seen by the rest of chain/p2p: connections, gossip and framed
 * request/response streams, in our own plain types. `libp2p.ts` is the only
 * implementation and the only module that imports libp2p packages, so moving to another
 * libp2p line changes that one file.
 */
import type { EventEmitter } from 'node:events'

/** What gossipsub should do with a message after our validation. */
export type ValidationResult = 'accept' | 'ignore' | 'reject'

export interface RawGossipMessage {
  topic: string
  data: Uint8Array
  /** Content-based id (hash of topic and data), as a string. */
  msgId: string
  /** The peer that relayed it to us (messages are unsigned: there is no author). */
  from: string
}

export interface PeerConnection {
  peerId: string
  /** Remote multiaddr of the connection, without /p2p. */
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  openedAt: number
}

/** Per-topic gossipsub scoring knobs (see `defaultTopicScore`). */
export interface TopicScore {
  topicWeight: number
  /** P4: penalty weight of (invalid messages)^2; negative. */
  invalidMessageDeliveriesWeight: number
  /** P4 counter decay per decay interval (1 s), 0..1. */
  invalidMessageDeliveriesDecay: number
  /** P2: reward per first delivery of a valid message; positive. */
  firstMessageDeliveriesWeight: number
  firstMessageDeliveriesCap: number
  /** P1: reward per second in the mesh; positive. */
  timeInMeshWeight: number
  timeInMeshCap: number
}

/**
 * Frames of one response, handed to the host as they are produced. Ending the iterable
 * ends the stream; throwing aborts it.
 */
export type RequestHandler = (
  peerId: string,
  request: Uint8Array,
  signal: AbortSignal,
) => AsyncIterable<Uint8Array>

export interface HandleLimits {
  maxRequestBytes: number
  /** Time to receive the request frame. */
  timeoutMs: number
  maxInboundStreams: number
}

export interface RequestLimits {
  /** Cap on each response frame; a larger frame fails the request before it is read. */
  maxFrameBytes: number
  maxFrames: number
  /** Whole request, from opening the stream to the last frame. */
  timeoutMs: number
  signal?: AbortSignal
}

export interface PublishOptions {
  requirePeers?: boolean
}

export interface NetworkHostEvents {
  'peer:connect': [peerId: string]
  'peer:disconnect': [peerId: string]
  'peer:identify': [peerId: string, info: { agentVersion?: string; protocols: string[] }]
  'gossip:message': [RawGossipMessage]
  'gossip:heartbeat': []
}

export interface NetworkHost extends EventEmitter<NetworkHostEvents> {
  readonly peerId: string
  start(): Promise<void>
  stop(): Promise<void>
  /** Listening addresses, each ending in /p2p/<peerId>. */
  listenAddresses(): string[]
  /** Dials a multiaddr (with or without /p2p); resolves to the remote peer id. */
  dial(address: string, signal?: AbortSignal): Promise<string>
  hangUp(peerId: string): Promise<void>
  connections(): PeerConnection[]
  /** Agent version and protocols learned by identify, if any. */
  peerInfo(peerId: string): Promise<{ agentVersion?: string; protocols: string[] }>

  subscribe(topic: string, score: TopicScore): void
  unsubscribe(topic: string): void
  /**
   * Publishes to peers of the topic; returns how many got it (0 for a duplicate). With
   * `requirePeers`, a topic nobody subscribes to throws (P2P_NO_TOPIC_PEERS) instead, and
   * the message is not marked as seen, so the same bytes can go out once peers are there.
   */
  publish(topic: string, data: Uint8Array, options?: PublishOptions): Promise<number>
  /** Must be called once for each 'gossip:message' (asynchronous validation). */
  reportValidation(msgId: string, from: string, result: ValidationResult): void
  /** Gossipsub score of a peer (0 for unknown peers). */
  gossipScore(peerId: string): number
  meshPeers(topic: string): string[]
  topicPeers(topic: string): string[]

  handle(protocol: string, handler: RequestHandler, limits: HandleLimits): void
  /** Opens a stream, sends one request frame and collects the response frames. */
  request(
    peerId: string,
    protocol: string,
    request: Uint8Array,
    limits: RequestLimits,
  ): Promise<Uint8Array[]>
}
