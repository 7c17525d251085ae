/**
 * Options of the metrics server and their defaults, apart from the server so that the CLI
 * can read the defaults for `--help` without loading prom-client.
 */
import { z } from 'zod'

export const metricsOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** Prometheus `/metrics`, `/health` and `/ready`; 0 picks a free port. */
    port: z.number().int().min(0).max(65_535),
  })
  .strict()

export type MetricsOptionsInput = z.input<typeof metricsOptionsSchema>
export type MetricsOptions = z.output<typeof metricsOptionsSchema>
