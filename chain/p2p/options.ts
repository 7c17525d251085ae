/**
 * libp2p networking options and their defaults, apart from the service so that the CLI can
 * read the defaults for `--help` without loading libp2p.
 */
import { z } from 'zod'

const rateLimitSchema = z.object({
  capacity: z.number().positive(),
  refillPerSecond: z.number().positive(),
})

export const p2pOptionsSchema = z
  .object({
    /** File holding the node key (created on first start); the peer id derives from it. */
    nodeKeyFile: z.string().min(1),
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port; 0 picks a free one (tests). */
    port: z.number().int().min(0).max(65_535).default(30303),
    /** Multiaddrs to advertise instead of the listen address. */
    announce: z.array(z.string()).default([]),
    /** Multiaddrs (with /p2p/<peer id>) dialed at start and redialed while disconnected. */
    bootnodes: z.array(z.string()).default([]),
    maxPeers: z.number().int().min(1).default(50),
    dialTimeoutMs: z.number().int().positive().default(5_000),
    gossip: z
      .object({
        heartbeatMs: z.number().int().min(100).default(700),
        /**
         * Cap on one gossipsub RPC frame; must exceed the largest topic cap by 64 KiB (the
         * consensus topic allows 16 MiB proposals).
         */
        maxRpcBytes: z
          .number()
          .int()
          .positive()
          .default(17 * 1024 * 1024),
      })
      .prefault({}),
    scoring: z
      .object({
        /** Peers whose score falls below this are disconnected and banned. */
        disconnectScore: z.number().max(0).default(-1000),
        gossipThreshold: z.number().max(0).default(-500),
        publishThreshold: z.number().max(0).default(-1000),
        graylistThreshold: z.number().max(0).default(-2000),
        banMs: z
          .number()
          .int()
          .positive()
          .default(10 * 60_000),
        retainScoreMs: z
          .number()
          .int()
          .positive()
          .default(10 * 60_000),
        appScoreHalfLifeMs: z
          .number()
          .int()
          .positive()
          .default(5 * 60_000),
      })
      .prefault({}),
    reqresp: z
      .object({
        requestTimeoutMs: z.number().int().positive().default(10_000),
        statusIntervalMs: z.number().int().positive().default(15_000),
        maxBlocksPerRequest: z.number().int().min(1).max(1024).default(128),
        maxBlockChunkBytes: z
          .number()
          .int()
          .positive()
          .default(10 * 1024 * 1024),
        maxResponseBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 * 1024),
        maxConcurrentStreams: z.number().int().min(1).default(8),
        statusRateLimit: rateLimitSchema.default({ capacity: 16, refillPerSecond: 2 }),
        blocksRateLimit: rateLimitSchema.default({ capacity: 2048, refillPerSecond: 512 }),
      })
      .prefault({}),
    bootnodeRedialMs: z.number().int().positive().default(5_000),
  })
  .strict()

export type P2POptionsInput = z.input<typeof p2pOptionsSchema>
export type P2POptions = z.output<typeof p2pOptionsSchema>
