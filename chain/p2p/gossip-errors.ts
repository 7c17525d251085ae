/**
 * What a gossip validation function says about a message (Lodestar style): it returns
 * normally to ACCEPT, or throws an error carrying an action:
 *
 * - IGNORE: maybe valid but useless now (duplicate, unknown parent, not decidable yet,
 *   queue full). Not forwarded, no penalty.
 * - REJECT: provably invalid. Not forwarded, and the relaying peer is penalized through
 *   gossipsub scoring (and disconnected once its score falls below the threshold).
 *
 * Any error with an `action` property of 'IGNORE' | 'REJECT' counts (the QBFT engine's
 * QbftError has one), so rule modules need not import this file. Errors without an action
 * are treated as IGNORE: a bug of ours must not get honest peers banned.
 */
import { type ErrorCode, SidechainError, type SidechainErrorOptions } from '../lib/errors.ts'

export type GossipAction = 'IGNORE' | 'REJECT'
export type GossipVerdict = 'ACCEPT' | GossipAction

export class GossipValidationError<
  Code extends ErrorCode = ErrorCode,
> extends SidechainError<Code> {
  override readonly name: string = 'GossipValidationError'
  readonly action: GossipAction

  constructor(
    action: GossipAction,
    code: Code,
    message: string,
    options: SidechainErrorOptions = {},
  ) {
    super(code, message, options)
    this.action = action
  }
}

/** The action an error carries, or undefined for errors that carry none. */
export function gossipActionOf(err: unknown): GossipAction | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const action = (err as { action?: unknown }).action
  return action === 'IGNORE' || action === 'REJECT' ? action : undefined
}
