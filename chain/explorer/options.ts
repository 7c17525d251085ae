/** Options of `sidechain explorer`; defaults live here only. */
import { z } from 'zod'

export const explorerOptionsSchema = z
  .object({
    /** JSON-RPC of the node the explorer follows. */
    rpcUrl: z.url(),
    /** Folder of the explorer's own LevelDB index. */
    datadir: z.string().min(1),
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port. */
    port: z.number().int().min(0).max(65_535).default(8600),
    /** Name shown in page titles. */
    chainName: z.string().min(1).max(40).default('sidechain'),
    pollIntervalMs: z.number().int().min(50).max(60_000).default(250),
    fetchConcurrency: z.number().int().min(1).max(64).default(8),
    /** Extra solc-js compilers (`soljson-v<version>.js`) for contract verification. */
    compilersDir: z.string().min(1).optional(),
    /** The bridge page, linked from bridge transactions (`<url>#deposit:N`). */
    bridgeUiUrl: z.url().optional(),
    /** A validator counts as missing after this many blocks without a proposal or seal. */
    missingAfterBlocks: z.number().int().min(2).max(10_000).default(8),
    /** Largest request body (verification requests carry whole source trees). */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(8 * 1024 * 1024),
  })
  .strict()

export type ExplorerOptionsInput = z.input<typeof explorerOptionsSchema>
export type ExplorerOptions = z.output<typeof explorerOptionsSchema>
