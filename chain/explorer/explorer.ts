/**
 * `sidechain explorer`: follows a node over JSON-RPC, indexes into its own LevelDB
 * (IndexStore) and serves pages, a JSON API (/api/v1/...) and the Etherscan-compatible
 * verification API (/api). Start order: index store, indexer (checks the chain id and that
 * the stored cursor is still on the chain), then the HTTP server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { createPublicClient, type Hex, http, isAddress, type PublicClient } from 'viem'
import { errorMessage } from '../lib/errors.ts'
import { closeHttp, listenHttp } from '../lib/http-server.ts'
import type { Logger } from '../lib/logger.ts'
import { ExplorerError } from './errors.ts'
import { EtherscanApi } from './etherscan.ts'
import { page, type Raw } from './html.ts'
import { Indexer } from './indexer.ts'
import {
  type ExplorerOptions,
  type ExplorerOptionsInput,
  explorerOptionsSchema,
} from './options.ts'
import { IndexStore } from './store.ts'
import { CompilerSet } from './verify.ts'
import { Views } from './views.ts'

export interface ExplorerModules {
  logger: Logger
}

export class Explorer {
  readonly options: ExplorerOptions
  readonly #logger: Logger
  readonly #client: PublicClient
  readonly #store: IndexStore
  readonly indexer: Indexer
  readonly etherscan: EtherscanApi
  readonly #views: Views
  #server: Server | undefined
  #chainId = 0

  constructor(input: ExplorerOptionsInput, modules: ExplorerModules) {
    const parsed = explorerOptionsSchema.safeParse(input)
    if (!parsed.success)
      throw new ExplorerError(
        'EXPLORER_OPTIONS_INVALID',
        `invalid explorer options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      )
    this.options = parsed.data
    this.#logger = modules.logger
    this.#client = createPublicClient({
      transport: http(this.options.rpcUrl, { retryCount: 2, timeout: 10_000 }),
    }) as PublicClient
    this.#store = new IndexStore(path.join(this.options.datadir, 'index'))
    this.indexer = new Indexer(
      {
        pollIntervalMs: this.options.pollIntervalMs,
        fetchConcurrency: this.options.fetchConcurrency,
      },
      {
        client: this.#client,
        store: this.#store,
        logger: this.#logger.child({ module: 'indexer' }),
      },
    )
    this.etherscan = new EtherscanApi({
      client: this.#client,
      store: this.#store,
      compilers: new CompilerSet(this.options.compilersDir),
      logger: this.#logger.child({ module: 'verify' }),
      chainId: () => this.#chainId,
    })
    this.#views = new Views({
      client: this.#client,
      store: this.#store,
      indexer: this.indexer,
      options: this.options,
    })
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null | undefined
    if (address === undefined || address === null) throw new Error('explorer not started')
    return `http://${this.options.host}:${address.port}`
  }

  async start(): Promise<void> {
    await this.#store.open()
    try {
      this.#chainId = await this.#client.getChainId()
      await this.indexer.start()
      const server = createServer((req, res) => {
        this.#route(req, res).catch((err) => {
          if (err instanceof ExplorerError && err.code === 'EXPLORER_REQUEST_TOO_LARGE') {
            if (!res.headersSent) send(res, 413, 'text/plain', err.message)
            req.destroy()
            return
          }
          this.#logger.error({ err, url: req.url }, 'request failed')
          if (!res.headersSent) send(res, 500, 'text/plain', 'internal error')
        })
      })
      await listenHttp(server, this.options.port, this.options.host).catch((cause) => {
        throw new ExplorerError(
          'EXPLORER_LISTEN_FAILED',
          `cannot listen on ${this.options.host}:${this.options.port}`,
          { cause },
        )
      })
      this.#server = server
      this.#logger.info({ url: this.url, rpc: this.options.rpcUrl }, 'explorer listening')
    } catch (err) {
      await this.indexer.stop()
      await this.#store.close()
      throw err
    }
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server !== undefined) {
      await closeHttp(server)
    }
    await this.indexer.stop()
    await this.#store.close()
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://explorer')
    const parts = url.pathname.split('/').filter((p) => p.length > 0)
    const htmlPage = (title: string, body: Raw | undefined) =>
      body === undefined
        ? send(
            res,
            404,
            'text/html; charset=utf-8',
            page('Not found', { raw: '<h1>Not found</h1>' }, this.options),
          )
        : send(res, 200, 'text/html; charset=utf-8', page(title, body, this.options))
    const json = (status: number, body: unknown) =>
      send(
        res,
        status,
        'application/json',
        JSON.stringify(body, (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
      )

    if (url.pathname === '/health') {
      const status = this.indexer.status()
      return json(status.failure === null ? 200 : 503, status)
    }
    if (url.pathname === '/api') {
      const params = new URLSearchParams(url.search)
      if (req.method === 'POST') {
        const body = await readBody(req, this.options.maxBodyBytes)
        const type = req.headers['content-type'] ?? ''
        const fields = type.includes('application/json')
          ? Object.entries(JSON.parse(body) as Record<string, string>)
          : [...new URLSearchParams(body).entries()]
        for (const [k, v] of fields) params.set(k, String(v))
      }
      return json(200, await this.etherscan.handle(params))
    }
    if (parts[0] === 'api' && parts[1] === 'v1') return this.#api(req, parts.slice(2), url, json)

    switch (parts[0]) {
      case undefined:
        return htmlPage('Overview', await this.#views.homePage())
      case 'validators':
        return htmlPage('Validators', await this.#views.validatorsPage())
      case 'tokens':
        return htmlPage('Tokens', await this.#views.tokensPage())
      case 'block': {
        const n = Number(parts[1])
        return htmlPage(
          `Block ${n}`,
          Number.isSafeInteger(n) && n >= 0 ? await this.#views.blockPage(n) : undefined,
        )
      }
      case 'tx':
        return htmlPage(
          `Transaction ${parts[1]}`,
          /^0x[0-9a-fA-F]{64}$/.test(parts[1] ?? '')
            ? await this.#views.txPage(parts[1]!)
            : undefined,
        )
      case 'address':
      case 'token':
        return htmlPage(
          `Address ${parts[1]}`,
          isAddress(parts[1] ?? '')
            ? await this.#views.addressPage(
                parts[1] as Hex,
                url.searchParams.get('before') ?? undefined,
                url.searchParams.get('transfersBefore') ?? undefined,
              )
            : undefined,
        )
      case 'search': {
        const target = await this.#views.search(url.searchParams.get('q') ?? '')
        if (target === undefined)
          return htmlPage('Search', {
            raw: `<h1>Nothing found</h1><p>No block, transaction, address or token matches that search.</p>`,
          })
        res.writeHead(302, { location: target }).end()
        return
      }
      default:
        return htmlPage('Not found', undefined)
    }
  }

  async #api(
    req: IncomingMessage,
    parts: string[],
    url: URL,
    json: (status: number, body: unknown) => void,
  ): Promise<void> {
    const [kind, id] = parts
    const found = (value: unknown) =>
      value === undefined ? json(404, { error: 'not found' }) : json(200, value)
    switch (kind) {
      case 'status':
        return json(200, { chainId: this.#chainId, ...this.indexer.status() })
      case 'home':
        return json(200, await this.#views.homeData())
      case 'validators':
        return json(200, await this.#views.validatorsData())
      case 'block':
        return found(await this.#views.blockData(Number(id)))
      case 'tx':
        return found(await this.#views.txData(id ?? ''))
      case 'address':
        if (!isAddress(id ?? '')) return json(400, { error: 'not an address' })
        return json(
          200,
          await this.#views.addressData(id as Hex, url.searchParams.get('before') ?? undefined),
        )
      case 'search':
        return found(await this.#views.search(url.searchParams.get('q') ?? ''))
      case 'read':
      case 'encode': {
        if (req.method !== 'POST') return json(405, { error: 'POST only' })
        try {
          const body = JSON.parse(await readBody(req, 64 * 1024)) as {
            address: Hex
            function: string
            args: unknown[]
          }
          if (!isAddress(body.address)) return json(400, { error: 'not an address' })
          return kind === 'read'
            ? json(200, {
                result: await this.#views.read(body.address, body.function, body.args ?? []),
              })
            : json(200, {
                data: await this.#views.encode(body.address, body.function, body.args ?? []),
              })
        } catch (err) {
          return json(400, { error: errorMessage(err).split('\n')[0] })
        }
      }
      default:
        return json(404, { error: 'not found' })
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > maxBytes)
      throw new ExplorerError('EXPLORER_REQUEST_TOO_LARGE', `request body above ${maxBytes} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
