/**
 * Options of the metrics server and their defaults, apart from the server so that the CLI
 * can read the defaults for `--help` without loading prom-client.
 */
import { z } from 'zod'
import { nodeHealthOptionsSchema } from './node-health.ts'

export const metricsOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** Prometheus `/metrics`, `/health` and `/ready`; 0 picks a free port. */
    port: z.number().int().min(0).max(65_535),
    /** When /health and /ready turn unhealthy (node-health.ts has the defaults). */
    health: nodeHealthOptionsSchema.prefault({}),
  })
  .strict()

export type MetricsOptionsInput = z.input<typeof metricsOptionsSchema>
export type MetricsOptions = z.output<typeof metricsOptionsSchema>
