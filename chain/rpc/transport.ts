/**
 * One port for HTTP and WebSocket JSON-RPC (node:http + ws), the way geth, anvil and
 * hardhat serve it: POST bodies are requests, an Upgrade turns the connection into a
 * WebSocket on which requests and subscription notifications flow.
 *
 * Limits live here (body size -> HTTP 413, WebSocket message size, connections, slow
 * consumers); request-level limits (batch length) live in the handler.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocket, WebSocketServer } from 'ws'
import { RPC_ERROR } from './errors.ts'
import type { RpcCallContext, RpcConnection, RpcHandler } from './handler.ts'

export interface RpcServerOptions {
  host: string
  /** 0 picks a free port (tests). */
  port: number
  /** Allowed browser origins; '*' allows any. Empty: no CORS headers, browser WebSocket origins refused. */
  corsOrigins: readonly string[]
  maxBodyBytes: number
  maxWsMessageBytes: number
  maxWsConnections: number
  /** Open HTTP sockets (idle keep-alive ones too); a socket past it gets 503 and is closed. */
  maxHttpConnections: number
  /** In-flight requests per WebSocket connection before new ones are refused. */
  maxWsInFlight: number
  /** A WebSocket client that lets this much unsent data pile up is disconnected. */
  maxWsBufferedBytes: number
  /** WebSocket ping interval; a client that misses a pong is disconnected. */
  wsHeartbeatMs: number
  /** Time allowed to receive a whole HTTP request. */
  requestTimeoutMs: number
}

interface WsConnectionState extends RpcConnection {
  alive: boolean
  inFlight: number
}

function jsonError(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } })
}

export class RpcServer {
  private readonly options: RpcServerOptions
  private readonly handler: RpcHandler
  private readonly logger: Logger | undefined
  private server: Server | undefined
  private wss: WebSocketServer | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private readonly connections = new Map<WebSocket, WsConnectionState>()
  /** HTTP sockets not (yet) upgraded to WebSocket. */
  private readonly httpSockets = new Set<Duplex>()
  private readonly inFlight = new Set<Promise<unknown>>()
  private listening: AddressInfo | undefined

  constructor(options: RpcServerOptions, modules: { handler: RpcHandler; logger?: Logger }) {
    this.options = options
    this.handler = modules.handler
    this.logger = modules.logger
  }

  /** Bound address once started. */
  get address(): AddressInfo | undefined {
    return this.listening
  }

  get url(): string {
    const a = this.requireAddress()
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws')
  }

  get connectionCount(): number {
    return this.connections.size
  }

  get httpConnectionCount(): number {
    return this.httpSockets.size
  }

  private requireAddress(): AddressInfo {
    if (this.listening === undefined) throw new Error('RPC server is not listening')
    return this.listening
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    const server = createServer(
      {
        requestTimeout: this.options.requestTimeoutMs,
        // Longer than clients' idle socket reuse (undici keeps sockets ~4-60 s): a server
        // closing an idle keep-alive socket first makes the client's next request fail.
        keepAliveTimeout: 65_000,
      },
      (req, res) => {
        // A socket refused at the cap has already been answered; run nothing for it.
        if (!this.httpSockets.has(req.socket)) {
          req.socket.destroy()
          return
        }
        this.track(this.onHttpRequest(req, res))
      },
    )
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.maxWsMessageBytes,
      clientTracking: false,
    })
    server.on('connection', (socket: Duplex) => this.onSocket(socket))
    server.on('upgrade', (req, socket, head) => {
      // A socket refused at the HTTP cap is closing; one upgraded counts as a WebSocket.
      if (!this.httpSockets.delete(socket)) {
        socket.destroy()
        return
      }
      this.onUpgrade(req, socket, head)
    })
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      else socket.destroy()
    })
    this.server = server
    this.wss = wss
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.listening = server.address() as AddressInfo
    this.heartbeat = setInterval(() => this.pingAll(), this.options.wsHeartbeatMs)
    this.heartbeat.unref()
    this.logger?.info({ url: this.url }, 'JSON-RPC server listening (HTTP and WebSocket)')
  }

  /** Stops accepting, closes WebSockets, waits (bounded) for in-flight requests. */
  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    for (const ws of this.connections.keys()) ws.close(1001, 'server shutting down')
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeIdleConnections()
    const drained = Promise.allSettled([...this.inFlight])
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2_000).unref())])
    server.closeAllConnections()
    for (const ws of this.connections.keys()) ws.terminate()
    this.connections.clear()
    this.wss?.close()
    await closed
    this.listening = undefined
  }

  /**
   * Caps open HTTP sockets: each holds buffers and a parser, and idle keep-alive sockets
   * cost as much as busy ones. The one past the cap is told why before it is closed.
   */
  private onSocket(socket: Duplex): void {
    if (this.httpSockets.size >= this.options.maxHttpConnections) {
      const body = jsonError(
        RPC_ERROR.LIMIT_EXCEEDED,
        `too many connections (limit ${this.options.maxHttpConnections}); retry later`,
      )
      socket.on('error', () => undefined)
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      )
      socket.once('finish', () => socket.destroy())
      return
    }
    this.httpSockets.add(socket)
    socket.once('close', () => this.httpSockets.delete(socket))
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise)
    promise.finally(() => this.inFlight.delete(promise)).catch(() => undefined)
  }

  // ---------------------------------------------------------------- CORS

  private allowedOrigin(origin: string | undefined): string | undefined {
    if (origin === undefined) return undefined
    const allowed = this.options.corsOrigins
    if (allowed.includes('*')) return '*'
    return allowed.includes(origin) ? origin : undefined
  }

  private corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = this.allowedOrigin(req.headers.origin)
    if (origin === undefined) return {}
    return origin === '*'
      ? { 'access-control-allow-origin': '*' }
      : { 'access-control-allow-origin': origin, vary: 'Origin' }
  }

  // ---------------------------------------------------------------- HTTP

  private async onHttpRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cors = this.corsHeaders(req)
    const reply = (
      status: number,
      body: string | undefined,
      extra: Record<string, string> = {},
    ) => {
      if (res.headersSent || res.destroyed) return
      const headers: Record<string, string> = { ...cors, ...extra }
      if (body !== undefined) headers['content-type'] = 'application/json'
      res.writeHead(status, headers)
      res.end(body)
    }
    if (req.method === 'OPTIONS') {
      reply(204, undefined, {
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers':
          req.headers['access-control-request-headers'] ?? 'content-type',
        'access-control-max-age': '600',
      })
      return
    }
    if (req.method !== 'POST') {
      reply(405, jsonError(RPC_ERROR.INVALID_REQUEST, 'JSON-RPC requests must use POST'), {
        allow: 'POST, OPTIONS',
      })
      req.resume()
      return
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (contentType !== 'application/json') {
      reply(
        415,
        jsonError(
          RPC_ERROR.INVALID_REQUEST,
          'invalid content type, only application/json is supported',
        ),
      )
      req.resume()
      return
    }
    const max = this.options.maxBodyBytes
    const tooLarge = () => {
      reply(
        413,
        jsonError(RPC_ERROR.INVALID_REQUEST, `request body exceeds the limit of ${max} bytes`),
        { connection: 'close' },
      )
      // Stop reading the rest of an oversized upload.
      res.once('finish', () => req.destroy())
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN)
    if (declared > max) return tooLarge()
    let body: Buffer
    try {
      body = await readBody(req, max)
    } catch (err) {
      if ((err as Error).message === 'too large') return tooLarge()
      if (!res.destroyed) res.destroy()
      return
    }
    const ctx: RpcCallContext = { transport: 'http', remoteAddress: req.socket.remoteAddress }
    const response = await this.handler.handleText(body.toString('utf8'), ctx)
    if (response === undefined) reply(204, undefined)
    else reply(200, response)
  }

  // ---------------------------------------------------------------- WebSocket

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refusal = this.upgradeRefusal(req)
    const wss = this.wss
    if (refusal !== undefined || wss === undefined) {
      const status = refusal ?? '503 Service Unavailable'
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req))
  }

  /** HTTP status refusing a WebSocket upgrade, or undefined to accept it. */
  private upgradeRefusal(req: IncomingMessage): string | undefined {
    if (this.server === undefined) return '503 Service Unavailable'
    // Browsers always send Origin; non-browser clients usually do not.
    if (req.headers.origin !== undefined && this.allowedOrigin(req.headers.origin) === undefined) {
      return '403 Forbidden'
    }
    if (this.connections.size >= this.options.maxWsConnections) return '503 Service Unavailable'
    return undefined
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const closeListeners: Array<() => void> = []
    const server = this
    const state: WsConnectionState = {
      id: randomBytes(8).toString('hex'),
      alive: true,
      inFlight: 0,
      get closed() {
        return ws.readyState !== WebSocket.OPEN
      },
      notify(method: string, params: unknown) {
        server.send(ws, JSON.stringify({ jsonrpc: '2.0', method, params }))
      },
      onClose(listener: () => void) {
        closeListeners.push(listener)
      },
    }
    this.connections.set(ws, state)
    const ctx: RpcCallContext = {
      transport: 'ws',
      connection: state,
      remoteAddress: req.socket.remoteAddress,
    }
    ws.on('pong', () => {
      state.alive = true
    })
    ws.on('message', (data, isBinary) => {
      if (state.inFlight >= this.options.maxWsInFlight) {
        this.send(
          ws,
          jsonError(
            RPC_ERROR.LIMIT_EXCEEDED,
            `more than ${this.options.maxWsInFlight} requests in flight on this connection`,
          ),
        )
        return
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8')
      void isBinary
      state.inFlight++
      const work = this.handler.handleText(text, ctx).then(
        (response) => {
          if (response !== undefined) this.send(ws, response)
        },
        (err: unknown) => this.logger?.error({ err }, 'WebSocket request failed'),
      )
      this.track(work.finally(() => state.inFlight--))
    })
    ws.on('error', (err) => {
      // Oversized frames end here (ws closes with 1009); nothing else to do.
      this.logger?.debug({ err }, 'WebSocket connection error')
    })
    ws.on('close', () => {
      this.connections.delete(ws)
      for (const listener of closeListeners) {
        try {
          listener()
        } catch (err) {
          this.logger?.warn({ err }, 'WebSocket close listener failed')
        }
      }
    })
  }

  private send(ws: WebSocket, text: string): void {
    if (ws.readyState !== WebSocket.OPEN) return
    if (ws.bufferedAmount > this.options.maxWsBufferedBytes) {
      this.logger?.warn({ buffered: ws.bufferedAmount }, 'disconnecting slow WebSocket client')
      ws.terminate()
      return
    }
    ws.send(text)
  }

  private pingAll(): void {
    for (const [ws, state] of this.connections) {
      if (!state.alive) {
        ws.terminate()
        continue
      }
      state.alive = false
      ws.ping()
    }
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > max) {
        done = true
        req.pause()
        reject(new Error('too large'))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (done) return
      done = true
      resolve(Buffer.concat(chunks))
    })
    req.on('error', (err) => {
      if (done) return
      done = true
      reject(err)
    })
    req.on('aborted', () => {
      if (done) return
      done = true
      reject(new Error('aborted'))
    })
  })
}
