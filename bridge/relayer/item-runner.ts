/**
 * Runs the per-item work of the relayer (one deposit, one withdrawal) with three rules:
 * - single flight: an item never has two actions running at once;
 * - retryable failures back off exponentially per item (0.5 s doubling, capped);
 * - permanent failures park the item until the process restarts (logged at error level, counted by kind).
 * What counts as retryable is decided by `classifyError` alone.
 */
import type { Logger } from '../../chain/lib/logger.ts'
import { classifyError } from '../core/classify.ts'

export interface ItemRunnerOptions {
  backoffBaseMs: number
  backoffMaxMs: number
}

export interface ItemRunnerModules {
  logger: Logger
  onError: (kind: string) => void
  now?: () => number
}

export class ItemRunner {
  private readonly running = new Map<string, Promise<void>>()
  private readonly retryAt = new Map<string, { at: number; attempts: number }>()
  private readonly parkedItems = new Map<string, string>()
  private readonly options: ItemRunnerOptions
  private readonly logger: Logger
  private readonly onError: (kind: string) => void
  private readonly now: () => number

  constructor(options: ItemRunnerOptions, modules: ItemRunnerModules) {
    this.options = options
    this.logger = modules.logger
    this.onError = modules.onError
    this.now = modules.now ?? Date.now
  }

  /** Starts `action` for `key` unless it is running, backing off or parked. */
  run(key: string, action: () => Promise<void>): void {
    if (this.running.has(key) || this.parkedItems.has(key)) return
    const backoff = this.retryAt.get(key)
    if (backoff !== undefined && this.now() < backoff.at) return
    const promise = action().then(
      () => {
        this.retryAt.delete(key)
      },
      (err: unknown) => this.failed(key, err),
    )
    const tracked = promise.finally(() => this.running.delete(key))
    this.running.set(key, tracked)
  }

  isParked(key: string): boolean {
    return this.parkedItems.has(key)
  }

  /** Forgets an item (it is complete). */
  forget(key: string): void {
    this.retryAt.delete(key)
    this.parkedItems.delete(key)
  }

  get parked(): ReadonlyMap<string, string> {
    return this.parkedItems
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()])
  }

  private failed(key: string, err: unknown): void {
    const c = classifyError(err)
    if (c.kind === 'aborted') return
    if (c.disposition === 'done') {
      this.logger.debug({ item: key, detail: c.detail }, 'already done by someone else')
      this.retryAt.delete(key)
      return
    }
    this.onError(c.kind)
    if (c.disposition === 'retryable') {
      const attempts = (this.retryAt.get(key)?.attempts ?? 0) + 1
      const delay = Math.min(
        this.options.backoffMaxMs,
        this.options.backoffBaseMs * 2 ** (attempts - 1),
      )
      this.retryAt.set(key, { at: this.now() + delay, attempts })
      this.logger.warn(
        { item: key, kind: c.kind, detail: c.detail, retryInMs: delay },
        'will retry',
      )
      return
    }
    this.parkedItems.set(key, `${c.kind}: ${c.detail}`)
    this.logger.error(
      {
        item: key,
        kind: c.kind,
        detail: c.detail,
        err,
      },
      'permanent failure: item parked until restart',
    )
  }
}
