/**
 * Who we are connected to and what we think of them:
 * - the status handshake on every new connection (both sides ask), refreshed periodically;
 *   peers of another chain (chain id or genesis) are banned for a while and dropped;
 * - application scores for request/response misbehaviour, fed to gossipsub as P5 and
 *   decaying over time;
 * - disconnection and a temporary ban when a peer's score falls below the threshold
 *   (gossipsub only graylists; dropping the peer is ours to do);
 * - the connection gate (bans plus an optional filter tests use to cut a node off);
 * - redialing bootnodes.
 */
import { EventEmitter } from 'node:events'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import type { Logger } from 'pino'
import type { Scheduler } from '../util/scheduler.ts'
import type { NetworkHost } from './host.ts'
import type { ChainStatus } from './messages.ts'
import type { ReqResp } from './reqresp.ts'

/** How bad a misbehaviour is (Lodestar's PeerAction, on the gossipsub score scale). */
export type PeerPenalty = 'fatal' | 'low-tolerance' | 'mid-tolerance' | 'high-tolerance'

const PENALTY_POINTS: Record<PeerPenalty, number> = {
  fatal: Number.NEGATIVE_INFINITY,
  'low-tolerance': -250,
  'mid-tolerance': -50,
  'high-tolerance': -10,
}

export interface PeerManagerOptions {
  bootnodes: string[]
  /** Disconnect and ban below this score (gossipsub score, which includes the app score). */
  disconnectScore: number
  banMs: number
  statusIntervalMs: number
  bootnodeRedialMs: number
  /** App scores halve over this time. */
  scoreHalfLifeMs: number
  local: () => ChainStatus
}

export interface PeerManagerModules {
  host: NetworkHost
  reqresp: ReqResp
  logger: Logger
  scheduler: Scheduler
}

export interface PeerRecord {
  peerId: string
  connectedAt: number
  status?: ChainStatus
  statusAt?: number
  /** Head learned from gossip, may be ahead of `status`. */
  knownHead?: bigint
  handshake: 'pending' | 'done'
  appScore: number
  appScoreAt: number
}

export interface PeerManagerEvents {
  /** A peer completed the handshake or reported a new head. */
  status: [peerId: string, status: ChainStatus]
  /** A peer passed the handshake. */
  ready: [peerId: string]
  disconnected: [peerId: string]
}

const HANDSHAKE_ATTEMPTS = 3

export class PeerManager extends EventEmitter<PeerManagerEvents> {
  private readonly options: PeerManagerOptions
  private readonly host: NetworkHost
  private readonly reqresp: ReqResp
  private readonly logger: Logger
  private readonly scheduler: Scheduler
  private readonly peers = new Map<string, PeerRecord>()
  /** App scores outlive connections, so reconnecting does not wipe a penalty. */
  private readonly appScores = new Map<string, { score: number; at: number }>()
  private readonly bans = new Map<string, { until: number; reason: string }>()
  private readonly bootnodes: Array<{
    address: string
    peerId?: string
    nextDialAt: number
    backoffMs: number
  }>
  private filter: ((peerId: string) => boolean) | undefined
  private running = false
  private statusTimer: unknown
  private bootTimer: unknown
  private readonly unsubscribers: Array<() => void> = []

  constructor(options: PeerManagerOptions, modules: PeerManagerModules) {
    super()
    this.options = options
    this.host = modules.host
    this.reqresp = modules.reqresp
    this.logger = modules.logger
    this.scheduler = modules.scheduler
    this.bootnodes = options.bootnodes.map((address) => ({
      address,
      peerId: /\/p2p\/([^/]+)/.exec(address)?.[1],
      nextDialAt: 0,
      backoffMs: 1000,
    }))
  }

  // ---------------------------------------------------------------- gate

  /** The connection gate: false for banned peers and for peers the filter refuses. */
  allowPeer(peerId: string): boolean {
    if (peerId === this.host.peerId) return true
    if (this.isBanned(peerId)) return false
    return this.filter === undefined || this.filter(peerId)
  }

  isBanned(peerId: string): boolean {
    const ban = this.bans.get(peerId)
    if (ban === undefined) return false
    if (ban.until <= this.scheduler.now()) {
      this.bans.delete(peerId)
      return false
    }
    return true
  }

  /** Test hook: only peers the filter allows may stay or connect; others are dropped now. */
  async setFilter(filter: ((peerId: string) => boolean) | undefined): Promise<void> {
    this.filter = filter
    if (filter === undefined) return
    const drops = this.host
      .connections()
      .map((c) => c.peerId)
      .filter((peer) => !filter(peer))
    await Promise.all(
      [...new Set(drops)].map((peer) => this.host.hangUp(peer).catch(() => undefined)),
    )
  }

  // ---------------------------------------------------------------- lifecycle

  start(): void {
    if (this.running) return
    this.running = true
    const onConnect = (peer: string) => this.onConnect(peer)
    const onDisconnect = (peer: string) => this.onDisconnect(peer)
    const onHeartbeat = () => this.checkScores()
    this.host.on('peer:connect', onConnect)
    this.host.on('peer:disconnect', onDisconnect)
    this.host.on('gossip:heartbeat', onHeartbeat)
    this.unsubscribers.push(
      () => this.host.off('peer:connect', onConnect),
      () => this.host.off('peer:disconnect', onDisconnect),
      () => this.host.off('gossip:heartbeat', onHeartbeat),
    )
    for (const connection of this.host.connections()) this.onConnect(connection.peerId)
    this.scheduleStatus()
    this.dialBootnodes()
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    for (const off of this.unsubscribers.splice(0)) off()
    if (this.statusTimer !== undefined) this.scheduler.clearTimeout(this.statusTimer)
    if (this.bootTimer !== undefined) this.scheduler.clearTimeout(this.bootTimer)
    this.statusTimer = undefined
    this.bootTimer = undefined
    this.peers.clear()
  }

  // ---------------------------------------------------------------- peers

  get(peerId: string): PeerRecord | undefined {
    return this.peers.get(peerId)
  }

  /** Peers that passed the handshake. */
  readyPeers(): PeerRecord[] {
    return [...this.peers.values()].filter((p) => p.handshake === 'done')
  }

  get size(): number {
    return this.peers.size
  }

  isBootnode(peerId: string): boolean {
    return this.bootnodes.some((b) => b.peerId === peerId)
  }

  /** A peer demonstrably has block `number` (it relayed it): raise its known head. */
  noteHead(peerId: string, number: bigint): void {
    const peer = this.peers.get(peerId)
    if (peer === undefined || peer.status === undefined) return
    if (peer.knownHead !== undefined && peer.knownHead >= number) return
    peer.knownHead = number
    if (number > peer.status.headNumber)
      this.emit('status', peerId, { ...peer.status, headNumber: number })
  }

  /** Best known head of a peer: its status, or newer if gossip showed it. */
  headOf(peer: PeerRecord): bigint {
    const status = peer.status?.headNumber ?? 0n
    return peer.knownHead !== undefined && peer.knownHead > status ? peer.knownHead : status
  }

  private onConnect(peerId: string): void {
    if (!this.running) return
    if (!this.allowPeer(peerId)) {
      void this.host.hangUp(peerId).catch(() => undefined)
      return
    }
    if (this.peers.has(peerId)) return
    const saved = this.appScores.get(peerId)
    this.peers.set(peerId, {
      peerId,
      connectedAt: this.scheduler.now(),
      handshake: 'pending',
      appScore: saved?.score ?? 0,
      appScoreAt: saved?.at ?? this.scheduler.now(),
    })
    this.logger.debug({ peer: peerId }, 'peer connected')
    void this.handshake(peerId, 1)
  }

  private onDisconnect(peerId: string): void {
    const peer = this.peers.get(peerId)
    if (peer === undefined) return
    this.peers.delete(peerId)
    this.reqresp.forgetPeer(peerId)
    this.logger.debug({ peer: peerId }, 'peer disconnected')
    this.emit('disconnected', peerId)
  }

  private async handshake(peerId: string, attempt: number): Promise<void> {
    try {
      const status = await this.reqresp.status(peerId)
      this.acceptStatus(peerId, status)
    } catch (err) {
      if (!this.running || !this.peers.has(peerId)) return
      if (attempt < HANDSHAKE_ATTEMPTS) {
        this.scheduler.setTimeout(() => void this.handshake(peerId, attempt + 1), 300 * attempt)
        return
      }
      this.logger.debug({ peer: peerId, err }, 'status handshake failed; disconnecting')
      await this.host.hangUp(peerId).catch(() => undefined)
    }
  }

  /** Status from the peer's request (it asked us) or its response (we asked it). */
  acceptStatus(peerId: string, status: ChainStatus): boolean {
    const local = this.options.local()
    if (status.chainId !== local.chainId || !equalsBytes(status.genesisHash, local.genesisHash)) {
      this.logger.warn(
        { peer: peerId, chainId: Number(status.chainId), genesis: bytesToHex(status.genesisHash) },
        'peer is on a different chain; disconnecting',
      )
      // Let our status response leave first, so the peer can tell why it is dropped.
      this.scheduler.setTimeout(() => this.ban(peerId, 'different chain'), 100)
      return false
    }
    const peer = this.peers.get(peerId)
    if (peer === undefined) return true
    const first = peer.handshake === 'pending'
    peer.status = status
    peer.statusAt = this.scheduler.now()
    peer.handshake = 'done'
    if (first) {
      this.logger.info(
        { peer: peerId, head: Number(status.headNumber), peers: this.readyPeers().length },
        'peer ready',
      )
      this.emit('ready', peerId)
    }
    this.emit('status', peerId, status)
    return true
  }

  private scheduleStatus(): void {
    if (!this.running) return
    this.statusTimer = this.scheduler.setTimeout(() => {
      this.statusTimer = undefined
      this.refreshStatuses()
      this.reqresp.pruneLimiters()
      this.scheduleStatus()
    }, this.options.statusIntervalMs)
  }

  private refreshStatuses(): void {
    for (const peer of this.readyPeers()) {
      this.reqresp
        .status(peer.peerId)
        .then((status) => this.acceptStatus(peer.peerId, status))
        .catch((err) => this.logger.debug({ peer: peer.peerId, err }, 'status refresh failed'))
    }
  }

  // ---------------------------------------------------------------- scores

  appScore(peerId: string): number {
    const entry = this.appScores.get(peerId)
    if (entry === undefined) return 0
    const now = this.scheduler.now()
    const decayed = entry.score * 0.5 ** ((now - entry.at) / this.options.scoreHalfLifeMs)
    if (Math.abs(decayed) < 0.5) {
      this.appScores.delete(peerId)
      return 0
    }
    return decayed
  }

  penalize(peerId: string, penalty: PeerPenalty, reason: string): void {
    const points = PENALTY_POINTS[penalty]
    this.logger.debug({ peer: peerId, penalty, reason }, 'peer penalized')
    if (penalty === 'fatal') {
      this.ban(peerId, reason)
      return
    }
    const score = this.appScore(peerId) + points
    this.appScores.set(peerId, { score, at: this.scheduler.now() })
    if (score <= this.options.disconnectScore) this.ban(peerId, reason)
  }

  /** Drops and bans peers whose score fell below the threshold; runs every gossip heartbeat. */
  checkScores(): void {
    for (const peerId of this.peers.keys()) {
      const gossip = this.host.gossipScore(peerId)
      if (gossip < this.options.disconnectScore)
        this.ban(peerId, `gossip score ${gossip.toFixed(0)}`)
    }
  }

  ban(peerId: string, reason: string): void {
    if (peerId === this.host.peerId) return
    const already = this.isBanned(peerId)
    this.bans.set(peerId, { until: this.scheduler.now() + this.options.banMs, reason })
    if (!already) {
      this.logger.warn(
        { peer: peerId, reason, banSeconds: Math.round(this.options.banMs / 1000) },
        'peer banned',
      )
    }
    void this.host.hangUp(peerId).catch(() => undefined)
  }

  bannedPeers(): Array<{ peerId: string; until: number; reason: string }> {
    return [...this.bans.entries()]
      .filter(([peer]) => this.isBanned(peer))
      .map(([peerId, ban]) => ({ peerId, ...ban }))
  }

  // ---------------------------------------------------------------- bootnodes

  private dialBootnodes(): void {
    if (!this.running) return
    const now = this.scheduler.now()
    const connected = new Set(this.host.connections().map((c) => c.peerId))
    for (const boot of this.bootnodes) {
      if (boot.peerId === this.host.peerId) continue
      if (boot.peerId !== undefined && connected.has(boot.peerId)) {
        boot.backoffMs = 1000
        continue
      }
      // Without a peer id in the address we cannot tell if we are connected; dial while alone.
      if (boot.peerId === undefined && connected.size > 0) continue
      if (boot.nextDialAt > now) continue
      boot.nextDialAt = now + boot.backoffMs
      boot.backoffMs = Math.min(boot.backoffMs * 2, 30_000)
      this.host
        .dial(boot.address)
        .then((peerId) => {
          boot.peerId ??= peerId
          boot.backoffMs = 1000
        })
        .catch((err) => this.logger.debug({ bootnode: boot.address, err }, 'bootnode dial failed'))
    }
    if (this.bootnodes.length > 0) {
      this.bootTimer = this.scheduler.setTimeout(() => {
        this.bootTimer = undefined
        this.dialBootnodes()
      }, this.options.bootnodeRedialMs)
    }
  }
}
