/**
 * Serves the bridge web app: index.html, style.css and the bundled app.js from this folder, and `/config.json`
 * (the network the page talks to). Static files only, from a fixed list (no path from the URL reaches the file
 * system); every other GET answers index.html so deep links (`/#/deposit/3`) and reloads work. The page talks to
 * the chains' RPC endpoints itself, with the user's wallet.
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { closeHttp, listenHttp } from '../../chain/lib/http-server.ts'
import { ensureUiBuilt, UI_BUNDLE, UI_STATIC } from './build.ts'
import type { UiConfig } from './config.ts'

export interface BridgeUiServerOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  config: UiConfig
}

interface Asset {
  type: string
  body: Buffer
}

export class BridgeUiServer {
  private readonly options: BridgeUiServerOptions
  private server: Server | undefined

  constructor(options: BridgeUiServerOptions) {
    this.options = options
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined
    if (address == null) throw new Error('the bridge web app server is not started')
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${host}:${address.port}/`
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    await ensureUiBuilt()
    // Read once: the files do not change while the server runs, and a request never touches the disk.
    const assets = new Map<string, Asset>([
      [
        '/',
        {
          type: 'text/html; charset=utf-8',
          body: readFileSync(path.join(UI_STATIC, 'index.html')),
        },
      ],
      [
        '/style.css',
        { type: 'text/css; charset=utf-8', body: readFileSync(path.join(UI_STATIC, 'style.css')) },
      ],
      ['/app.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(UI_BUNDLE) }],
      ['/app.js.map', { type: 'application/json', body: readFileSync(`${UI_BUNDLE}.map`) }],
      [
        '/config.json',
        { type: 'application/json', body: Buffer.from(JSON.stringify(this.options.config)) },
      ],
    ])
    const index = assets.get('/')!
    const server = createServer((req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end()
        return
      }
      const pathname = (req.url ?? '/').split('?')[0]!
      const asset = assets.get(pathname) ?? index
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': asset.body.length,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        // Scripts and styles from this origin only; the page reaches the chains' RPC endpoints (any origin).
        'content-security-policy':
          "default-src 'self'; connect-src *; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      })
      res.end(req.method === 'HEAD' ? undefined : asset.body)
    })
    await listenHttp(server, this.options.port, this.options.host)
    this.server = server
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    await closeHttp(server)
  }
}
