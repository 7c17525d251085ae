/**
 * Consensus memory limits a validator operator may tune (NodeOptions.consensus). The
 * defaults are the engine's (chain/consensus/qbft/engine.ts), so the pure rules and the
 * node agree without a second copy.
 */
import { z } from 'zod'
import { DEFAULT_QBFT_OPTIONS } from '../consensus/qbft/index.ts'

const positive = z.number().int().positive()
const defaults = DEFAULT_QBFT_OPTIONS.bufferLimits

export const consensusLimitsSchema = z
  .object({
    /** Messages buffered for one future height (all authors) and per author. */
    futureMessagesPerHeight: positive.default(defaults.perHeight),
    futureMessagesPerAuthor: positive.default(defaults.perAuthor),
    /** Bytes one validator may have buffered over all future heights. */
    futureBytesPerAuthor: positive.default(defaults.perAuthorBytes),
    /** Bytes buffered over all future heights and authors. */
    futureBytes: positive.default(defaults.totalBytes),
  })
  .strict()

export type ConsensusLimitsInput = z.input<typeof consensusLimitsSchema>
export type ConsensusLimits = z.output<typeof consensusLimitsSchema>
