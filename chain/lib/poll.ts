/**
 * The one poll loop of the repository: waiting for a condition with a deadline instead of
 * sleeping (devnet start-up, the bridge commands' waits, tests). Callers that need their own
 * error for a timeout (a devnet code, a bridge code) pass `onTimeout`.
 */
import { SidechainError } from './errors.ts'

export interface PollOptions {
  /** What is awaited, for the timeout message ("3 validators at block 2"). */
  what: string
  timeoutMs: number
  /** Pause between attempts (default 250 ms). */
  intervalMs?: number
  /** Called before every attempt; throws to give up at once (a process died, Ctrl-C). */
  guard?: () => void
  /** Whether an error `check` throws is worth another attempt; by default none is. */
  retryIf?: (err: unknown) => boolean
  /** The error to throw at the deadline (default POLL_TIMEOUT). */
  onTimeout?: (message: string, lastError: unknown) => Error
}

/**
 * Calls `check` until it returns a value other than undefined, null or false, and returns it.
 * At the deadline it throws `onTimeout(...)` (or POLL_TIMEOUT) naming `what` and the last
 * retried error.
 */
export async function pollUntil<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs
  let lastError: unknown
  for (;;) {
    options.guard?.()
    try {
      const value = await check()
      if (value !== undefined && value !== null && value !== false) return value
    } catch (err) {
      if (options.retryIf?.(err) !== true) throw err
      lastError = err
    }
    options.guard?.()
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      const message = `timed out after ${options.timeoutMs} ms waiting for ${options.what}${why}`
      throw options.onTimeout?.(message, lastError) ?? new SidechainError('POLL_TIMEOUT', message)
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250))
  }
}
