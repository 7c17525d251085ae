/**
 * Request windows per address and per client IP, kept in a JSON file (written through a
 * temporary file and a rename) so a restart does not reopen every window. A grant is
 * reserved before the transaction is sent and released if sending fails.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

interface WindowState {
  /** address -> time of its grant (ms) */
  addresses: Record<string, number>
  /** ip -> times of its grants (ms), oldest first */
  ips: Record<string, number[]>
}

export interface WindowLimits {
  addressWindowMs: number
  ipWindowMs: number
  maxPerIpPerWindow: number
}

export type Reservation =
  | { granted: true; release(): void }
  | { granted: false; retryAfterMs: number; reason: 'address' | 'ip' }

export class RequestWindows {
  readonly #file: string
  readonly #limits: WindowLimits
  #state: WindowState

  constructor(file: string, limits: WindowLimits) {
    this.#file = file
    this.#limits = limits
    this.#state = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as WindowState)
      : { addresses: {}, ips: {} }
  }

  reserve(address: string, ip: string, now: number): Reservation {
    this.#prune(now)
    const last = this.#state.addresses[address]
    if (last !== undefined)
      return {
        granted: false,
        reason: 'address',
        retryAfterMs: last + this.#limits.addressWindowMs - now,
      }
    const times = this.#state.ips[ip] ?? []
    if (times.length >= this.#limits.maxPerIpPerWindow)
      return {
        granted: false,
        reason: 'ip',
        retryAfterMs: times[0]! + this.#limits.ipWindowMs - now,
      }
    this.#state.addresses[address] = now
    this.#state.ips[ip] = [...times, now]
    this.#save()
    return {
      granted: true,
      release: () => {
        delete this.#state.addresses[address]
        const left = (this.#state.ips[ip] ?? []).filter((t) => t !== now)
        if (left.length === 0) delete this.#state.ips[ip]
        else this.#state.ips[ip] = left
        this.#save()
      },
    }
  }

  #prune(now: number): void {
    for (const [address, at] of Object.entries(this.#state.addresses))
      if (at + this.#limits.addressWindowMs <= now) delete this.#state.addresses[address]
    for (const [ip, times] of Object.entries(this.#state.ips)) {
      const live = times.filter((t) => t + this.#limits.ipWindowMs > now)
      if (live.length === 0) delete this.#state.ips[ip]
      else this.#state.ips[ip] = live
    }
  }

  #save(): void {
    const tmp = `${this.#file}.tmp`
    writeFileSync(tmp, JSON.stringify(this.#state))
    renameSync(tmp, this.#file)
  }
}
