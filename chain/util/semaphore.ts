/**
 * A counting semaphore with a bounded line: at most `maxConcurrent` runs at once, at most
 * `maxQueued` waiting. A slot that frees up passes straight to the next waiter, so a
 * waiter is never overtaken by a caller that arrives later.
 */
export interface SemaphoreOptions {
  maxConcurrent: number
  maxQueued: number
}

export class Semaphore {
  private readonly options: SemaphoreOptions
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor(options: SemaphoreOptions) {
    this.options = options
  }

  /**
   * True when a new run would have to wait and the line is full. The caller refuses the
   * work with its own error rather than queueing without bound (see run).
   */
  get full(): boolean {
    return (
      this.running >= this.options.maxConcurrent && this.waiting.length >= this.options.maxQueued
    )
  }

  /** Runs `fn` once a slot is free. Check `full` first: run itself always queues. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.maxConcurrent) {
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.running++
    }
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next !== undefined) next()
      else this.running--
    }
  }
}
