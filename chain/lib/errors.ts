/**
 * One error base class for the whole project (viem style): a short message, a stable
 * machine-readable `code`, optional `details` for humans and the original `cause`.
 * Domains subclass it only to narrow the code type; callers switch on `code`, never on
 * message text. JSON-RPC mapping happens in one place (chain/rpc/errors.ts).
 */
export type ErrorDetails = Record<string, unknown>

export interface SidechainErrorOptions {
  details?: ErrorDetails
  cause?: unknown
}

export class SidechainError<Code extends string = string> extends Error {
  override readonly name: string = 'SidechainError'
  readonly code: Code
  readonly details: ErrorDetails | undefined

  constructor(code: Code, message: string, options: SidechainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details
  }
}

export function isSidechainError(err: unknown, code?: string): err is SidechainError {
  return err instanceof SidechainError && (code === undefined || err.code === code)
}

/** Message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
