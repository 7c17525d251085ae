import path from 'node:path'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { loadGenesisFile } from '../../genesis/load.ts'
import { KEY_PASSWORD_ENV, KEY_PASSWORD_FILE_ENV, loadKey } from '../lib/key-loader.ts'
import { keyFileIsExposed } from '../lib/keys.ts'
import { createLogger, LOG_LEVELS, type LogLevel, logLevelSchema } from '../lib/logger.ts'
import { SignerError, Web3SignerClient } from '../lib/signer.ts'
import { metricsOptionsSchema } from '../metrics/options.ts'
import { p2pOptionsSchema } from '../p2p/options.ts'
import {
  DEFAULT_RPC_APIS,
  RPC_NAMESPACES,
  type RpcNamespace,
  rpcOptionsSchema,
} from '../rpc/options.ts'
import type { ValidatorKey } from '../validator/engine.ts'
import { describeDefault, parseIntegerOption } from './options.ts'

export interface NodeCommandOptions {
  genesis: string
  datadir: string
  validatorKey?: string
  /** The keystore's password: first line of this file (else the environment, else a prompt). */
  passwordFile?: string
  /** Accept a plain-text validator key file. */
  insecureKey?: boolean
  /** A Web3Signer-compatible remote signer holding the key of `validatorAddress`. */
  signerUrl?: string
  validatorAddress?: string
  logLevel?: LogLevel
  /** JSON-RPC (HTTP + WebSocket on one port); `rpc: false` (--no-rpc) turns it off. */
  rpc?: boolean
  rpcPort?: number
  rpcHost?: string
  rpcCors?: string[]
  /** Namespaces served on the RPC port (`--rpc-api eth,net,web3,qbft`). */
  rpcApi?: RpcNamespace[]
  /** libp2p listen port and address, and the peers dialed at start. */
  p2pPort?: number
  p2pHost?: string
  bootnodes?: string[]
  /** Prometheus metrics port (with /health and /ready); off unless given. */
  metricsPort?: number
  metricsHost?: string
  /** Fault hooks for the e2e harness on 127.0.0.1:<port> (test-hooks.ts); loopback-only nodes. */
  testHooks?: number
}

const BOOTNODE_RE =
  /^\/(?:ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}(?:\/p2p\/([1-9A-HJ-NP-Za-km-z]+))?$/

/** `--bootnodes` takes comma-separated multiaddrs, each with its /p2p/<peer id>. */
export function parseBootnodesOption(value: string): string[] {
  const addresses = value
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a.length > 0)
  for (const address of addresses) {
    // A shape check only (the p2p layer parses for real at start): keeping libp2p out of
    // flag parsing keeps every command's start-up fast.
    const match = BOOTNODE_RE.exec(address)
    if (!/^\/(?:ip4|ip6|dns4|dns6|dns)\//.test(address) || match === null) {
      throw new InvalidArgumentError(
        `${address} is not a multiaddr like /ip4/1.2.3.4/tcp/30303/p2p/<peer id>`,
      )
    }
    if (match[1] === undefined) throw new InvalidArgumentError(`${address} has no /p2p/<peer id>`)
  }
  return addresses
}

/** Adds the p2p flags shared by `node` and `devnet`. */
export function addP2POptions(command: Command): Command {
  return command
    .option(
      '--p2p-port <port>',
      describeDefault('libp2p TCP port (0 picks a free one)', p2pOptionsSchema.shape.port),
      parseIntegerOption('--p2p-port', 0, 65_535),
    )
    .option(
      '--p2p-host <host>',
      describeDefault(
        'libp2p listen address (0.0.0.0 opens it to the network)',
        p2pOptionsSchema.shape.host,
      ),
    )
    .option(
      '--bootnodes <multiaddrs>',
      'peers to connect to, comma-separated /ip4/.../tcp/.../p2p/<id>',
      parseBootnodesOption,
    )
}

/** `--rpc-cors` takes a comma-separated list of origins, or '*'. */
export function parseCorsOption(value: string): string[] {
  const origins = value
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0)
  for (const origin of origins) {
    if (origin !== '*' && !/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(origin)) {
      throw new InvalidArgumentError(`${origin} is not an origin (scheme://host[:port]) or *`)
    }
  }
  return origins
}

/** `--rpc-api` takes a comma-separated list of namespaces (geth's --http.api). */
export function parseRpcApiOption(value: string): RpcNamespace[] {
  const names = value
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n.length > 0)
  for (const name of names) {
    if (!(RPC_NAMESPACES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(
        `${name} is not an RPC namespace; choose from ${RPC_NAMESPACES.join(',')}`,
      )
    }
  }
  return names as RpcNamespace[]
}

/** Adds the JSON-RPC flags shared by `node` and `devnet`. */
export function addRpcOptions(command: Command): Command {
  const fields = rpcOptionsSchema.shape
  return command
    .option(
      '--rpc-port <port>',
      describeDefault('JSON-RPC port (HTTP and WebSocket)', fields.port),
      parseIntegerOption('--rpc-port', 0, 65_535),
    )
    .option(
      '--rpc-host <host>',
      describeDefault('JSON-RPC listen address (0.0.0.0 opens it to the network)', fields.host),
    )
    .option(
      '--rpc-cors <origins>',
      describeDefault(
        'browser origins allowed to call the RPC, comma-separated, or *',
        fields.corsOrigins,
      ),
      parseCorsOption,
    )
    .option(
      '--rpc-api <namespaces>',
      `namespaces served, comma-separated, from ${RPC_NAMESPACES.join(',')} (default: ${DEFAULT_RPC_APIS.join(',')}; qbft votes, admin and debug only when named)`,
      parseRpcApiOption,
    )
    .option('--no-rpc', 'do not serve JSON-RPC')
}

/** Adds the metrics flags (Prometheus, /health, /ready). */
export function addMetricsOptions(command: Command): Command {
  return command
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics, /health and /ready on this port',
      parseIntegerOption('--metrics-port', 0, 65_535),
    )
    .option(
      '--metrics-host <host>',
      describeDefault('metrics listen address', metricsOptionsSchema.shape.host),
    )
}

/** The validator's key (a keystore, a plain key file with --insecure-key) or remote signer. */
async function validatorKeyOf(opts: NodeCommandOptions): Promise<ValidatorKey | undefined> {
  if (opts.signerUrl !== undefined) {
    if (opts.validatorKey !== undefined || opts.validatorAddress === undefined) {
      throw new SignerError(
        'SIGNER_URL_INVALID',
        '--signer-url needs --validator-address (the key the signer must hold) and no --validator-key',
      )
    }
    return await Web3SignerClient.connect({ url: opts.signerUrl, address: opts.validatorAddress })
  }
  if (opts.validatorAddress !== undefined) {
    throw new SignerError('SIGNER_URL_INVALID', '--validator-address goes with --signer-url')
  }
  if (opts.validatorKey === undefined) return undefined
  return await loadKey(opts.validatorKey, {
    passwordFile: opts.passwordFile,
    insecureKey: opts.insecureKey,
    insecureFlag: '--insecure-key',
  })
}

/** Runs a node until SIGINT/SIGTERM, then stops it cleanly. */
export async function runNode(opts: NodeCommandOptions): Promise<void> {
  // Refused before anything is read or opened.
  const hooks = opts.testHooks === undefined ? undefined : await loadTestHooks(opts)
  const genesis = loadGenesisFile(opts.genesis)
  // Before anything touches the datadir: a wrong password, a refused key or a signer that
  // does not hold the expected key writes nothing.
  const validatorKey = await validatorKeyOf(opts)
  const logger = createLogger({ level: opts.logLevel })
  if (opts.insecureKey === true && validatorKey !== undefined) {
    logger.warn(
      { path: opts.validatorKey },
      'INSECURE: validator key accepted from a plain-text file (--insecure-key); use a keystore in production',
    )
  }
  if (opts.validatorKey !== undefined && keyFileIsExposed(opts.validatorKey)) {
    logger.warn(
      { path: opts.validatorKey },
      'validator key file is readable by other users; chmod 600 it',
    )
  }
  // Absent flags stay undefined: each component's schema applies its own default.
  const rpc =
    opts.rpc === false
      ? undefined
      : { host: opts.rpcHost, port: opts.rpcPort, corsOrigins: opts.rpcCors, apis: opts.rpcApi }
  // Loaded on demand: the node pulls in libp2p and ethereumjs, which other commands
  // (bridge, genesis, --help) should not pay for at start-up.
  const { SidechainNode } = await import('../node.ts')
  const node = new SidechainNode(
    {
      genesis,
      datadir: path.resolve(opts.datadir),
      validatorKey,
      rpc,
      metrics:
        opts.metricsPort === undefined
          ? undefined
          : { host: opts.metricsHost, port: opts.metricsPort },
      p2p: { host: opts.p2pHost, port: opts.p2pPort, bootnodes: opts.bootnodes },
    },
    { logger, ...(hooks === undefined ? {} : { scheduler: hooks.scheduler }) },
  )
  await node.start()
  if (hooks !== undefined) {
    await hooks.listen(node, opts.testHooks!)
    logger.warn(
      { port: opts.testHooks },
      'test hooks are on (partition, clock offset): for tests only',
    )
  }
  await new Promise<void>((resolve) => {
    let stopping = false
    const shutdown = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'shutting down')
      void hooks?.close()
      node.stop().then(resolve, (err) => {
        logger.error({ err }, 'error during shutdown')
        resolve()
      })
    }
    process.once('SIGINT', () => shutdown('SIGINT'))
    process.once('SIGTERM', () => shutdown('SIGTERM'))
  })
}

async function loadTestHooks(opts: NodeCommandOptions) {
  const { checkTestHooksAllowed, createTestHooks } = await import('./test-hooks.ts')
  // Each listener's schema default is loopback; only an explicit other host is refused.
  checkTestHooksAllowed({
    '--rpc-host': opts.rpcHost,
    '--p2p-host': opts.p2pHost,
    '--metrics-host': opts.metricsHost,
  })
  return createTestHooks()
}

export function registerNodeCommand(program: Command): void {
  const command = program
    .command('node')
    .description('run a sidechain node (a validator when --validator-key is given)')
    .requiredOption('--genesis <file>', 'genesis JSON file')
    .requiredOption('--datadir <dir>', 'folder for the chain database and node key')
    .option(
      '--validator-key <file>',
      'validator keystore (V3, as `sidechain account new` or `cast wallet new` write), makes this node a validator',
    )
    .option(
      '--password-file <file>',
      `file whose first line is the keystore password (else ${KEY_PASSWORD_ENV}, ${KEY_PASSWORD_FILE_ENV}, or a prompt on a terminal)`,
    )
    .option(
      '--signer-url <url>',
      'remote signer speaking the Web3Signer eth1 API (http(s)://host:port): the validator key stays there',
    )
    .option(
      '--validator-address <address>',
      'with --signer-url: the validator address whose key the signer must hold',
    )
    .option(
      '--insecure-key',
      'accept a plain-text validator key file ({"privateKey": ...}): devnets and tests only',
    )
    .addOption(
      new Option('--log-level <level>', describeDefault('log level', logLevelSchema)).choices(
        LOG_LEVELS,
      ),
    )
  command.addOption(
    new Option(
      '--test-hooks <port>',
      'fault hooks for the e2e tests on 127.0.0.1:<port> (partition, clock offset); refused unless every listener is on loopback',
    )
      .argParser(parseIntegerOption('--test-hooks', 1, 65_535))
      .hideHelp(),
  )
  addMetricsOptions(addP2POptions(addRpcOptions(command))).action(
    async (opts: NodeCommandOptions) => {
      await runNode(opts)
    },
  )
}
