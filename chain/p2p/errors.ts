/**
 * Errors of the p2p layer: options and lifecycle, framing and messages, and req/resp
 * outcomes. Each file narrows the code type to the codes it raises (FramingErrorCode,
 * ReqRespErrorCode...); gossip verdicts are GossipValidationError (gossip-errors.ts).
 */
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'

export type P2PErrorCode = ErrorCodeOf<'p2p'>

export class P2PError<Code extends P2PErrorCode = P2PErrorCode> extends SidechainError<Code> {
  override readonly name: string = 'P2PError'
}
