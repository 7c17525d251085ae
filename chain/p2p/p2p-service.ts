/**
 * The node's networking: one libp2p host, gossip topics with validation, the status and
 * blocks-by-range protocols and peer management, behind one object with start/stop.
 * It knows the chain only through `ChainServer` (status and block chunks to serve); what
 * messages mean is decided by the validation functions registered with each topic.
 */
import { EventEmitter } from 'node:events'
import { bytesToHex } from '@ethereumjs/util'
import type { Logger } from 'pino'
import { z } from 'zod'
import { silentLogger } from '../lib/logger.ts'
import type { GossipMetrics } from '../metrics/events.ts'
import { type Scheduler, systemScheduler } from '../util/scheduler.ts'
import { P2PError } from './errors.ts'
import {
  GossipRouter,
  type GossipTopic,
  type GossipTopicSpec,
  type GossipTopicStats,
  topicName,
} from './gossip.ts'
import type { NetworkHost, PublishOptions } from './host.ts'
import { Libp2pHost, loadOrCreateNodeKey, parsePeerMultiaddr } from './libp2p.ts'
import type { ChainStatus } from './messages.ts'
import { type P2POptions, type P2POptionsInput, p2pOptionsSchema } from './options.ts'
import { PeerManager, type PeerPenalty, type PeerRecord } from './peer-manager.ts'
import { type ChainServer, ReqResp, type ReqRespStats } from './reqresp.ts'

export const P2P_AGENT = 'sidechain/0.1.0'

export {
  type P2POptions,
  type P2POptionsInput,
  p2pOptionsSchema,
} from './options.ts'

export interface P2PModules {
  chain: ChainServer
  logger?: Logger
  scheduler?: Scheduler
  /** Replaces the libp2p host (tests of the layers above it). */
  host?: NetworkHost
  /** Gossip verdicts by topic, result and code, as they happen; null or absent: not counted. */
  metrics?: GossipMetrics | null
}

/** One entry of `admin_peers` (geth-like shape, libp2p addresses). */
export interface PeerSummary {
  id: string
  name: string
  enode: string
  caps: string[]
  network: { remoteAddress: string; inbound: boolean; static: boolean; connectedAt: number }
  protocols: {
    sidechain:
      | {
          version: 1
          head: string
          number: number
          genesis: string
          chainId: number
          score: { gossip: number; app: number }
        }
      | 'handshake'
  }
}

export interface NodeInfo {
  id: string
  name: string
  enode: string
  listenAddr: string
  listenAddrs: string[]
  ports: { listener: number }
  protocols: { sidechain: { network: number; genesis: string; head: string; number: number } }
}

export interface P2PServiceEvents {
  'peer:status': [peerId: string, status: ChainStatus]
  'peer:ready': [peerId: string]
  'peer:disconnected': [peerId: string]
}

export class P2PService extends EventEmitter<P2PServiceEvents> {
  readonly options: P2POptions
  private readonly chain: ChainServer
  private readonly logger: Logger
  private readonly scheduler: Scheduler
  private readonly injectedHost: NetworkHost | undefined
  private readonly metrics: GossipMetrics | null
  private host: NetworkHost | undefined
  private gossip: GossipRouter | undefined
  private reqresp: ReqResp | undefined
  private manager: PeerManager | undefined
  /** Topics registered before start are applied when the host exists. */
  private readonly pendingTopics: Array<{ spec: GossipTopicSpec; handle: DeferredTopic }> = []
  private state: 'new' | 'running' | 'stopped' = 'new'

  constructor(options: P2POptionsInput, modules: P2PModules) {
    super()
    const parsed = p2pOptionsSchema.safeParse(options)
    if (!parsed.success) {
      throw new P2PError(
        'P2P_BAD_OPTIONS',
        `invalid p2p options:\n${z.prettifyError(parsed.error)}`,
      )
    }
    this.options = parsed.data
    for (const address of this.options.bootnodes) parsePeerMultiaddr(address)
    this.chain = modules.chain
    this.logger = modules.logger ?? silentLogger()
    this.scheduler = modules.scheduler ?? systemScheduler
    this.injectedHost = modules.host
    this.metrics = modules.metrics ?? null
  }

  get isRunning(): boolean {
    return this.state === 'running'
  }

  get peerId(): string {
    return this.requireHost().peerId
  }

  async start(): Promise<void> {
    if (this.state === 'running') return
    const { options } = this
    const local = this.chain.localStatus()
    let manager: PeerManager | undefined
    const host =
      this.injectedHost ??
      new Libp2pHost(
        {
          privateKey: await loadOrCreateNodeKey(options.nodeKeyFile),
          listenHost: options.host,
          listenPort: options.port,
          announce: options.announce,
          maxConnections: options.maxPeers,
          dialTimeoutMs: options.dialTimeoutMs,
          agentVersion: P2P_AGENT,
          gossip: {
            heartbeatMs: options.gossip.heartbeatMs,
            maxRpcBytes: options.gossip.maxRpcBytes,
            thresholds: {
              gossip: options.scoring.gossipThreshold,
              publish: options.scoring.publishThreshold,
              graylist: options.scoring.graylistThreshold,
            },
            appScore: (peer) => manager?.appScore(peer) ?? 0,
            retainScoreMs: options.scoring.retainScoreMs,
          },
          gate: { allowPeer: (peer) => manager?.allowPeer(peer) ?? true },
        },
        { logger: this.logger },
      )
    const gossip = new GossipRouter(
      { chainId: local.chainId },
      { host, logger: this.logger, metrics: this.metrics },
    )
    const reqresp = new ReqResp(options.reqresp, {
      host,
      chain: this.chain,
      logger: this.logger,
      now: () => this.scheduler.now(),
      onInboundStatus: (peer, status) => manager?.acceptStatus(peer, status) ?? false,
      onBadRequest: (peer, reason) => manager?.penalize(peer, 'mid-tolerance', reason),
    })
    manager = new PeerManager(
      {
        bootnodes: options.bootnodes,
        disconnectScore: options.scoring.disconnectScore,
        banMs: options.scoring.banMs,
        statusIntervalMs: options.reqresp.statusIntervalMs,
        bootnodeRedialMs: options.bootnodeRedialMs,
        scoreHalfLifeMs: options.scoring.appScoreHalfLifeMs,
        local: () => this.chain.localStatus(),
      },
      { host, reqresp, logger: this.logger, scheduler: this.scheduler },
    )
    manager.on('status', (peer, status) => this.emit('peer:status', peer, status))
    manager.on('ready', (peer) => this.emit('peer:ready', peer))
    manager.on('disconnected', (peer) => this.emit('peer:disconnected', peer))
    reqresp.register()
    this.host = host
    this.gossip = gossip
    this.reqresp = reqresp
    this.manager = manager
    for (const { spec, handle } of this.pendingTopics.splice(0))
      handle.attach(gossip.register(spec))
    await host.start()
    manager.start()
    this.state = 'running'
    this.logger.info(
      { peerId: host.peerId, listen: host.listenAddresses(), bootnodes: options.bootnodes.length },
      'p2p started',
    )
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return
    this.state = 'stopped'
    this.manager?.stop()
    this.gossip?.dispose()
    await this.host?.stop()
    this.logger.info('p2p stopped')
  }

  private requireHost(): NetworkHost {
    if (this.host === undefined) throw new P2PError('P2P_BAD_OPTIONS', 'p2p is not started')
    return this.host
  }

  // ---------------------------------------------------------------- gossip

  /**
   * Registers a gossip topic with its validation function. Works before or after start;
   * the returned handle publishes and reports counters. See GossipTopicSpec.
   */
  registerTopic(spec: GossipTopicSpec): GossipTopic {
    if (this.gossip !== undefined) {
      this.checkTopicCap(spec)
      return this.gossip.register(spec)
    }
    this.checkTopicCap(spec)
    const handle = new DeferredTopic(spec.name)
    this.pendingTopics.push({ spec, handle })
    return handle
  }

  private checkTopicCap(spec: GossipTopicSpec): void {
    // Gossipsub drops whole RPC frames over its cap, before any scoring: a topic cap above
    // it would turn REJECTs into silent stream errors.
    if (spec.maxMessageBytes + 64 * 1024 > this.options.gossip.maxRpcBytes) {
      throw new P2PError(
        'P2P_BAD_OPTIONS',
        `topic ${spec.name}: maxMessageBytes must stay 64 KiB below gossip.maxRpcBytes`,
      )
    }
  }

  gossipStats(): Record<string, GossipTopicStats> {
    return this.gossip?.stats() ?? {}
  }

  /** Peers subscribed to one of our topics (by short name), and those in its mesh. */
  topicPeers(name: string): { subscribed: string[]; mesh: string[] } {
    const host = this.host
    if (host === undefined) return { subscribed: [], mesh: [] }
    const topic = topicName(this.chain.localStatus().chainId, name)
    return { subscribed: host.topicPeers(topic), mesh: host.meshPeers(topic) }
  }

  reqRespStats(): ReqRespStats | undefined {
    return this.reqresp?.stats()
  }

  // ---------------------------------------------------------------- peers

  peerCount(): number {
    return this.manager?.readyPeers().length ?? 0
  }

  /** Peers that passed the status handshake, with their best known head. */
  syncPeers(): Array<{ peerId: string; head: bigint; status: ChainStatus }> {
    const manager = this.manager
    if (manager === undefined) return []
    return manager
      .readyPeers()
      .map((p) => ({ peerId: p.peerId, head: manager.headOf(p), status: p.status! }))
  }

  /** A peer relayed block `number` (so it has it). */
  notePeerHead(peerId: string, number: bigint): void {
    this.manager?.noteHead(peerId, number)
  }

  penalize(peerId: string, penalty: PeerPenalty, reason: string): void {
    this.manager?.penalize(peerId, penalty, reason)
  }

  gossipScore(peerId: string): number {
    return this.host?.gossipScore(peerId) ?? 0
  }

  appScore(peerId: string): number {
    return this.manager?.appScore(peerId) ?? 0
  }

  isBanned(peerId: string): boolean {
    return this.manager?.isBanned(peerId) ?? false
  }

  connectedPeerIds(): string[] {
    return [...new Set((this.host?.connections() ?? []).map((c) => c.peerId))]
  }

  /** Test hook (the connection gate): only peers the filter allows may stay or connect. */
  async setPeerFilter(filter: ((peerId: string) => boolean) | undefined): Promise<void> {
    await this.manager?.setFilter(filter)
  }

  async dial(address: string): Promise<string> {
    return this.requireHost().dial(address)
  }

  async disconnect(peerId: string): Promise<void> {
    await this.host?.hangUp(peerId)
  }

  listenAddresses(): string[] {
    return this.host?.listenAddresses() ?? []
  }

  async requestBlocksByRange(
    peerId: string,
    start: bigint,
    count: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array[]> {
    if (this.reqresp === undefined) throw new P2PError('P2P_BAD_OPTIONS', 'p2p is not started')
    return this.reqresp.blocksByRange(peerId, start, count, signal)
  }

  async requestStatus(peerId: string): Promise<ChainStatus> {
    if (this.reqresp === undefined) throw new P2PError('P2P_BAD_OPTIONS', 'p2p is not started')
    return this.reqresp.status(peerId)
  }

  // ---------------------------------------------------------------- admin

  async peers(): Promise<PeerSummary[]> {
    const host = this.host
    const manager = this.manager
    if (host === undefined || manager === undefined) return []
    const byPeer = new Map<string, ReturnType<NetworkHost['connections']>[number]>()
    for (const c of host.connections()) if (!byPeer.has(c.peerId)) byPeer.set(c.peerId, c)
    const out: PeerSummary[] = []
    for (const [peerId, connection] of byPeer) {
      const record: PeerRecord | undefined = manager.get(peerId)
      const info = await host.peerInfo(peerId)
      const status = record?.status
      out.push({
        id: peerId,
        name: info.agentVersion ?? '',
        enode: `${connection.remoteAddr}/p2p/${peerId}`,
        caps: info.protocols.filter(
          (p) => p.startsWith('/sidechain/') || p.startsWith('/meshsub/'),
        ),
        network: {
          remoteAddress: connection.remoteAddr,
          inbound: connection.direction === 'inbound',
          static: manager.isBootnode(peerId),
          connectedAt: connection.openedAt,
        },
        protocols: {
          sidechain:
            status === undefined || record === undefined
              ? 'handshake'
              : {
                  version: 1,
                  head: bytesToHex(status.headHash),
                  number: Number(manager.headOf(record)),
                  genesis: bytesToHex(status.genesisHash),
                  chainId: Number(status.chainId),
                  score: { gossip: host.gossipScore(peerId), app: manager.appScore(peerId) },
                },
        },
      })
    }
    return out
  }

  nodeInfo(): NodeInfo {
    const host = this.requireHost()
    const local = this.chain.localStatus()
    const addrs = host.listenAddresses()
    const first = addrs[0] ?? ''
    const port = Number(/\/tcp\/(\d+)/.exec(first)?.[1] ?? this.options.port)
    return {
      id: host.peerId,
      name: P2P_AGENT,
      enode: first,
      listenAddr: first.replace(/\/p2p\/.*$/, ''),
      listenAddrs: addrs,
      ports: { listener: port },
      protocols: {
        sidechain: {
          network: Number(local.chainId),
          genesis: bytesToHex(local.genesisHash),
          head: bytesToHex(local.headHash),
          number: Number(local.headNumber),
        },
      },
    }
  }
}

/** Handle for a topic registered before start; becomes live at start. */
class DeferredTopic implements GossipTopic {
  readonly name: string
  private live: GossipTopic | undefined
  private removed = false

  constructor(name: string) {
    this.name = name
  }

  attach(topic: GossipTopic): void {
    if (this.removed) topic.unregister()
    else this.live = topic
  }

  get topic(): string {
    return this.live?.topic ?? ''
  }

  async publish(data: Uint8Array, options?: PublishOptions): Promise<number> {
    if (this.live === undefined) {
      if (options?.requirePeers === true)
        throw new P2PError('P2P_NO_TOPIC_PEERS', `no peer subscribes to ${this.name} (not started)`)
      return 0
    }
    return this.live.publish(data, options)
  }

  stats(): GossipTopicStats {
    return (
      this.live?.stats() ?? {
        received: 0,
        accepted: 0,
        ignored: 0,
        rejected: 0,
        oversized: 0,
        dropped: 0,
        published: 0,
      }
    )
  }

  unregister(): void {
    this.removed = true
    this.live?.unregister()
  }
}
