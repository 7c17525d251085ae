/**
 * The devnet's processes under a restart policy, like a compose `restart: on-failure` with a crash-loop guard: a
 * process that exits on its own is reported and started again after an exponential backoff (capped, and reset once
 * it has stayed up a while), so a BFT network keeps running through the loss of a minority instead of stopping
 * everything. A process that keeps dying (more than `maxRestarts` exits within `crashWindowMs`) is reported loudly
 * and left stopped; the others keep running. An exit code that says restarting cannot help (bad input: 2, a
 * refused datadir: 3, see chain/lib/error-codes.ts) stops it at once.
 *
 * The operator can also stop, start, pause (SIGSTOP) and resume (SIGCONT) one process by name (the control
 * channel, control.ts). Each child runs in its own process group, so a signal reaches the whole process.
 *
 * Until `supervise()` is called (the devnet is still starting) an unexpected exit is handed to `onStartupExit`
 * instead: a start that loses a process fails with a clear message rather than limping on.
 */
import { type Scheduler, systemScheduler } from '../util/scheduler.ts'
import { DevnetError } from './errors.ts'
import { ManagedProcess, type ProcessExit, type ProcessSpec } from './processes.ts'

export interface RestartPolicy {
  /** Wait before the first restart. */
  initialBackoffMs: number
  /** Longest wait between restarts (the backoff doubles up to it). */
  maxBackoffMs: number
  /** A process that stayed up this long starts over at `initialBackoffMs`. */
  resetAfterMs: number
  /** More unexpected exits than this within `crashWindowMs`: a crash loop, the process is left stopped. */
  maxRestarts: number
  crashWindowMs: number
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  resetAfterMs: 60_000,
  maxRestarts: 5,
  crashWindowMs: 5 * 60_000,
}

/** Exit codes of our CLI after which a restart cannot help (input error 2, refused datadir 3). */
const FINAL_EXIT_CODES = new Set([2, 3])

export type ProcessState =
  /** Running (or being started). */
  | 'running'
  /** Stopped with SIGSTOP by the operator. */
  | 'paused'
  /** Exited on its own; a restart is scheduled. */
  | 'backoff'
  /** Stopped by the operator (or the devnet is stopping). */
  | 'stopped'
  /** Exited on its own and will not be restarted (crash loop, or an exit code restarting cannot cure). */
  | 'failed'

export interface ProcessStatus {
  name: string
  state: ProcessState
  pid: number | null
  restarts: number
  logFile: string
  /** Pending restart: when (ms since the epoch). */
  restartAt: number | null
  lastExit: ProcessExit | null
}

export type SupervisorEvent =
  | { type: 'exited'; name: string; exit: ProcessExit; logFile: string; logTail: string }
  | { type: 'restarting'; name: string; inMs: number; attempt: number }
  | { type: 'started'; name: string; pid: number | undefined; restart: boolean }
  | { type: 'gave-up'; name: string; reason: string; logFile: string }
  | { type: 'stopped' | 'paused' | 'resumed'; name: string }

export interface SupervisorModules {
  scheduler?: Scheduler
  /** Every state change worth telling the operator (the CLI prints them). */
  onEvent?: (event: SupervisorEvent) => void
  /** An unexpected exit before `supervise()`: the devnet start fails with it. */
  onStartupExit?: (p: ManagedProcess, exit: ProcessExit) => void
}

interface Entry {
  spec: ProcessSpec
  current: ManagedProcess
  state: ProcessState
  restarts: number
  /** Times of the unexpected exits within the crash window. */
  exits: number[]
  backoffMs: number
  startedAt: number
  timer: unknown
  restartAt: number | null
  lastExit: ProcessExit | null
  stopGraceMs: number
  noRestart: string | undefined
}

export class Supervisor {
  private readonly policy: RestartPolicy
  private readonly scheduler: Scheduler
  private readonly modules: SupervisorModules
  private readonly entries = new Map<string, Entry>()
  private supervising = false
  private shuttingDown = false
  private readonly onExitHook = () => {
    for (const e of this.entries.values()) if (e.current.running) e.current.signalGroup('SIGKILL')
  }

  constructor(options: { policy?: Partial<RestartPolicy> } = {}, modules: SupervisorModules = {}) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...options.policy }
    this.scheduler = modules.scheduler ?? systemScheduler
    this.modules = modules
    process.on('exit', this.onExitHook)
  }

  /**
   * Starts a process under supervision. `stopGraceMs`: SIGTERM, then SIGKILL after it. `noRestart`: why this
   * process must not come back on its own (reported when it dies; the operator may still `start` it).
   */
  spawn(
    spec: ProcessSpec,
    options: { stopGraceMs?: number; noRestart?: string } = {},
  ): ManagedProcess {
    if (this.entries.has(spec.name)) {
      throw new DevnetError('DEVNET_FLAGS_INVALID', `a process named ${spec.name} already runs`)
    }
    const entry: Entry = {
      spec,
      current: undefined as unknown as ManagedProcess,
      state: 'running',
      restarts: 0,
      exits: [],
      backoffMs: this.policy.initialBackoffMs,
      startedAt: 0,
      timer: undefined,
      restartAt: null,
      lastExit: null,
      stopGraceMs: options.stopGraceMs ?? 15_000,
      noRestart: options.noRestart,
    }
    this.entries.set(spec.name, entry)
    this.launch(entry, false)
    return entry.current
  }

  /** From now on an unexpected exit means a restart with backoff. */
  supervise(): void {
    this.supervising = true
  }

  /** The current process of each name, in start order. */
  get all(): readonly ManagedProcess[] {
    return [...this.entries.values()].map((e) => e.current)
  }

  names(): string[] {
    return [...this.entries.keys()]
  }

  status(): ProcessStatus[] {
    return [...this.entries.values()].map((e) => ({
      name: e.spec.name,
      state: e.state,
      pid: e.current.running ? (e.current.pid ?? null) : null,
      restarts: e.restarts,
      logFile: e.spec.logFile,
      restartAt: e.restartAt,
      lastExit: e.lastExit,
    }))
  }

  /** Stops one process and keeps it stopped (no restart) until `start(name)`. */
  async stop(name: string): Promise<ProcessStatus> {
    const entry = this.entry(name)
    this.cancelRestart(entry)
    entry.state = 'stopped'
    await entry.current.stop(entry.stopGraceMs)
    this.modules.onEvent?.({ type: 'stopped', name })
    return this.statusOf(entry)
  }

  /** Starts a stopped, failed or backing-off process now (a running one is left as it is). */
  start(name: string): ProcessStatus {
    const entry = this.entry(name)
    if (this.shuttingDown) {
      throw new DevnetError('DEVNET_ABORTED', 'the devnet is stopping')
    }
    if (entry.state === 'running' || entry.state === 'paused') return this.statusOf(entry)
    this.cancelRestart(entry)
    entry.exits = []
    entry.backoffMs = this.policy.initialBackoffMs
    this.launch(entry, true)
    return this.statusOf(entry)
  }

  /** SIGSTOP to the process group: the process is frozen (its sockets stay open, peers see silence). */
  pause(name: string): ProcessStatus {
    const entry = this.entry(name)
    if (entry.state !== 'running' || !entry.current.running) {
      throw new DevnetError('DEVNET_CONTROL_FAILED', `${name} is ${entry.state}, not running`)
    }
    entry.current.signalGroup('SIGSTOP')
    entry.state = 'paused'
    this.modules.onEvent?.({ type: 'paused', name })
    return this.statusOf(entry)
  }

  resume(name: string): ProcessStatus {
    const entry = this.entry(name)
    if (entry.state !== 'paused') {
      throw new DevnetError('DEVNET_CONTROL_FAILED', `${name} is ${entry.state}, not paused`)
    }
    entry.current.signalGroup('SIGCONT')
    entry.state = 'running'
    this.modules.onEvent?.({ type: 'resumed', name })
    return this.statusOf(entry)
  }

  /** Stops the processes whose names match, all at once, and keeps them stopped. */
  async stopWhere(match: (p: ManagedProcess) => boolean, graceMs: number): Promise<void> {
    const chosen = [...this.entries.values()].filter((e) => match(e.current))
    for (const e of chosen) {
      this.cancelRestart(e)
      e.state = 'stopped'
    }
    await Promise.all(chosen.map((e) => e.current.stop(graceMs)))
  }

  /** No restart from now on (the devnet is stopping); call before stopping everything. */
  shutdown(): void {
    this.shuttingDown = true
    for (const e of this.entries.values()) this.cancelRestart(e)
  }

  /** Call once everything is stopped. */
  dispose(): void {
    this.shutdown()
    process.off('exit', this.onExitHook)
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name)
    if (entry === undefined) {
      throw new DevnetError(
        'DEVNET_UNKNOWN_PROCESS',
        `no devnet process named ${name}; the processes are ${this.names().join(', ')}`,
      )
    }
    return entry
  }

  private statusOf(entry: Entry): ProcessStatus {
    return this.status().find((s) => s.name === entry.spec.name)!
  }

  private launch(entry: Entry, restart: boolean): void {
    const p = new ManagedProcess(entry.spec)
    entry.current = p
    entry.state = 'running'
    entry.startedAt = this.scheduler.now()
    entry.restartAt = null
    if (restart) entry.restarts++
    this.modules.onEvent?.({ type: 'started', name: entry.spec.name, pid: p.pid, restart })
    void p.exited.then((exit) => this.onExit(entry, p, exit))
  }

  private onExit(entry: Entry, p: ManagedProcess, exit: ProcessExit): void {
    // A process replaced since, or stopped on purpose.
    if (entry.current !== p || p.stopping) return
    entry.lastExit = exit
    if (!this.supervising) {
      entry.state = 'failed'
      this.modules.onStartupExit?.(p, exit)
      return
    }
    if (this.shuttingDown) {
      entry.state = 'stopped'
      return
    }
    const name = entry.spec.name
    this.modules.onEvent?.({
      type: 'exited',
      name,
      exit,
      logFile: entry.spec.logFile,
      logTail: p.logTail(12),
    })
    const now = this.scheduler.now()
    if (now - entry.startedAt >= this.policy.resetAfterMs) {
      entry.backoffMs = this.policy.initialBackoffMs
    }
    entry.exits = [...entry.exits.filter((t) => now - t < this.policy.crashWindowMs), now]
    let reason: string | undefined
    if (entry.noRestart !== undefined) {
      reason = entry.noRestart
    } else if (exit.code !== null && FINAL_EXIT_CODES.has(exit.code)) {
      reason = `it exited with code ${exit.code} (${exit.code === 2 ? 'its input is invalid' : 'its datadir is refused'}: a restart cannot help)`
    } else if (exit.code === null && exit.signal === null) {
      reason = 'it could not be started'
    } else if (entry.exits.length > this.policy.maxRestarts) {
      reason = `crash loop: ${entry.exits.length} exits within ${Math.round(this.policy.crashWindowMs / 1000)} s`
    }
    if (reason !== undefined) {
      entry.state = 'failed'
      this.modules.onEvent?.({ type: 'gave-up', name, reason, logFile: entry.spec.logFile })
      return
    }
    const wait = entry.backoffMs
    entry.backoffMs = Math.min(entry.backoffMs * 2, this.policy.maxBackoffMs)
    entry.state = 'backoff'
    entry.restartAt = now + wait
    this.modules.onEvent?.({ type: 'restarting', name, inMs: wait, attempt: entry.restarts + 1 })
    entry.timer = this.scheduler.setTimeout(() => {
      entry.timer = undefined
      if (entry.state !== 'backoff' || this.shuttingDown) return
      this.launch(entry, true)
    }, wait)
  }

  private cancelRestart(entry: Entry): void {
    if (entry.timer !== undefined) this.scheduler.clearTimeout(entry.timer)
    entry.timer = undefined
    entry.restartAt = null
  }
}
