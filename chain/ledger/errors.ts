/**
 * Errors of the ledger: refused imports (LEDGER_NOT_NEXT_BLOCK, LEDGER_KNOWN_BLOCK,
 * LEDGER_INVALID_*), a datadir of another genesis, and misuse of the executor lease.
 */
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

export type LedgerErrorCode = ErrorCodeOf<'ledger'>

export class LedgerError extends SidechainError<LedgerErrorCode> {
  override readonly name: string = 'LedgerError'
}
