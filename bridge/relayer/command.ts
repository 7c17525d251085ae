/**
 * `sidechain relayer --config FILE`: runs one relayer until SIGINT/SIGTERM, then stops it cleanly (in-flight
 * actions finish or are abandoned at a safe point; the journal and the contracts make a restart pick them up).
 */
import { type Command, Option } from 'commander'
import { bytesToHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadKey } from '../../chain/lib/key-loader.ts'
import { keyFileIsExposed } from '../../chain/lib/keys.ts'
import { createLogger, LOG_LEVELS, type LogLevel } from '../../chain/lib/logger.ts'
import { loadRelayerConfig } from './config.ts'

export function registerRelayerCommand(program: Command): void {
  program
    .command('relayer')
    .description('run a bridge relayer: one process per relayer key (see README, "Bridge")')
    .requiredOption('--config <file>', 'relayer config JSON file')
    .addOption(
      new Option('--log-level <level>', 'log level (overrides the config)').choices(LOG_LEVELS),
    )
    .option('--insecure-key', 'accept a plain-text key file (as the config field insecureKey)')
    .action(async (opts: { config: string; logLevel?: LogLevel; insecureKey?: boolean }) => {
      const config = loadRelayerConfig(opts.config)
      const insecureKey = opts.insecureKey === true || config.relayer.insecureKey
      // Before the journal or the metrics port is touched: a refused key starts nothing.
      const key = await loadKey(config.relayer.keyFile, {
        passwordFile: config.relayer.passwordFile,
        insecureKey,
        insecureFlag: '--insecure-key (or "insecureKey": true in the relayer config)',
      })
      const logger = createLogger({ level: opts.logLevel ?? config.logLevel, name: 'relayer' })
      if (insecureKey) {
        logger.warn(
          { path: config.relayer.keyFile },
          'INSECURE: relayer key accepted from a plain-text file (insecureKey); use a keystore in production',
        )
      }
      if (keyFileIsExposed(config.relayer.keyFile)) {
        logger.warn(
          { path: config.relayer.keyFile },
          'relayer key file is readable by other users; chmod 600 it',
        )
      }
      const { Relayer } = await import('./relayer.ts')
      const account = privateKeyToAccount(bytesToHex(key.privateKey))
      const relayer = new Relayer(config, { logger, account })
      let stopRequested = false
      const stopped = new Promise<void>((resolve) => {
        const onSignal = (signal: string) => {
          if (stopRequested) return
          stopRequested = true
          logger.info({ signal }, 'shutting down')
          relayer.stop().then(resolve, (err: unknown) => {
            logger.error({ err }, 'error during shutdown')
            resolve()
          })
        }
        process.once('SIGINT', () => onSignal('SIGINT'))
        process.once('SIGTERM', () => onSignal('SIGTERM'))
      })
      try {
        await relayer.start()
      } catch (err) {
        // A signal during start (e.g. while waiting for the chains) is a normal stop, not a failure.
        if (!stopRequested) throw err
      }
      await stopped
    })
}
