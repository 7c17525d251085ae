/**
 * `sidechain faucet`: a page and `POST /api/claim` that send native coin (and the network's
 * test token where it has one) to an address, at most once per address per window and a
 * few times per client IP per window. Refusals carry `Retry-After`. `/health` says whether
 * the faucet can still pay; `/metrics` serves its Prometheus counters.
 *
 * Sends are serialised (one nonce sequence, one key); a grant is reserved before its
 * transaction is sent and released when sending fails, so a node outage costs users no
 * window.
 */

import { mkdirSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Counter, Gauge, Registry } from 'prom-client'
import {
  createPublicClient,
  createWalletClient,
  formatEther,
  getAddress,
  type Hex,
  http,
  isAddress,
  type PublicClient,
  parseAbi,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { esc } from '../explorer/html.ts'
import { errorMessage } from '../lib/errors.ts'
import { closeHttp, listenHttp } from '../lib/http-server.ts'
import type { Logger } from '../lib/logger.ts'
import { FaucetError } from './errors.ts'
import { type FaucetOptions, type FaucetOptionsInput, faucetOptionsSchema } from './options.ts'
import { RequestWindows } from './windows.ts'

const ERC20_TRANSFER = parseAbi(['function transfer(address to, uint256 amount) returns (bool)'])

export interface FaucetModules {
  logger: Logger
  /** The funded key the faucet pays from (never logged). */
  privateKey: Hex
  /** Clock for the request windows (tests). */
  now?: () => number
}

export interface ClaimResult {
  address: Hex
  txHash: Hex
  tokenTxHash: Hex | null
  amountWei: string
  explorerUrl: string | null
}

export class Faucet {
  readonly options: FaucetOptions
  readonly #logger: Logger
  readonly #now: () => number
  readonly #public: PublicClient
  readonly #wallet: WalletClient
  readonly #windows: RequestWindows
  readonly #registry = new Registry()
  readonly #requests: Counter<'result'>
  readonly #balance: Gauge
  #server: Server | undefined
  #sending: Promise<unknown> = Promise.resolve()

  constructor(input: FaucetOptionsInput, modules: FaucetModules) {
    const parsed = faucetOptionsSchema.safeParse(input)
    if (!parsed.success)
      throw new FaucetError(
        'FAUCET_OPTIONS_INVALID',
        `invalid faucet options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      )
    this.options = parsed.data
    this.#logger = modules.logger
    this.#now = modules.now ?? Date.now
    const transport = http(this.options.rpcUrl, { retryCount: 1, timeout: 10_000 })
    this.#public = createPublicClient({ transport }) as PublicClient
    this.#wallet = createWalletClient({
      account: privateKeyToAccount(modules.privateKey),
      transport,
    })
    mkdirSync(this.options.datadir, { recursive: true })
    this.#windows = new RequestWindows(
      path.join(this.options.datadir, 'faucet-windows.json'),
      this.options,
    )
    this.#requests = new Counter({
      name: 'faucet_requests_total',
      help: 'Faucet requests by result (granted, rate_limited, bad_request, empty, failed)',
      labelNames: ['result'],
      registers: [this.#registry],
    })
    this.#balance = new Gauge({
      name: 'faucet_balance_wei',
      help: 'Native coin left in the faucet account (wei, read at each scrape)',
      registers: [this.#registry],
      collect: async () => {
        this.#balance.set(Number(await this.balance()))
      },
    })
  }

  get address(): Hex {
    return this.#wallet.account!.address
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null | undefined
    if (address === undefined || address === null) throw new Error('faucet not started')
    return `http://${this.options.host}:${address.port}`
  }

  balance(): Promise<bigint> {
    return this.#public.getBalance({ address: this.address })
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.#route(req, res).catch((err) => {
        this.#logger.error({ err }, 'faucet request failed')
        if (!res.headersSent) json(res, 500, { error: 'internal error' })
      })
    })
    await listenHttp(server, this.options.port, this.options.host)
    this.#server = server
    this.#logger.info({ url: this.url, address: this.address }, 'faucet listening')
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return
    await closeHttp(server)
    await this.#sending.catch(() => undefined)
  }

  /** One claim: validates, applies the windows, sends. Throws FaucetError on refusal. */
  async claim(addressInput: string, clientIp: string): Promise<ClaimResult> {
    if (!isAddress(addressInput))
      throw new FaucetError(
        'FAUCET_BAD_REQUEST',
        'address must be a 0x-prefixed 20-byte hex address',
      )
    const address = getAddress(addressInput)
    const amount = BigInt(this.options.amountWei)
    const reservation = this.#windows.reserve(address.toLowerCase(), clientIp, this.#now())
    if (!reservation.granted) {
      const seconds = Math.max(1, Math.ceil(reservation.retryAfterMs / 1000))
      throw new FaucetError(
        'FAUCET_RATE_LIMITED',
        reservation.reason === 'address'
          ? `${address} already received coin; try again in ${formatDuration(seconds)}`
          : `too many requests from your network; try again in ${formatDuration(seconds)}`,
        { details: { retryAfterSeconds: seconds } },
      )
    }
    try {
      const sent = this.#sending.then(() => this.#send(address, amount))
      this.#sending = sent.catch(() => undefined)
      return await sent
    } catch (err) {
      reservation.release()
      throw err
    }
  }

  async #send(address: Hex, amount: bigint): Promise<ClaimResult> {
    const balance = await this.balance()
    if (balance < amount * 2n)
      throw new FaucetError(
        'FAUCET_EMPTY',
        'the faucet is empty; ask the network operator to refill it',
        {
          details: { balance: balance.toString() },
        },
      )
    let txHash: Hex
    try {
      txHash = await this.#wallet.sendTransaction({
        account: this.#wallet.account!,
        chain: null,
        to: address,
        value: amount,
      })
    } catch (cause) {
      throw new FaucetError(
        'FAUCET_SEND_FAILED',
        `sending failed: ${errorMessage(cause).split('\n')[0]}`,
        {
          cause,
        },
      )
    }
    // The coin went out: from here on nothing may release the window (a retry would pay twice),
    // so a failing token transfer is logged and reported as missing, not thrown.
    let tokenTxHash: Hex | null = null
    const token = this.options.token
    if (token !== undefined) {
      try {
        tokenTxHash = await this.#wallet.writeContract({
          account: this.#wallet.account!,
          chain: null,
          address: token.address as Hex,
          abi: ERC20_TRANSFER,
          functionName: 'transfer',
          args: [address, BigInt(token.amount)],
        })
      } catch (err) {
        this.#logger.warn({ err, to: address }, 'faucet token transfer failed; the coin was sent')
      }
    }
    this.#logger.info({ to: address, txHash, amount: amount.toString() }, 'faucet grant')
    return {
      address,
      txHash,
      tokenTxHash,
      amountWei: amount.toString(),
      explorerUrl:
        this.options.explorerUrl === undefined ? null : `${this.options.explorerUrl}/tx/${txHash}`,
    }
  }

  /** The client's IP: the socket's, or with trusted proxies the entry they appended. */
  clientIp(req: IncomingMessage): string {
    const socketIp = req.socket.remoteAddress ?? 'unknown'
    const hops = this.options.trustedProxyHops
    if (hops === 0) return socketIp
    const header = req.headers['x-forwarded-for']
    const list = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
    // Each trusted proxy appends the address it received from; the client is `hops` from the end.
    return list.length >= hops ? list[list.length - hops]! : socketIp
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://faucet')
    if (url.pathname === '/health') {
      const balance = await this.balance().catch(() => null)
      const ok = balance !== null && balance >= BigInt(this.options.amountWei) * 2n
      return json(res, ok ? 200 : 503, {
        ok,
        address: this.address,
        balanceWei: balance?.toString() ?? null,
      })
    }
    if (url.pathname === '/metrics') {
      res
        .writeHead(200, { 'content-type': this.#registry.contentType })
        .end(await this.#registry.metrics())
      return
    }
    if (url.pathname === '/api/claim') {
      if (req.method !== 'POST') return json(res, 405, { error: 'POST an address to /api/claim' })
      let address = ''
      try {
        const body = await readBody(req)
        address = (req.headers['content-type'] ?? '').includes('application/json')
          ? String((JSON.parse(body) as { address?: unknown }).address ?? '')
          : (new URLSearchParams(body).get('address') ?? '')
      } catch {
        this.#requests.inc({ result: 'bad_request' })
        return json(res, 400, {
          error: 'send {"address": "0x..."} as JSON or a form',
          code: 'FAUCET_BAD_REQUEST',
        })
      }
      try {
        const result = await this.claim(address, this.clientIp(req))
        this.#requests.inc({ result: 'granted' })
        return json(res, 200, result)
      } catch (err) {
        if (!(err instanceof FaucetError)) throw err
        const status = {
          FAUCET_BAD_REQUEST: 400,
          FAUCET_RATE_LIMITED: 429,
          FAUCET_EMPTY: 503,
          FAUCET_SEND_FAILED: 502,
          FAUCET_OPTIONS_INVALID: 500,
        }[err.code]
        const result = {
          FAUCET_BAD_REQUEST: 'bad_request',
          FAUCET_RATE_LIMITED: 'rate_limited',
          FAUCET_EMPTY: 'empty',
          FAUCET_SEND_FAILED: 'failed',
          FAUCET_OPTIONS_INVALID: 'failed',
        }[err.code]
        this.#requests.inc({ result })
        const retryAfter = (err.details?.retryAfterSeconds as number | undefined) ?? undefined
        if (retryAfter !== undefined) res.setHeader('retry-after', String(retryAfter))
        return json(res, status, {
          error: err.message,
          code: err.code,
          retryAfterSeconds: retryAfter ?? null,
        })
      }
    }
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(this.#page())
      return
    }
    json(res, 404, { error: 'not found' })
  }

  #page(): string {
    const amount = formatEther(BigInt(this.options.amountWei))
    const token = this.options.token
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(this.options.chainName)} faucet</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:560px;margin:24px auto;padding:0 12px;color:#1d2330}
input{width:100%;padding:8px;margin:8px 0;box-sizing:border-box}button{padding:8px 16px}#out{margin-top:12px;word-break:break-all}.bad{color:#b42318}</style></head>
<body><h1>${esc(this.options.chainName)} faucet</h1>
<p>Sends ${esc(amount)} ETH${token === undefined ? '' : ` and ${esc(formatEther(BigInt(token.amount)))} ${esc(token.symbol)}`} to an address, once per ${esc(formatDuration(Math.round(this.options.addressWindowMs / 1000)))}.</p>
<form id="claim"><label>Your address <input name="address" required placeholder="0x..." autocomplete="off"></label><button>Send me coin</button></form>
<div id="out" data-testid="result"></div>
<script>
document.getElementById('claim').onsubmit = async (e) => {
  e.preventDefault();
  const out = document.getElementById('out');
  out.className = ''; out.textContent = 'sending…';
  const r = await fetch('/api/claim', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: e.target.address.value.trim() }) });
  const body = await r.json();
  if (!r.ok) { out.className = 'bad'; out.textContent = body.error; return; }
  out.textContent = 'Sent: ';
  const a = document.createElement(body.explorerUrl ? 'a' : 'span');
  a.textContent = body.txHash; if (body.explorerUrl) a.href = body.explorerUrl;
  out.append(a);
};
</script></body></html>`
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body))
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > 4096) throw new FaucetError('FAUCET_BAD_REQUEST', 'request too large')
  }
  return body
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  return `${Math.round(seconds / 3600)} h`
}
