/** `sidechain explorer` and `sidechain faucet`: the developer services that follow a node over JSON-RPC. */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { explorerOptionsSchema } from '../explorer/options.ts'
import { faucetOptionsSchema } from '../faucet/options.ts'
import { loadKey } from '../lib/key-loader.ts'
import { createLogger, LOG_LEVELS, type LogLevel, logLevelSchema } from '../lib/logger.ts'
import { describeDefault, parseIntegerOption } from './options.ts'

interface ServiceFlags {
  rpc?: string
  network?: string
  datadir: string
  host?: string
  port?: number
  logLevel?: LogLevel
}

/** The RPC URL from --rpc, or the first sidechain RPC of a devnet.json given with --network. */
function rpcUrlOf(flags: ServiceFlags): string {
  if (flags.rpc !== undefined) return flags.rpc
  if (flags.network !== undefined) {
    const info = JSON.parse(readFileSync(flags.network, 'utf8')) as { l2?: { rpcUrls?: string[] } }
    const url = info.l2?.rpcUrls?.[0]
    if (url !== undefined) return url
    throw new InvalidArgumentError(`${flags.network} has no l2.rpcUrls`)
  }
  throw new InvalidArgumentError('give --rpc <url> or --network <devnet.json>')
}

async function runUntilSignal(
  service: { start(): Promise<void>; stop(): Promise<void>; url: string },
  what: string,
) {
  await service.start()
  process.stdout.write(`${what}: ${service.url}\n`)
  await new Promise<void>((resolve) => {
    const stop = () => {
      service.stop().then(resolve, resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

function addServiceOptions(
  command: Command,
  schema: typeof explorerOptionsSchema | typeof faucetOptionsSchema,
): Command {
  return command
    .option('--rpc <url>', 'JSON-RPC of the sidechain node to follow')
    .option('--network <file>', 'devnet.json (or a network file) to take the RPC URL from')
    .requiredOption('--datadir <dir>', 'folder for this service’s own data')
    .option('--host <host>', describeDefault('listen address', schema.shape.host))
    .option(
      '--port <port>',
      describeDefault('listen port (0 picks a free one)', schema.shape.port),
      parseIntegerOption('--port', 0, 65_535),
    )
    .addOption(
      new Option('--log-level <level>', describeDefault('log level', logLevelSchema)).choices(
        LOG_LEVELS,
      ),
    )
}

export function registerExplorerCommands(program: Command): void {
  addServiceOptions(
    program
      .command('explorer')
      .description(
        'index a sidechain into a local LevelDB and serve the explorer pages, its JSON API and contract verification',
      )
      .option(
        '--compilers-dir <dir>',
        'folder of extra solc-js compilers (soljson-v<version>.js) for verification',
      )
      .option('--bridge-ui-url <url>', 'the bridge page, linked from bridge transactions'),
    explorerOptionsSchema,
  ).action(async (flags: ServiceFlags & { compilersDir?: string; bridgeUiUrl?: string }) => {
    const { Explorer } = await import('../explorer/explorer.ts')
    const explorer = new Explorer(
      {
        rpcUrl: rpcUrlOf(flags),
        datadir: path.resolve(flags.datadir),
        host: flags.host,
        port: flags.port,
        compilersDir:
          flags.compilersDir === undefined ? undefined : path.resolve(flags.compilersDir),
        bridgeUiUrl: flags.bridgeUiUrl,
      },
      { logger: createLogger({ level: flags.logLevel }) },
    )
    await runUntilSignal(explorer, 'explorer')
  })

  addServiceOptions(
    program
      .command('faucet')
      .description(
        'serve a faucet page and POST /api/claim that send native coin from a funded key',
      )
      .requiredOption(
        '--key-file <file>',
        'keystore (or, with --insecure-key, plain key file) of the funded account the faucet pays from',
      )
      .option(
        '--password-file <file>',
        'file whose first line is the keystore password (else SIDECHAIN_KEY_PASSWORD or a prompt)',
      )
      .option('--insecure-key', 'accept a plain-text key file')
      .option(
        '--amount <wei>',
        describeDefault('native coin per claim, in wei', faucetOptionsSchema.shape.amountWei),
      )
      .option('--explorer-url <url>', 'explorer to link transactions to')
      .option(
        '--trusted-proxy-hops <n>',
        describeDefault(
          'reverse proxies that append to X-Forwarded-For',
          faucetOptionsSchema.shape.trustedProxyHops,
        ),
        parseIntegerOption('--trusted-proxy-hops', 0, 10),
      ),
    faucetOptionsSchema,
  ).action(
    async (
      flags: ServiceFlags & {
        keyFile: string
        passwordFile?: string
        insecureKey?: boolean
        amount?: string
        explorerUrl?: string
        trustedProxyHops?: number
      },
    ) => {
      const { Faucet } = await import('../faucet/faucet.ts')
      const key = await loadKey(flags.keyFile, {
        passwordFile: flags.passwordFile,
        insecureKey: flags.insecureKey,
        insecureFlag: '--insecure-key',
      })
      const faucet = new Faucet(
        {
          rpcUrl: rpcUrlOf(flags),
          datadir: path.resolve(flags.datadir),
          host: flags.host,
          port: flags.port,
          amountWei: flags.amount,
          explorerUrl: flags.explorerUrl,
          trustedProxyHops: flags.trustedProxyHops,
        },
        {
          logger: createLogger({ level: flags.logLevel }),
          privateKey: `0x${Buffer.from(key.privateKey).toString('hex')}`,
        },
      )
      await runUntilSignal(faucet, 'faucet')
    },
  )
}
