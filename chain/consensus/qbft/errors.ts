/**
 * Errors of the QBFT engine. Every code has a fixed gossip action (Lodestar style) so the
 * p2p layer can score the peer that relayed the message without knowing consensus rules:
 *
 * - REJECT: the message is invalid no matter when or where it arrives (malformed, forged,
 *   not from a validator, inconsistent). The relaying peer should be penalized.
 * - IGNORE: the message may be valid but is useless to us now (stale, duplicate, too far
 *   ahead, buffer full). No penalty; do not forward.
 */
import type { ErrorCodeOf } from '../../lib/error-codes.ts'
import { SidechainError, type SidechainErrorOptions } from '../../lib/errors.ts'

export type QbftAction = 'IGNORE' | 'REJECT'

export type QbftErrorCode = ErrorCodeOf<'qbft'>

export const QBFT_ERROR_ACTIONS = {
  /** not canonical RLP, wrong shape, bad field sizes, unknown message code */
  QBFT_MALFORMED: 'REJECT',
  /** larger than the configured message size cap */
  QBFT_TOO_LARGE: 'REJECT',
  /** the outer signature does not recover (bad encoding, high-s, bad recovery id) */
  QBFT_BAD_SIGNATURE: 'REJECT',
  /** the recovered author is not in the validator set of the message's height */
  QBFT_NOT_VALIDATOR: 'REJECT',
  /** a PROPOSAL signed by someone other than proposer(height, round) */
  QBFT_WRONG_PROPOSER: 'REJECT',
  /** a PROPOSAL whose round-change / prepare justification does not hold */
  QBFT_BAD_JUSTIFICATION: 'REJECT',
  /** a ROUND-CHANGE for round 0 or with an invalid prepared certificate */
  QBFT_BAD_ROUND_CHANGE: 'REJECT',
  /** a COMMIT whose commit seal is not the author's signature over (digest, round) */
  QBFT_BAD_COMMIT_SEAL: 'REJECT',
  /** the proposed block does not hash to the signed digest or the embedder refused it */
  QBFT_BAD_BLOCK: 'REJECT',
  /** the embedder could not validate the block (threw): not provably the sender's fault */
  QBFT_BLOCK_UNVERIFIABLE: 'IGNORE',
  QBFT_PAST_HEIGHT: 'IGNORE',
  /**
   * Beyond the future-height window. IGNORE rather than REJECT: honest peers ahead of a
   * lagging node send these all the time; the node needs sync, not fewer peers.
   */
  QBFT_FUTURE_HEIGHT: 'IGNORE',
  QBFT_OLD_ROUND: 'IGNORE',
  /** a PREPARE/COMMIT beyond the future-round window of the current height */
  QBFT_FUTURE_ROUND: 'IGNORE',
  QBFT_DUPLICATE: 'IGNORE',
  /** a second, different message of one kind by one validator for one (height, round) */
  QBFT_EQUIVOCATION: 'IGNORE',
  /** the future-message buffer of that height or author is full */
  QBFT_BUFFER_FULL: 'IGNORE',
  /** the height is already decided; only COMMITs are still accepted (late seals) */
  QBFT_HEIGHT_DECIDED: 'IGNORE',
  /** the engine is stopped or has no height yet */
  QBFT_NOT_RUNNING: 'IGNORE',
  /** a future-height message whose author is not in the only validator set we know yet */
  QBFT_UNKNOWN_AUTHOR: 'IGNORE',
} as const satisfies Record<QbftErrorCode, QbftAction>

export class QbftError extends SidechainError<QbftErrorCode> {
  override readonly name: string = 'QbftError'
  readonly action: QbftAction

  constructor(code: QbftErrorCode, message: string, options: SidechainErrorOptions = {}) {
    super(code, message, options)
    this.action = QBFT_ERROR_ACTIONS[code]
  }
}

/** Misuse of the engine by the embedding code (not a message problem). */
export type QbftUsageErrorCode = ErrorCodeOf<'qbftUsage'>

export class QbftUsageError extends SidechainError<QbftUsageErrorCode> {
  override readonly name: string = 'QbftUsageError'
}

export function isQbftError(err: unknown, code?: QbftErrorCode): err is QbftError {
  return err instanceof QbftError && (code === undefined || err.code === code)
}
