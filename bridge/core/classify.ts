/**
 * The ONE place that decides what to do after a failure: retry it, treat it as done, or give up on it (logged).
 *
 * - retryable: the world may change without us: network errors and timeouts, nonce races, "replacement
 *   underpriced" and other fee refusals, a full pool, and contract states that pass by themselves (paused,
 *   rolling-window limit, not enough signatures yet, a signer epoch the sidechain has not followed yet);
 * - done: the contract says the work is already done (`WithdrawalAlreadyProcessed`);
 * - permanent: everything else (other reverts, insufficient funds, a payload conflict, the per-transaction gas
 *   cap). The caller logs it, counts it and parks the item; parked items are looked at again on a timer.
 *
 * A JSON-RPC error the rules below do not name is the node's trouble, not the request's (`header not found` and
 * `missing trie node` from a node that pruned or has not imported the state yet, -32603 internal errors, codes a
 * node invented): retryable with backoff, never parked for good. Only errors that carry no node answer at all (our
 * own bugs) fall through to permanent.
 *
 * Errors are told apart by our codes, then by viem's own error classes (found along the cause chain with viem's
 * `BaseError.walk`, as viem's getNodeError does), and by message only for what viem has no class for: replacement
 * and underpriced refusals, a busy pool or rate limit, node-side timeouts, and "already known" (viem folds it into
 * NonceTooLowError, but for a broadcast it means success, see `isKnownTransaction`).
 *
 * `kind` is a short, low-cardinality label for logs and the `errors_total{kind}` metric.
 */
import {
  type Abi,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  ExecutionRevertedError,
  FeeCapTooLowError,
  type Hex,
  HttpRequestError,
  InsufficientFundsError,
  InternalRpcError,
  LimitExceededRpcError,
  NonceTooHighError,
  NonceTooLowError,
  ResourceNotFoundRpcError,
  ResourceUnavailableRpcError,
  RpcError,
  RpcRequestError,
  SocketClosedError,
  TimeoutError,
  UnknownNodeError,
  UnknownRpcError,
  WaitForTransactionReceiptTimeoutError,
  WebSocketRequestError,
} from 'viem'
import { getNodeError } from 'viem/utils'
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
  // The vault reverts rather than owe: a top-up or new deposits make the release go through.
  InsufficientVaultBalance: 'vault-underfunded',
  InsufficientSignatures: 'waiting',
  StaleSignerEpoch: 'waiting',
}

/** Reverts that mean the work was already done by someone else. */
const DONE_REVERTS: Record<string, string> = {
  WithdrawalAlreadyProcessed: 'already-processed',
}

/** viem's classes for node refusals and transport failures, in the order they are looked for. */
const VIEM_RULES: Array<{
  type: abstract new (...args: never[]) => BaseError
  disposition: Disposition
  kind: string
}> = [
  { type: InsufficientFundsError, disposition: 'permanent', kind: 'insufficient-funds' },
  { type: NonceTooLowError, disposition: 'retryable', kind: 'nonce' },
  { type: NonceTooHighError, disposition: 'retryable', kind: 'nonce' },
  { type: FeeCapTooLowError, disposition: 'retryable', kind: 'underpriced' },
  { type: TimeoutError, disposition: 'retryable', kind: 'timeout' },
  { type: WaitForTransactionReceiptTimeoutError, disposition: 'retryable', kind: 'timeout' },
  // Any HTTP failure (no answer, 5xx, 429): the server or the way to it, not the request.
  { type: HttpRequestError, disposition: 'retryable', kind: 'network' },
  { type: WebSocketRequestError, disposition: 'retryable', kind: 'network' },
  { type: SocketClosedError, disposition: 'retryable', kind: 'network' },
  // Reverts without a custom error we know (those are decoded first, see revertName).
  { type: ExecutionRevertedError, disposition: 'permanent', kind: 'revert' },
  { type: ContractFunctionRevertedError, disposition: 'permanent', kind: 'revert' },
  // After the reverts (a revert may arrive under any code). The node's own trouble (-32603, -32001 block or
  // state not found, -32002 unavailable, -32005 limited, codes outside the standard): only the node changes.
  { type: InternalRpcError, disposition: 'retryable', kind: 'node' },
  { type: ResourceNotFoundRpcError, disposition: 'retryable', kind: 'node' },
  { type: ResourceUnavailableRpcError, disposition: 'retryable', kind: 'busy' },
  { type: LimitExceededRpcError, disposition: 'retryable', kind: 'busy' },
  { type: UnknownRpcError, disposition: 'retryable', kind: 'node' },
]

/**
 * The node already has this transaction. viem's NonceTooLowError covers two of these messages together with "nonce
 * too low" itself, which for a broadcast is not success (see isKnownTransaction).
 */
const KNOWN_TRANSACTION = /already known|known transaction|already imported/i

/** Node messages viem has no class for. */
const MESSAGE_RULES: Array<{ pattern: RegExp; disposition: Disposition; kind: string }> = [
  { pattern: KNOWN_TRANSACTION, disposition: 'retryable', kind: 'nonce' },
  { pattern: /nonce has already been used/i, disposition: 'retryable', kind: 'nonce' },
  {
    pattern: /replacement transaction underpriced|transaction underpriced|fee too low/i,
    disposition: 'retryable',
    kind: 'underpriced',
  },
  {
    pattern: /txpool is full|too many pending transactions|rate limit|too many requests/i,
    disposition: 'retryable',
    kind: 'busy',
  },
  { pattern: /timed? ?out|timeout/i, disposition: 'retryable', kind: 'timeout' },
  // State or blocks the node does not have (yet, or any more): geth, erigon, nethermind, anvil wordings.
  {
    pattern:
      /header not found|missing trie node|unknown block|block not found|state (is )?not available|historical state|pruned|BlockOutOfRange/i,
    disposition: 'retryable',
    kind: 'node-state',
  },
]

export function classifyError(err: unknown): ErrorClassification {
  if (isAbort(err)) return { disposition: 'permanent', kind: 'aborted', detail: 'stopped' }

  if (isSidechainError(err)) {
    switch (err.code) {
      case 'RELAYER_SPEND_CAP':
        // The cap is per time window: the item goes through once older spend leaves the window.
        return { disposition: 'retryable', kind: 'spend-cap', detail: err.message }
      case 'RELAYER_GAS_CAP':
        return { disposition: 'permanent', kind: 'gas-cap', detail: err.message }
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
      // The sidechain endpoint showed something its validators did not seal: nothing is signed, and the
      // item is tried again (an honest answer later, from a mended or replaced endpoint, goes through).
      case 'RELAYER_UNTRUSTED_CHECKPOINT':
      case 'RELAYER_HEADER_MISMATCH':
      case 'RELAYER_HEADER_UNSEALED':
      case 'RELAYER_PROOF_INVALID':
      case 'RELAYER_WITHDRAWAL_UNPROVEN':
      case 'RELAYER_L1_SOURCES_DISAGREE':
        return { disposition: 'retryable', kind: 'unverified', detail: err.message }
      case 'RELAYER_TX_REVERTED': {
        const name = err.details?.errorName
        if (typeof name === 'string') return classifyRevert(name)
        return { disposition: 'permanent', kind: 'revert', detail: err.message }
      }
    }
  }

  const revert = revertName(err)
  if (revert !== undefined) return classifyRevert(revert)

  // viem reads a -32603 answer to eth_call as a revert (some dev nodes report reverts that way), but a node's
  // internal error that mentions no revert and carries no revert data is the node's trouble.
  const rpc = walk(err, (e) => e instanceof RpcRequestError)
  if (
    rpc instanceof RpcRequestError &&
    rpc.code === InternalRpcError.code &&
    !/revert/i.test(rpc.details)
  ) {
    return { disposition: 'retryable', kind: 'node', detail: firstLine(err) }
  }

  const typed = nodeError(err)
  for (const rule of VIEM_RULES) {
    if (walk(err, (e) => e instanceof rule.type) !== null || typed instanceof rule.type) {
      return { disposition: rule.disposition, kind: rule.kind, detail: firstLine(err) }
    }
  }

  const text = nodeMessage(err)
  for (const rule of MESSAGE_RULES) {
    if (rule.pattern.test(text)) {
      return { disposition: rule.disposition, kind: rule.kind, detail: firstLine(err) }
    }
  }
  // A node answered with an error no rule names: retry with backoff (see the header).
  if (walk(err, (e) => e instanceof RpcRequestError || e instanceof RpcError) !== null) {
    return { disposition: 'retryable', kind: 'rpc-unknown', detail: firstLine(err) }
  }
  return { disposition: 'permanent', kind: 'unknown', detail: firstLine(err) }
}

/**
 * True when a broadcast failed only because the node already has the transaction (a re-broadcast, or an answer
 * lost on the way back): for the sender that is success.
 */
export function isKnownTransaction(err: unknown): boolean {
  return KNOWN_TRANSACTION.test(nodeMessage(err))
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
  let name: string | undefined
  const found = (candidate: string | undefined) => {
    name = candidate
    return candidate !== undefined
  }
  // viem decoded it (or kept the raw data) for a contract call with the ABI at hand.
  walk(
    err,
    (e) =>
      e instanceof ContractFunctionRevertedError &&
      found(e.data?.errorName ?? (e.raw === undefined ? undefined : decodeRevert(e.raw))),
  )
  if (name !== undefined) return name
  // Raw revert data anywhere in the chain (a call without the ABI: `data` on the error or on its RPC error).
  walk(err, (e) => {
    const data = (e as { data?: unknown } | null)?.data
    const raw = typeof data === 'string' ? data : (data as { data?: unknown } | undefined)?.data
    return (
      typeof raw === 'string' && /^0x[0-9a-fA-F]{8}/.test(raw) && found(decodeRevert(raw as Hex))
    )
  })
  return name
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

/**
 * viem's `BaseError.walk` from the first viem error of the chain (our own errors may wrap one in `cause`): the
 * first error `fn` holds for, or null.
 */
function walk(err: unknown, fn: (e: unknown) => boolean): unknown {
  let e = err
  for (let depth = 0; e !== undefined && e !== null && depth < 16; depth++) {
    if (e instanceof BaseError) return e.walk(fn)
    if (fn(e)) return e
    e = (e as { cause?: unknown }).cause
  }
  return null
}

/**
 * viem's typed node error for a JSON-RPC refusal. viem maps node messages to classes in its actions (estimateGas,
 * call, sendTransaction) but not for a raw `client.request`, which the sender uses for eth_sendRawTransaction; for
 * those the mapping is viem's own getNodeError, applied to the RPC error.
 */
function nodeError(err: unknown): BaseError | undefined {
  const rpc = walk(err, (e) => e instanceof RpcRequestError)
  if (!(rpc instanceof RpcRequestError)) return undefined
  const mapped = getNodeError(rpc, {})
  return mapped instanceof UnknownNodeError ? undefined : mapped
}

/** What the node (or the transport) said: viem keeps it as `details` along its chain; else the error's message. */
function nodeMessage(err: unknown): string {
  const viem = walk(err, (e) => e instanceof BaseError)
  if (viem instanceof BaseError) return `${viem.shortMessage} | ${viem.details}`
  if (err instanceof Error) return err.message
  return String(err)
}

function firstLine(err: unknown): string {
  // A JSON-RPC refusal: the node's own words, not viem's generic text for the error code.
  const rpc = walk(err, (e) => e instanceof RpcRequestError)
  if (rpc instanceof RpcRequestError) return rpc.details
  if (err instanceof BaseError) return err.shortMessage
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message
  return String(err)
}
