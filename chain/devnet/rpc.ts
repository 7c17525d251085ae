/** Tiny JSON-RPC and HTTP probes for readiness checks, and a deadline-bound poll loop. */
import { type PollOptions as LibPollOptions, pollUntil as poll } from '../lib/poll.ts'
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

export type PollOptions = Pick<LibPollOptions, 'what' | 'timeoutMs' | 'intervalMs' | 'guard'>

/** Polls `check` until it returns a value (not undefined/false), or throws DEVNET_START_TIMEOUT. */
export function pollUntil<T>(
  check: () => Promise<T | undefined | false>,
  options: PollOptions,
): Promise<T> {
  return poll(check, {
    ...options,
    // Start-up waits see refused connections until a process listens: every error retries.
    retryIf: () => true,
    onTimeout: (message) => new DevnetError('DEVNET_START_TIMEOUT', message),
  })
}
