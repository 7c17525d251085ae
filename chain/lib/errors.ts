/**
 * One error base class for the whole project (viem style): a short message, a stable
 * machine-readable `code`, optional `details` for humans and the original `cause`.
 * Domains subclass it to narrow the code type to their own union (TxPoolError,
 * LedgerError, BridgeError...); callers switch on `code`, never on message text. Every code
 * is declared in error-codes.ts, so `new SidechainError('TYPO', ...)` and
 * `isSidechainError(err, 'TYPO')` fail tsc. What a code means at the edges (CLI exit code,
 * JSON-RPC error, metric labels) comes from its row in ERROR_TABLE, read by `describeError`.
 */
import {
  ERROR_TABLE,
  type ErrorCode,
  type ErrorKind,
  type ErrorTraits,
  EXIT_CODES,
} from './error-codes.ts'

export type { ErrorCode, ErrorKind } from './error-codes.ts'

export type ErrorDetails = Record<string, unknown>

export interface SidechainErrorOptions {
  details?: ErrorDetails
  cause?: unknown
}

export class SidechainError<Code extends ErrorCode = ErrorCode> extends Error {
  override readonly name: string = 'SidechainError'
  readonly code: Code
  readonly details: ErrorDetails | undefined

  constructor(code: Code, message: string, options: SidechainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details
  }
}

export function isSidechainError<Code extends ErrorCode = ErrorCode>(
  err: unknown,
  code?: Code,
): err is SidechainError<Code> {
  return err instanceof SidechainError && (code === undefined || err.code === code)
}

/** JSON-RPC "internal error": the answer to anything the table does not map. */
const JSON_RPC_INTERNAL_ERROR = -32603

/** What the edges make of a thrown value (see ERROR_TABLE in error-codes.ts). */
export interface ErrorDescription {
  /** The error's code, or UNEXPECTED for anything that is not a registered SidechainError. */
  code: ErrorCode | 'UNEXPECTED'
  /** Whose fault it is; `unexpected` for anything without a code (a bug, a raw I/O error). */
  kind: ErrorKind | 'unexpected'
  /** Exit code of a CLI command that fails with it: 2 bad input, 1 anything else. */
  exitCode: 1 | 2 | 3
  /** JSON-RPC error code; -32603 means the client sees "internal error" only. */
  rpcCode: number
  /** True when RPC clients see the error's own message (otherwise log it: it is ours). */
  rpcExposed: boolean
}

/**
 * The one mapping from a thrown value to the CLI exit code, the JSON-RPC error code and the
 * metric labels (`code` and `kind`, both bounded: codes are a closed union).
 */
export function describeError(err: unknown): ErrorDescription {
  const traits: ErrorTraits | undefined =
    err instanceof SidechainError && Object.hasOwn(ERROR_TABLE, err.code)
      ? ERROR_TABLE[err.code as ErrorCode]
      : undefined
  if (traits === undefined) {
    return {
      code: 'UNEXPECTED',
      kind: 'unexpected',
      exitCode: 1,
      rpcCode: JSON_RPC_INTERNAL_ERROR,
      rpcExposed: false,
    }
  }
  return {
    code: (err as SidechainError).code,
    kind: traits.kind,
    exitCode: EXIT_CODES[traits.kind],
    rpcCode: traits.rpc ?? JSON_RPC_INTERNAL_ERROR,
    rpcExposed: traits.rpc !== undefined,
  }
}

/** Message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
