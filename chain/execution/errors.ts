/**
 * Errors of block execution. The EXEC_*_MISMATCH codes and EXEC_INVALID_TX say the block is
 * invalid; the others are ours (missing parent state, a build used after it was sealed).
 * Stored receipts that do not decode raise STORAGE_CORRUPT (the storage's code).
 */
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

export type ExecutionErrorCode = ErrorCodeOf<'execution'>

export class ExecutionError extends SidechainError<ExecutionErrorCode | 'STORAGE_CORRUPT'> {
  override readonly name: string = 'ExecutionError'
}
