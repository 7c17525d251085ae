/**
 * Runs the per-item work of the relayer (one deposit, one withdrawal) with four rules:
 * - single flight: an item never has two actions running at once;
 * - retryable failures back off exponentially per item (0.5 s doubling, capped);
 * - permanent failures park the item (logged at error level, counted by kind); a parked item is looked at again
 *   after `parkedRecheckMs`, so an operator's fix (a raised limit, a funded key) needs no restart;
 * - a transaction that ran out of gas is retried at most `maxOutOfGasAttempts` times, then parked with the reason
 *   `out-of-gas`: a recipient or state that makes every attempt run out would otherwise cost gas forever.
 * What counts as retryable is decided by `classifyError` alone.
 */
import type { Logger } from '../../chain/lib/logger.ts'
import { classifyError } from '../core/classify.ts'

export interface ItemRunnerOptions {
  backoffBaseMs: number
  backoffMaxMs: number
  /** A parked item is run again this long after it was parked (0: never, until restart). */
  parkedRecheckMs?: number
  /** Out-of-gas failures of one item before it is parked (default 3). */
  maxOutOfGasAttempts?: number
}

export interface ItemRunnerModules {
  logger: Logger
  onError: (kind: string) => void
  /** Called whenever the set of parked items changes, with the count per reason kind. */
  onParkedChange?: (byKind: ReadonlyMap<string, number>) => void
  now?: () => number
}

/** Why an item is parked: the classification kind (a low-cardinality label) and one line of detail. */
export interface ParkedItem {
  kind: string
  detail: string
  at: number
}

export class ItemRunner {
  private readonly running = new Map<string, Promise<void>>()
  private readonly retryAt = new Map<string, { at: number; attempts: number }>()
  private readonly parkedItems = new Map<string, ParkedItem>()
  private readonly outOfGas = new Map<string, number>()
  private readonly options: ItemRunnerOptions
  private readonly logger: Logger
  private readonly onError: (kind: string) => void
  private readonly onParkedChange: ((byKind: ReadonlyMap<string, number>) => void) | undefined
  private readonly now: () => number

  constructor(options: ItemRunnerOptions, modules: ItemRunnerModules) {
    this.options = options
    this.logger = modules.logger
    this.onError = modules.onError
    this.onParkedChange = modules.onParkedChange
    this.now = modules.now ?? Date.now
  }

  /** Starts `action` for `key` unless it is running, backing off or parked (and not yet due for a recheck). */
  run(key: string, action: () => Promise<void>): void {
    if (this.running.has(key)) return
    const parked = this.parkedItems.get(key)
    if (parked !== undefined) {
      const recheck = this.options.parkedRecheckMs ?? 0
      if (recheck <= 0 || this.now() - parked.at < recheck) return
      this.logger.info({ item: key, kind: parked.kind }, 'looking at a parked item again')
      this.parkedItems.delete(key)
      this.outOfGas.delete(key)
      this.parkedChanged()
    }
    const backoff = this.retryAt.get(key)
    if (backoff !== undefined && this.now() < backoff.at) return
    const promise = action().then(
      () => {
        this.retryAt.delete(key)
        this.outOfGas.delete(key)
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
    this.outOfGas.delete(key)
    if (this.parkedItems.delete(key)) this.parkedChanged()
  }

  /** Parked items and their reasons (`kind: detail`). */
  get parked(): ReadonlyMap<string, string> {
    return new Map([...this.parkedItems].map(([k, p]) => [k, `${p.kind}: ${p.detail}`]))
  }

  /** Parked items with their typed reasons. */
  get parkedDetails(): ReadonlyMap<string, ParkedItem> {
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
    if (c.kind === 'out-of-gas') {
      const attempts = (this.outOfGas.get(key) ?? 0) + 1
      this.outOfGas.set(key, attempts)
      const max = this.options.maxOutOfGasAttempts ?? 3
      if (attempts >= max) {
        this.park(
          key,
          {
            kind: 'out-of-gas',
            detail: `ran out of gas ${attempts} times (${c.detail})`,
            at: this.now(),
          },
          err,
        )
        return
      }
    }
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
    this.park(key, { kind: c.kind, detail: c.detail, at: this.now() }, err)
  }

  private park(key: string, item: ParkedItem, err: unknown): void {
    this.retryAt.delete(key)
    this.parkedItems.set(key, item)
    this.parkedChanged()
    this.logger.error(
      {
        item: key,
        kind: item.kind,
        detail: item.detail,
        recheckInMs: this.options.parkedRecheckMs,
        err,
      },
      'permanent failure: item parked',
    )
  }

  private parkedChanged(): void {
    if (this.onParkedChange === undefined) return
    const byKind = new Map<string, number>()
    for (const p of this.parkedItems.values()) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1)
    this.onParkedChange(byKind)
  }
}
