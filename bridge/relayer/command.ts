/**
 * `sidechain relayer --config FILE`: runs one relayer until SIGINT/SIGTERM, then stops it cleanly (in-flight
 * actions finish or are abandoned at a safe point; the journal and the contracts make a restart pick them up).
 */
import { type Command, Option } from 'commander'
import { bytesToHex } from 'viem'
import { type LocalAccount, privateKeyToAccount } from 'viem/accounts'
import { loadKey } from '../../chain/lib/key-loader.ts'
import { keyFileIsExposed } from '../../chain/lib/keys.ts'
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../../chain/lib/logger.ts'
import { Web3SignerClient } from '../../chain/lib/signer.ts'
import { loadRelayerConfig, type RelayerConfig } from './config.ts'
import { remoteAccount } from './remote-account.ts'

/** The relayer's account: from a remote signer, or a keystore (a plain key with insecureKey). */
async function relayerAccount(
  config: RelayerConfig,
  insecureKey: boolean,
  logger: Logger,
): Promise<LocalAccount> {
  const { keyFile, signerUrl, address } = config.relayer
  if (signerUrl !== undefined && address !== undefined) {
    const signer = await Web3SignerClient.connect({ url: signerUrl, address })
    logger.info({ signer: signerUrl, address }, 'relayer signs through a remote signer')
    return remoteAccount(signer)
  }
  const file = keyFile as string
  const key = await loadKey(file, {
    passwordFile: config.relayer.passwordFile,
    insecureKey,
    insecureFlag: '--insecure-key (or "insecureKey": true in the relayer config)',
  })
  if (insecureKey) {
    logger.warn(
      { path: file },
      'INSECURE: relayer key accepted from a plain-text file (insecureKey); use a keystore in production',
    )
  }
  if (keyFileIsExposed(file)) {
    logger.warn({ path: file }, 'relayer key file is readable by other users; chmod 600 it')
  }
  return privateKeyToAccount(bytesToHex(key.privateKey))
}

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
      const logger = createLogger({ level: opts.logLevel ?? config.logLevel, name: 'relayer' })
      // Before the journal or the metrics port is touched: a refused key starts nothing.
      const account = await relayerAccount(config, insecureKey, logger)
      const { Relayer } = await import('./relayer.ts')
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
