/** Tiny JSON-RPC and HTTP probes for readiness checks, and a deadline-bound poll loop. */
import { DevnetError } from './errors.ts'

/** One JSON-RPC call; throws on transport errors, HTTP errors and JSON-RPC errors. */
export async function rpcCall<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 2_000,
): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`)
  const body = (await response.json()) as { result?: T; error?: { message: string } }
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

/** GET `url`; true on a 2xx answer, false on anything else (including no answer). */
export async function httpOk(url: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await response.body?.cancel()
    return response.ok
  } catch {
    return false
  }
}

export interface PollOptions {
  what: string
  timeoutMs: number
  intervalMs?: number
  /** Called before every attempt; throws to give up at once (a process died, Ctrl-C). */
  guard?: () => void
}

/** Polls `check` until it returns a value (not undefined/false), or throws DEVNET_START_TIMEOUT. */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | false>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs
  let lastError: unknown
  for (;;) {
    options.guard?.()
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    options.guard?.()
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new DevnetError(
        'DEVNET_START_TIMEOUT',
        `timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${options.what}${why}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250))
  }
}
