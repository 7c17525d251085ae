import pino, { type Logger } from 'pino'
import { z } from 'zod'

export type { Logger }

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const logLevelSchema = z.enum(LOG_LEVELS).default('info')

export interface LoggerOptions {
  level?: LogLevel
  /** Human-readable output; defaults to "stdout is a terminal". */
  pretty?: boolean
  name?: string
}

/** JSON logs for machines, pretty ones on a terminal. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true
  const base = { level: logLevelSchema.parse(options.level), name: options.name, base: undefined }
  if (pretty) {
    return pino(
      base,
      pino.transport({
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l' },
      }),
    )
  }
  return pino(base, pino.destination({ dest: 1, sync: true }))
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
