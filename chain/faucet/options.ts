/** Options of `sidechain faucet`; defaults live here only. */
import { z } from 'zod'

const weiString = z.string().regex(/^\d+$/, 'an amount in wei (decimal digits)')

export const faucetOptionsSchema = z
  .object({
    rpcUrl: z.url(),
    /** Where the request windows are kept across restarts. */
    datadir: z.string().min(1),
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port. */
    port: z.number().int().min(0).max(65_535).default(8700),
    chainName: z.string().min(1).max(40).default('sidechain'),
    /** Native coin per request. */
    amountWei: weiString.default('1000000000000000000'),
    /** A test token sent with the coin, where the network has one. */
    token: z
      .object({
        address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
        symbol: z.string().min(1).max(16),
        amount: weiString,
      })
      .strict()
      .optional(),
    /** One grant per address per window. */
    addressWindowMs: z
      .number()
      .int()
      .min(1000)
      .default(24 * 60 * 60 * 1000),
    /** Grants per client IP per window. */
    ipWindowMs: z
      .number()
      .int()
      .min(1000)
      .default(60 * 60 * 1000),
    maxPerIpPerWindow: z.number().int().min(1).max(10_000).default(5),
    /**
     * Reverse proxies in front of the faucet that append to X-Forwarded-For. 0 (the default)
     * ignores the header: a client could put any address in it.
     */
    trustedProxyHops: z.number().int().min(0).max(10).default(0),
    /** Links to the explorer's transaction page. */
    explorerUrl: z.url().optional(),
  })
  .strict()

export type FaucetOptionsInput = z.input<typeof faucetOptionsSchema>
export type FaucetOptions = z.output<typeof faucetOptionsSchema>
