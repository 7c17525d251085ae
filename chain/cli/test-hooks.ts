/**
 * Fault hooks for the end-to-end harness (test/e2e), behind `sidechain node --test-hooks <port>`: a small HTTP
 * server on 127.0.0.1 that can cut the node off from chosen peers (a network partition, through the p2p
 * connection gate) and move the node's clock (a clock offset, through the injected scheduler). Nothing of it
 * exists in a normal run: without the flag no server starts and the node gets the plain system scheduler. The
 * flag is refused unless every listener of the node is on loopback, so a hook can never be reached from another
 * host.
 *
 *   POST /partition     {"blockedPeers": ["12D3Koo...", ...]}  drop and refuse these peers ([] heals)
 *   POST /clock-offset  {"ms": -45000}                         the node's clock runs this far off wall time
 *   GET  /              the current hooks
 */
import { createServer, type Server } from 'node:http'
import { NodeError, type SidechainNode } from '../node.ts'
import { createSystemScheduler, type Scheduler } from '../util/scheduler.ts'

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** Throws unless every address the node listens on is loopback. */
export function checkTestHooksAllowed(hosts: Record<string, string | undefined>): void {
  const open = Object.entries(hosts).filter(([, host]) => host !== undefined && !LOOPBACK.has(host))
  if (open.length > 0) {
    throw new NodeError(
      'NODE_TEST_HOOKS_REFUSED',
      `--test-hooks is for tests on loopback only; refused while ${open.map(([flag, host]) => `${flag} is ${host}`).join(', ')}`,
    )
  }
}

export interface TestHooks {
  /** The node's clock: wall time plus the current offset. */
  readonly scheduler: Scheduler
  /** Serves the hooks for `node` on 127.0.0.1:`port`. */
  listen(node: Pick<SidechainNode, 'p2p'>, port: number): Promise<void>
  close(): Promise<void>
}

export function createTestHooks(): TestHooks {
  let offsetMs = 0
  let blocked: string[] = []
  let server: Server | undefined
  const scheduler = createSystemScheduler({
    now: () => Date.now() + offsetMs,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  })
  return {
    scheduler,
    async listen(node, port) {
      server = createServer((req, res) => {
        let body = ''
        req.setEncoding('utf8')
        req.on('data', (chunk: string) => {
          body += chunk
        })
        req.on('end', () => {
          void (async () => {
            try {
              const input = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>)
              if (req.method === 'POST' && req.url === '/partition') {
                const peers = input.blockedPeers
                if (!Array.isArray(peers) || !peers.every((p) => typeof p === 'string')) {
                  throw new Error('blockedPeers must be an array of peer ids')
                }
                blocked = peers as string[]
                const set = new Set(blocked)
                await node.p2p?.setPeerFilter(set.size === 0 ? undefined : (peer) => !set.has(peer))
              } else if (req.method === 'POST' && req.url === '/clock-offset') {
                if (typeof input.ms !== 'number' || !Number.isFinite(input.ms)) {
                  throw new Error('ms must be a number')
                }
                offsetMs = input.ms
              } else if (req.method !== 'GET' || req.url !== '/') {
                res.writeHead(404).end()
                return
              }
              res.writeHead(200, { 'content-type': 'application/json' })
              res.end(JSON.stringify({ blockedPeers: blocked, clockOffsetMs: offsetMs }))
            } catch (err) {
              res.writeHead(400, { 'content-type': 'application/json' })
              res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }))
            }
          })()
        })
      })
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject)
        server!.listen(port, '127.0.0.1', () => resolve())
      })
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (server === undefined) return resolve()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
