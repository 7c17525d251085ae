/**
 * Request/response protocols: status and blocks-by-range. The server side enforces a token
 * bucket per peer and protocol, caps the number of blocks and the bytes of one response;
 * the client side caps what it reads (frames, bytes, time) and turns error frames into
 * typed errors. What a block chunk contains is the chain's business (`ChainServer`).
 */
import type { Logger } from 'pino'
import { errorMessage } from '../lib/errors.ts'
import { P2PError } from './errors.ts'
import type { NetworkHost } from './host.ts'
import {
  type ChainStatus,
  decodeRangeRequest,
  decodeStatus,
  encodeRangeRequest,
  encodeStatus,
  errorFrame,
  RESPONSE_CODES,
  responseFrame,
  splitResponseFrame,
} from './messages.ts'
import { type RateLimit, RateLimiter } from './rate-limiter.ts'

export const STATUS_PROTOCOL = '/sidechain/req/status/1'
export const BLOCKS_BY_RANGE_PROTOCOL = '/sidechain/req/blocks_by_range/1'

export type ReqRespErrorCode =
  | 'P2P_RATE_LIMITED'
  | 'P2P_PEER_REFUSED_REQUEST'
  | 'P2P_PEER_SERVER_ERROR'
  | 'P2P_BAD_RESPONSE'

export class ReqRespError extends P2PError<ReqRespErrorCode> {
  override readonly name: string = 'ReqRespError'
}

/** The chain data the protocols serve. Implemented over the ledger in chain/sync. */
export interface ChainServer {
  localStatus(): ChainStatus
  /**
   * Encoded chunks of blocks start..start+count-1 that exist, in order; stops before the
   * running total would exceed maxBytes (but always yields at least one chunk if it exists).
   */
  blocksByRange(
    start: bigint,
    count: number,
    maxBytes: number,
    signal: AbortSignal,
  ): AsyncIterable<Uint8Array>
}

export interface ReqRespLimits {
  requestTimeoutMs: number
  maxBlocksPerRequest: number
  /** Cap on one block chunk (a block with its seals). */
  maxBlockChunkBytes: number
  /** Cap on all chunks of one blocks-by-range response. */
  maxResponseBytes: number
  statusRateLimit: RateLimit
  /** Tokens are blocks asked for. */
  blocksRateLimit: RateLimit
  maxConcurrentStreams: number
}

export interface ReqRespModules {
  host: NetworkHost
  chain: ChainServer
  logger: Logger
  now: () => number
  /** A peer told us its status in its request; returns false to refuse it (other chain). */
  onInboundStatus(peerId: string, status: ChainStatus): boolean
  /** A peer broke protocol rules while requesting (malformed request). */
  onBadRequest(peerId: string, reason: string): void
}

const STATUS_MAX_BYTES = 256

/** Served requests (server side), for metrics and tests. */
export interface ReqRespStats {
  statusServed: number
  rangesServed: number
  blocksServed: number
  rateLimited: number
  invalidRequests: number
}

export class ReqResp {
  private readonly limits: ReqRespLimits
  private readonly modules: ReqRespModules
  private readonly statusLimiter: RateLimiter
  private readonly blocksLimiter: RateLimiter
  private readonly counters: ReqRespStats = {
    statusServed: 0,
    rangesServed: 0,
    blocksServed: 0,
    rateLimited: 0,
    invalidRequests: 0,
  }

  constructor(limits: ReqRespLimits, modules: ReqRespModules) {
    this.limits = limits
    this.modules = modules
    this.statusLimiter = new RateLimiter(limits.statusRateLimit, modules.now)
    this.blocksLimiter = new RateLimiter(limits.blocksRateLimit, modules.now)
  }

  register(): void {
    const { host } = this.modules
    const handleLimits = {
      timeoutMs: this.limits.requestTimeoutMs,
      maxInboundStreams: this.limits.maxConcurrentStreams,
    }
    host.handle(STATUS_PROTOCOL, (peer, request) => this.serveStatus(peer, request), {
      ...handleLimits,
      maxRequestBytes: STATUS_MAX_BYTES,
    })
    host.handle(
      BLOCKS_BY_RANGE_PROTOCOL,
      (peer, request, signal) => this.serveBlocks(peer, request, signal),
      {
        ...handleLimits,
        maxRequestBytes: 64,
      },
    )
  }

  stats(): ReqRespStats {
    return { ...this.counters }
  }

  forgetPeer(peerId: string): void {
    this.statusLimiter.forget(peerId)
    this.blocksLimiter.forget(peerId)
  }

  pruneLimiters(): void {
    this.statusLimiter.prune()
    this.blocksLimiter.prune()
  }

  // ---------------------------------------------------------------- server

  private async *serveStatus(peerId: string, request: Uint8Array): AsyncGenerator<Uint8Array> {
    if (!this.statusLimiter.tryConsume(peerId, 1)) {
      this.counters.rateLimited++
      yield errorFrame(RESPONSE_CODES.RATE_LIMITED, 'status rate limit')
      return
    }
    let theirs: ChainStatus
    try {
      theirs = decodeStatus(request)
    } catch (err) {
      this.counters.invalidRequests++
      this.modules.onBadRequest(peerId, `bad status request: ${errorMessage(err)}`)
      yield errorFrame(RESPONSE_CODES.INVALID_REQUEST, errorMessage(err))
      return
    }
    // Answer with our status even to a peer of another chain, so it can tell why it is dropped.
    this.modules.onInboundStatus(peerId, theirs)
    this.counters.statusServed++
    yield responseFrame(RESPONSE_CODES.OK, encodeStatus(this.modules.chain.localStatus()))
  }

  private async *serveBlocks(
    peerId: string,
    request: Uint8Array,
    signal: AbortSignal,
  ): AsyncGenerator<Uint8Array> {
    let range: { start: bigint; count: number }
    try {
      range = decodeRangeRequest(request)
    } catch (err) {
      this.counters.invalidRequests++
      this.modules.onBadRequest(peerId, `bad blocks-by-range request: ${errorMessage(err)}`)
      yield errorFrame(RESPONSE_CODES.INVALID_REQUEST, errorMessage(err))
      return
    }
    if (range.count === 0 || range.count > this.limits.maxBlocksPerRequest || range.start === 0n) {
      this.counters.invalidRequests++
      this.modules.onBadRequest(peerId, 'blocks-by-range request out of bounds')
      yield errorFrame(
        RESPONSE_CODES.INVALID_REQUEST,
        `count must be 1..${this.limits.maxBlocksPerRequest}, start at least 1`,
      )
      return
    }
    if (!this.blocksLimiter.tryConsume(peerId, range.count)) {
      this.counters.rateLimited++
      yield errorFrame(RESPONSE_CODES.RATE_LIMITED, 'blocks rate limit')
      return
    }
    try {
      this.counters.rangesServed++
      for await (const chunk of this.modules.chain.blocksByRange(
        range.start,
        range.count,
        this.limits.maxResponseBytes,
        signal,
      )) {
        this.counters.blocksServed++
        yield responseFrame(RESPONSE_CODES.OK, chunk)
      }
    } catch (err) {
      this.modules.logger.warn({ peer: peerId, err }, 'serving blocks-by-range failed')
      yield errorFrame(RESPONSE_CODES.SERVER_ERROR, 'internal error')
    }
  }

  // ---------------------------------------------------------------- client

  async status(peerId: string, signal?: AbortSignal): Promise<ChainStatus> {
    const frames = await this.modules.host.request(
      peerId,
      STATUS_PROTOCOL,
      encodeStatus(this.modules.chain.localStatus()),
      {
        maxFrameBytes: STATUS_MAX_BYTES,
        maxFrames: 1,
        timeoutMs: this.limits.requestTimeoutMs,
        signal,
      },
    )
    const payloads = this.okPayloads(frames, 1)
    if (payloads.length !== 1)
      throw new ReqRespError('P2P_BAD_RESPONSE', 'status response without a status')
    try {
      return decodeStatus(payloads[0]!)
    } catch (cause) {
      throw new ReqRespError('P2P_BAD_RESPONSE', `malformed status: ${errorMessage(cause)}`, {
        cause,
      })
    }
  }

  /** Block chunks (undecoded), at most `count`; fewer if the peer lacks some or hit its size cap. */
  async blocksByRange(
    peerId: string,
    start: bigint,
    count: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array[]> {
    const frames = await this.modules.host.request(
      peerId,
      BLOCKS_BY_RANGE_PROTOCOL,
      encodeRangeRequest({ start, count }),
      {
        maxFrameBytes: this.limits.maxBlockChunkBytes + 1,
        maxFrames: count + 1,
        timeoutMs: this.limits.requestTimeoutMs,
        signal,
      },
    )
    return this.okPayloads(frames, count)
  }

  private okPayloads(frames: Uint8Array[], maxOk: number): Uint8Array[] {
    const payloads: Uint8Array[] = []
    for (const [i, frame] of frames.entries()) {
      const { code, payload } = splitResponseFrame(frame)
      if (code === RESPONSE_CODES.OK) {
        payloads.push(payload)
        if (payloads.length > maxOk)
          throw new ReqRespError('P2P_BAD_RESPONSE', 'more response chunks than asked for')
        continue
      }
      if (i !== frames.length - 1)
        throw new ReqRespError('P2P_BAD_RESPONSE', 'frames after an error frame')
      const reason = Buffer.from(payload).toString('utf8')
      if (code === RESPONSE_CODES.RATE_LIMITED)
        throw new ReqRespError('P2P_RATE_LIMITED', `peer rate-limited us: ${reason}`)
      if (code === RESPONSE_CODES.INVALID_REQUEST)
        throw new ReqRespError('P2P_PEER_REFUSED_REQUEST', `peer refused the request: ${reason}`)
      if (code === RESPONSE_CODES.SERVER_ERROR)
        throw new ReqRespError('P2P_PEER_SERVER_ERROR', `peer failed to serve: ${reason}`)
      throw new ReqRespError('P2P_BAD_RESPONSE', `unknown response code ${code}`)
    }
    return payloads
  }
}
