/**
 * Time source and timers, injected wherever timing matters so tests can drive time
 * deterministically (ManualScheduler) instead of sleeping.
 */
export interface Scheduler {
  now(): number
  /** Runs `fn` once `now()` has advanced by at least `ms`: never early by this clock. */
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The host timers a system scheduler runs on (injected in its own test). */
export interface HostTimers {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const nodeTimers: HostTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

/**
 * Wall-clock time and host timers, with the timer promise kept: Node's setTimeout counts
 * from the event loop's cached time, so it can fire a few ms before Date.now() reaches the
 * deadline; such a timer is re-armed for the rest instead of running early. (A QBFT round
 * timer firing early used to be dropped, leaving a validator stuck in its round.)
 */
export function createSystemScheduler(host: HostTimers = nodeTimers): Scheduler {
  return {
    now: () => host.now(),
    setTimeout: (fn, ms) => {
      const delay = Math.max(0, ms)
      const due = host.now() + delay
      const handle: { timer: unknown } = { timer: undefined }
      const fire = () => {
        const left = due - host.now()
        // Early by a little: wait for the rest. More left than the whole delay means the
        // wall clock stepped back; running now beats waiting for it to catch up.
        if (left > 0 && left <= delay) handle.timer = host.setTimeout(fire, left)
        else fn()
      }
      handle.timer = host.setTimeout(fire, delay)
      return handle
    },
    clearTimeout: (handle) => {
      if (handle !== undefined) host.clearTimeout((handle as { timer: unknown }).timer)
    },
  }
}

export const systemScheduler: Scheduler = createSystemScheduler()

/** A scheduler whose clock only moves when the test says so. */
export class ManualScheduler implements Scheduler {
  private time: number
  private nextId = 1
  private readonly timers = new Map<number, { at: number; fn: () => void }>()

  constructor(start = 1_700_000_000_000) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  get pendingTimers(): number {
    return this.timers.size
  }

  /** Moves the clock forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.time + ms
    for (;;) {
      let nextId: number | undefined
      let nextAt = Number.POSITIVE_INFINITY
      for (const [id, timer] of this.timers) {
        if (timer.at <= target && timer.at < nextAt) {
          nextAt = timer.at
          nextId = id
        }
      }
      if (nextId === undefined) break
      const timer = this.timers.get(nextId)!
      this.timers.delete(nextId)
      this.time = Math.max(this.time, timer.at)
      timer.fn()
    }
    this.time = target
  }
}

/**
 * CPU time of the calling thread, in ms: what the code running here costs, whatever else
 * the machine runs. Work budgets (the block build budget) are counted with it: wall time
 * would also count the time the OS gives other processes, and cut blocks short exactly
 * when the machine is busy, turning a slow moment into a backlog.
 */
export function threadCpuMs(): number {
  const { user, system } = process.threadCpuUsage()
  return (user + system) / 1000
}
