import path from 'node:path'
import type { Command } from 'commander'
import { loadGenesisFile } from '../../genesis/load.ts'
import { keyFileIsExposed, readKeyFile } from '../config/keys.ts'
import { SidechainNode } from '../node.ts'
import { createLogger } from '../util/logger.ts'

export interface NodeCommandOptions {
  genesis: string
  datadir: string
  validatorKey?: string
  logLevel: string
}

/** Runs a node until SIGINT/SIGTERM, then stops it cleanly. */
export async function runNode(opts: NodeCommandOptions): Promise<void> {
  const genesis = loadGenesisFile(opts.genesis)
  const validatorKey = opts.validatorKey === undefined ? undefined : readKeyFile(opts.validatorKey)
  const logger = createLogger({ level: opts.logLevel })
  if (opts.validatorKey !== undefined && keyFileIsExposed(opts.validatorKey)) {
    logger.warn(
      { path: opts.validatorKey },
      'validator key file is readable by other users; chmod 600 it',
    )
  }
  const node = new SidechainNode(
    { genesis, datadir: path.resolve(opts.datadir), validatorKey },
    { logger },
  )
  await node.start()
  await new Promise<void>((resolve) => {
    let stopping = false
    const shutdown = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'shutting down')
      node.stop().then(resolve, (err) => {
        logger.error({ err: (err as Error).message }, 'error during shutdown')
        resolve()
      })
    }
    process.once('SIGINT', () => shutdown('SIGINT'))
    process.once('SIGTERM', () => shutdown('SIGTERM'))
  })
}

export function registerNodeCommand(program: Command): void {
  program
    .command('node')
    .description('run a sidechain node (a validator when --validator-key is given)')
    .requiredOption('--genesis <file>', 'genesis JSON file')
    .requiredOption('--datadir <dir>', 'folder for the chain database and node key')
    .option(
      '--validator-key <file>',
      'validator key file (JSON with privateKey), makes this node a validator',
    )
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'info')
    .action(async (opts: NodeCommandOptions) => {
      await runNode(opts)
    })
}
