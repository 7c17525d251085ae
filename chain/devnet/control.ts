/**
 * The control channel of a running devnet: `sidechain devnet stop|start|pause|resume|status <name>` reach the
 * orchestrator over HTTP on a unix socket in the devnet folder (`<datadir>/control.sock`). A socket file, not a TCP
 * port: nothing on the network and no web page can reach it, and only users who may open the devnet folder can.
 * The client first checks the lock file: the orchestrator it names must be alive, so a stale socket left by a
 * power cut is refused with a clear message instead of a connection error.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import { isSidechainError } from '../lib/errors.ts'
import { DevnetError } from './errors.ts'
import type { DevnetLayout } from './layout.ts'
import { processAlive } from './processes.ts'
import type { ProcessStatus, Supervisor } from './supervisor.ts'

export const CONTROL_ACTIONS = ['stop', 'start', 'pause', 'resume'] as const
export type ControlAction = (typeof CONTROL_ACTIONS)[number]

/** unix socket paths are limited to about 108 bytes (sun_path). */
const MAX_SOCKET_PATH = 100

export interface ControlServer {
  readonly socketPath: string
  close(): Promise<void>
}

/** Serves the control channel for `supervisor` on `layout.controlSocket`. */
export async function startControlServer(
  layout: Pick<DevnetLayout, 'controlSocket'>,
  supervisor: Pick<Supervisor, 'status' | ControlAction>,
): Promise<ControlServer | undefined> {
  const socketPath = layout.controlSocket
  // Too long a folder path for a socket: the devnet runs without a control channel rather than not at all.
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) return undefined
  // A socket file left by an orchestrator that died (refuseIfRunning has checked that none runs).
  if (existsSync(socketPath)) unlinkSync(socketPath)
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const url = new URL(req.url ?? '/', 'http://devnet')
    void (async () => {
      try {
        if (req.method === 'GET' && url.pathname === '/processes') {
          return reply(200, { processes: supervisor.status() })
        }
        const match = /^\/processes\/([A-Za-z0-9_-]+)\/(stop|start|pause|resume)$/.exec(
          url.pathname,
        )
        if (req.method !== 'POST' || match === null) {
          return reply(404, {
            error: { code: 'NOT_FOUND', message: `no ${req.method} ${url.pathname}` },
          })
        }
        const action = match[2] as ControlAction
        const status = await supervisor[action](match[1]!)
        return reply(200, { process: status })
      } catch (err) {
        const code = isSidechainError(err) ? err.code : 'DEVNET_CONTROL_FAILED'
        return reply(400, {
          error: { code, message: err instanceof Error ? err.message : String(err) },
        })
      }
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

interface LockView {
  pid: number
  control?: string
}

/** Calls the control channel of the devnet running from `layout.root`. */
export async function controlRequest(
  layout: Pick<DevnetLayout, 'root' | 'lockFile'>,
  method: 'GET' | 'POST',
  urlPath: string,
  timeoutMs = 60_000,
): Promise<{ processes?: ProcessStatus[]; process?: ProcessStatus }> {
  let lock: LockView
  try {
    lock = JSON.parse(readFileSync(layout.lockFile, 'utf8')) as LockView
  } catch {
    throw new DevnetError(
      'DEVNET_NOT_RUNNING',
      `no devnet is running from ${layout.root} (no readable ${layout.lockFile}); start one with npm start`,
    )
  }
  if (!processAlive(lock.pid)) {
    throw new DevnetError(
      'DEVNET_NOT_RUNNING',
      `the devnet that ran from ${layout.root} (pid ${lock.pid}) is gone; start it again with npm start`,
    )
  }
  if (lock.control === undefined) {
    throw new DevnetError(
      'DEVNET_NOT_RUNNING',
      `the devnet running from ${layout.root} (pid ${lock.pid}) has no control channel (its folder path is too long for a unix socket, or it is still starting)`,
    )
  }
  const socketPath = lock.control
  const { status, body } = await new Promise<{ status: number; body: string }>(
    (resolve, reject) => {
      const req = request({ socketPath, path: urlPath, method, timeout: timeoutMs }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)))
      req.on('error', (err) =>
        reject(
          new DevnetError(
            'DEVNET_NOT_RUNNING',
            `the devnet control channel ${socketPath} does not answer: ${err.message}`,
          ),
        ),
      )
      req.end()
    },
  )
  const parsed = JSON.parse(body) as {
    processes?: ProcessStatus[]
    process?: ProcessStatus
    error?: { code: string; message: string }
  }
  if (status !== 200 || parsed.error !== undefined) {
    const code =
      parsed.error?.code === 'DEVNET_UNKNOWN_PROCESS'
        ? 'DEVNET_UNKNOWN_PROCESS'
        : 'DEVNET_CONTROL_FAILED'
    throw new DevnetError(code, parsed.error?.message ?? `HTTP ${status}`)
  }
  return parsed
}
