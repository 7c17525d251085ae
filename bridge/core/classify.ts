/**
 * The ONE place that decides what to do after a failure: retry it, treat it as done, or give up on it (logged).
 *
 * - retryable: the world may change without us: network errors and timeouts, nonce races, "replacement
 *   underpriced" and other fee refusals, a full pool, and contract states that pass by themselves (paused,
 *   rolling-window limit, not enough signatures yet, a signer epoch the sidechain has not followed yet);
 * - done: the contract says the work is already done (`WithdrawalAlreadyProcessed`);
 * - permanent: everything else (other reverts, insufficient funds, the spend cap, a payload conflict). The caller
 *   logs it, counts it and parks the item; it is looked at again only after a restart.
 *
 * `kind` is a short, low-cardinality label for logs and the `errors_total{kind}` metric.
 */
import {
  type Abi,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  type Hex,
} from 'viem'
import { isSidechainError } from '../../chain/lib/errors.ts'
import { bridgeVaultAbi, sidechainBridgeAbi, wrappedTokenAbi } from '../deploy/index.ts'

export type Disposition = 'retryable' | 'done' | 'permanent'

export interface ErrorClassification {
  disposition: Disposition
  kind: string
  /** One line for logs: the custom error name or the node's message. */
  detail: string
}

/** Custom errors of the bridge contracts (the union of their ABIs' error items). */
export const bridgeErrorsAbi: Abi = [
  ...bridgeVaultAbi,
  ...sidechainBridgeAbi,
  ...wrappedTokenAbi,
].filter((item, i, all) => {
  if (item.type !== 'error') return false
  return all.findIndex((other) => other.type === 'error' && other.name === item.name) === i
})

/** Reverts whose cause goes away by itself (or by an operator action that needs no relayer restart). */
const RETRYABLE_REVERTS: Record<string, string> = {
  EnforcedPause: 'paused',
  WindowLimitExceeded: 'rate-limited',
  InsufficientSignatures: 'waiting',
  StaleSignerEpoch: 'waiting',
}

/** Reverts that mean the work was already done by someone else. */
const DONE_REVERTS: Record<string, string> = {
  WithdrawalAlreadyProcessed: 'already-processed',
}

const MESSAGE_RULES: Array<{ pattern: RegExp; disposition: Disposition; kind: string }> = [
  { pattern: /insufficient funds/i, disposition: 'permanent', kind: 'insufficient-funds' },
  {
    pattern: /nonce too (low|high)|nonce has already been used|already known|known transaction/i,
    disposition: 'retryable',
    kind: 'nonce',
  },
  {
    pattern:
      /replacement transaction underpriced|transaction underpriced|fee too low|max fee per gas less than block base fee|fee cap .*too low/i,
    disposition: 'retryable',
    kind: 'underpriced',
  },
  {
    pattern: /txpool is full|too many pending transactions|rate limit|too many requests/i,
    disposition: 'retryable',
    kind: 'busy',
  },
  {
    pattern: /timed? ?out|timeout|ETIMEDOUT/i,
    disposition: 'retryable',
    kind: 'timeout',
  },
  {
    pattern:
      /fetch failed|ECONNREFUSED|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up|socket has been closed|other side closed|network error|HTTP request failed|WebSocket/i,
    disposition: 'retryable',
    kind: 'network',
  },
]

export function classifyError(err: unknown): ErrorClassification {
  if (isAbort(err)) return { disposition: 'permanent', kind: 'aborted', detail: 'stopped' }

  if (isSidechainError(err)) {
    switch (err.code) {
      case 'RELAYER_SPEND_CAP':
        return { disposition: 'permanent', kind: 'spend-cap', detail: err.message }
      case 'RELAYER_PAYLOAD_CONFLICT':
        return { disposition: 'permanent', kind: 'conflict', detail: err.message }
      case 'RELAYER_TX_LOST':
        return { disposition: 'retryable', kind: 'nonce', detail: err.message }
      case 'RELAYER_OUT_OF_GAS':
        return { disposition: 'retryable', kind: 'out-of-gas', detail: err.message }
      case 'RELAYER_INCONSISTENT_VIEW':
        return { disposition: 'retryable', kind: 'reorg', detail: err.message }
      case 'RELAYER_DEEP_REORG':
        return { disposition: 'permanent', kind: 'deep-reorg', detail: err.message }
      case 'RELAYER_CHAIN_MISMATCH':
        return { disposition: 'permanent', kind: 'config', detail: err.message }
      case 'RELAYER_TX_REVERTED': {
        const name = err.details?.errorName
        if (typeof name === 'string') return classifyRevert(name)
        return { disposition: 'permanent', kind: 'revert', detail: err.message }
      }
    }
  }

  const revert = revertName(err)
  if (revert !== undefined) return classifyRevert(revert)

  const text = messages(err)
  for (const rule of MESSAGE_RULES) {
    if (rule.pattern.test(text)) {
      return { disposition: rule.disposition, kind: rule.kind, detail: firstLine(err) }
    }
  }
  if (/revert/i.test(text))
    return { disposition: 'permanent', kind: 'revert', detail: firstLine(err) }
  // An HTTP status from the server (5xx, 429) without a recognizable message: the server, not the request.
  const status = httpStatus(err)
  if (status !== undefined && (status >= 500 || status === 429)) {
    return { disposition: 'retryable', kind: 'network', detail: `HTTP ${status}` }
  }
  return { disposition: 'permanent', kind: 'unknown', detail: firstLine(err) }
}

export function classifyRevert(errorName: string): ErrorClassification {
  const done = DONE_REVERTS[errorName]
  if (done !== undefined) return { disposition: 'done', kind: done, detail: errorName }
  const retry = RETRYABLE_REVERTS[errorName]
  if (retry !== undefined) return { disposition: 'retryable', kind: retry, detail: errorName }
  return { disposition: 'permanent', kind: 'revert', detail: errorName }
}

/** Name of the custom error a call or transaction reverted with, if the error carries one we can decode. */
export function revertName(err: unknown): string | undefined {
  for (const e of chain(err)) {
    if (e instanceof ContractFunctionRevertedError) {
      if (e.data?.errorName !== undefined) return e.data.errorName
      if (e.raw !== undefined) {
        const decoded = decodeRevert(e.raw)
        if (decoded !== undefined) return decoded
      }
    }
  }
  for (const e of chain(err)) {
    const data = (e as { data?: unknown }).data
    const raw =
      typeof data === 'string'
        ? data
        : typeof (data as { data?: unknown } | undefined)?.data === 'string'
          ? ((data as { data: string }).data as string)
          : undefined
    if (raw !== undefined && /^0x[0-9a-fA-F]{8}/.test(raw)) {
      const decoded = decodeRevert(raw as Hex)
      if (decoded !== undefined) return decoded
    }
  }
  return undefined
}

function decodeRevert(data: Hex): string | undefined {
  try {
    return decodeErrorResult({ abi: bridgeErrorsAbi, data }).errorName
  } catch {
    return undefined
  }
}

function isAbort(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' || (isSidechainError(err) && err.code === 'RELAYER_STOPPED'))
  )
}

function* chain(err: unknown): Generator<unknown> {
  let e: unknown = err
  for (let depth = 0; e !== undefined && e !== null && depth < 16; depth++) {
    yield e
    e = (e as { cause?: unknown }).cause
  }
}

function messages(err: unknown): string {
  const parts: string[] = []
  for (const e of chain(err)) {
    if (e instanceof BaseError) parts.push(e.shortMessage, e.details ?? '')
    if (e instanceof Error) parts.push(e.message)
    else if (typeof e === 'string') parts.push(e)
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') parts.push(code)
  }
  return parts.join(' | ')
}

function httpStatus(err: unknown): number | undefined {
  for (const e of chain(err)) {
    const status = (e as { status?: unknown }).status
    if (typeof status === 'number') return status
  }
  return undefined
}

function firstLine(err: unknown): string {
  if (err instanceof BaseError) return err.shortMessage
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message
  return String(err)
}
