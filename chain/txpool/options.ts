/**
 * Transaction pool limits and their defaults (NodeOptions.txpool), apart from the pool so
 * that the defaults live in one schema.
 */
import { z } from 'zod'

const positive = z.number().int().positive()

export const txpoolLimitsSchema = z
  .object({
    maxTransactions: positive.default(20_000),
    /**
     * Serialized bytes of all pooled transactions: the count alone would let 20,000
     * transactions of the largest size (GiBs) in.
     */
    maxBytes: positive.default(64 * 1024 * 1024),
    maxPerSender: positive.default(128),
    /** How far above the account nonce a queued tx may be. */
    maxNonceGap: positive.default(128),
    /** A replacement must raise both fee cap and tip by this percent. */
    priceBumpPercent: z.number().int().min(1).default(10),
  })
  .strict()

export type TxPoolLimitsInput = z.input<typeof txpoolLimitsSchema>
export type TxPoolLimits = z.output<typeof txpoolLimitsSchema>
