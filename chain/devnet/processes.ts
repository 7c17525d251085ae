/**
 * The devnet's child processes: each one writes stdout and stderr straight into its own log file (no pipe through
 * this process, so a busy orchestrator never stalls a node), runs in its own process group (a Ctrl-C on the
 * terminal reaches only the orchestrator, which then stops everything in order: relayers, validators, L1), and is
 * watched so that an unexpected exit is reported with its name and log file. The restart policy and the control
 * of one process by name live in supervisor.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { DevnetError } from './errors.ts'

export interface ProcessSpec {
  /** Short name used in messages and as the log file name: `validator-0`, `relayer-1`, `anvil`. */
  name: string
  command: string
  args: string[]
  logFile: string
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** One supervised child process. */
export class ManagedProcess {
  readonly name: string
  readonly logFile: string
  readonly child: ChildProcess
  readonly exited: Promise<ProcessExit>
  /** Set before a deliberate stop, so the exit is not reported as a failure. */
  stopping = false

  constructor(spec: ProcessSpec) {
    this.name = spec.name
    this.logFile = spec.logFile
    const fd = openSync(spec.logFile, 'a', 0o644)
    try {
      this.child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      })
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(fd)
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }))
      // A spawn failure (missing binary) emits 'error' and no 'exit'.
      this.child.once('error', () => resolve({ code: null, signal: null }))
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.pid !== undefined
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true
    if (!this.running) {
      await this.exited
      return
    }
    this.signalGroup('SIGTERM')
    // A paused (SIGSTOPped) process only acts on the SIGTERM once it runs again.
    this.signalGroup('SIGCONT')
    const timer = setTimeout(() => {
      if (this.running) this.signalGroup('SIGKILL')
    }, graceMs)
    await this.exited
    clearTimeout(timer)
  }

  /** Sends `signal` to the child's process group (it leads one: `detached`), so helpers it started get it too. */
  signalGroup(signal: NodeJS.Signals): void {
    if (!this.running || this.pid === undefined) return
    try {
      process.kill(-this.pid, signal)
    } catch {
      // The group is gone already (raced with its exit): only the child itself is left to try.
      try {
        this.child.kill(signal)
      } catch {}
    }
  }

  /** Last `lines` lines of the log file (for error messages). */
  logTail(lines = 15): string {
    return tailOfFile(this.logFile, lines)
  }
}

export function tailOfFile(file: string, lines: number): string {
  if (!existsSync(file)) return ''
  const size = statSync(file).size
  const fd = openSync(file, 'r')
  try {
    const length = Math.min(size, 16 * 1024)
    const buffer = Buffer.alloc(length)
    readSync(fd, buffer, 0, length, size - length)
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } finally {
    closeSync(fd)
  }
}

/** Is a process with this pid alive (and, on Linux, is its command line mentioning `marker`)? */
export function processAlive(pid: number, marker?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    // ESRCH: gone. EPERM: it exists but belongs to another user, so it is not ours.
    return false
  }
  if (marker === undefined) return true
  const cmdline = `/proc/${pid}/cmdline`
  if (!existsSync('/proc/self/cmdline')) return true
  try {
    return readFileSync(cmdline, 'utf8').split('\0').join(' ').includes(marker)
  } catch {
    return false
  }
}

/**
 * The range the kernel takes local ports from for outgoing connections (Linux reads it from
 * /proc; elsewhere the IANA dynamic range).
 */
function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number)
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!]
  } catch {
    // not Linux
  }
  return [49152, 65535]
}

/**
 * `count` distinct free loopback TCP ports for processes we are about to start. They come from
 * below the ephemeral range: a port the kernel picked for us (listen on 0) and we released can
 * be handed straight to some outgoing connection (a libp2p dial, an HTTP client) before the
 * child binds it, which fails the child with EADDRINUSE. Each candidate is bound to check it.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const [ephemeralLow] = ephemeralPortRange()
  const high = Math.min(ephemeralLow, 65536) - 1
  const low = Math.max(1024, Math.min(15_000, high - 4 * count - 1_000))
  const held: Array<ReturnType<typeof createServer>> = []
  const ports: number[] = []
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt > 50 * count) {
        throw new DevnetError('DEVNET_PORT_IN_USE', `no ${count} free ports in ${low}-${high}`)
      }
      const port = low + Math.floor(Math.random() * (high - low + 1))
      if (ports.includes(port)) continue
      const server = await bindPort(port, host)
      if (server === undefined) continue
      held.push(server)
      ports.push(port)
    }
    return ports
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))))
  }
}

function bindPort(
  port: number,
  host: string,
): Promise<ReturnType<typeof createServer> | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen(port, host, () => resolve(server))
  })
}

/** Whether something already listens on `port` (we try to bind it). */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(true))
    server.listen(port, host, () => server.close(() => resolve(false)))
  })
}

/** Throws DEVNET_PORT_IN_USE naming every taken port and what it was meant for. */
export async function checkPortsFree(
  wanted: Array<{ port: number; what: string }>,
  host = '127.0.0.1',
): Promise<void> {
  const taken: string[] = []
  for (const { port, what } of wanted) {
    if (await portInUse(port, host)) taken.push(`${port} (${what})`)
  }
  if (taken.length > 0) {
    throw new DevnetError(
      'DEVNET_PORT_IN_USE',
      `port${taken.length > 1 ? 's' : ''} already in use: ${taken.join(', ')}. Is another devnet or anvil running? Stop it, or choose other ports (--rpc-port, --p2p-port, --l1-port, --validator-metrics-port, --relayer-metrics-port, --explorer-port, --faucet-port; 0 picks free ones)`,
      { details: { taken } },
    )
  }
}
