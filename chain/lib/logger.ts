import pino, { type Logger } from 'pino'

export type { Logger }

export interface LoggerOptions {
  level?: string
  /** Human-readable output; defaults to "stdout is a terminal". */
  pretty?: boolean
  name?: string
}

/** JSON logs for machines, pretty ones on a terminal. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true
  const base = { level: options.level ?? 'info', name: options.name, base: undefined }
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
