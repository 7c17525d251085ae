/**
 * `sidechain devnet` (what `npm start` runs): the whole system on loopback under one folder, resumed on the next
 * start. The work happens in chain/devnet/; this file only maps flags and signals and prints.
 */
import path from 'node:path'
import { type Command, InvalidArgumentError } from 'commander'
import { NetworkSetupError } from '../devnet/errors.ts'
import { DEFAULTS } from '../devnet/layout.ts'
import type { ProcessStatus, SupervisorEvent } from '../devnet/supervisor.ts'
import { errorMessage, isSidechainError } from '../lib/errors.ts'
import { resolvePassword } from '../lib/key-loader.ts'
import { readKeyFile } from '../lib/keys.ts'
import { LIGHT_SCRYPT, STANDARD_SCRYPT } from '../lib/keystore.ts'
import { parseIntegerOption } from './options.ts'

/** The well-known dev accounts, funded on both chains of the devnet. */
export { DEV_ACCOUNTS } from '../devnet/accounts.ts'

export interface DevnetCommandOptions {
  datadir: string
  fresh?: boolean
  validators?: number
  relayers?: number
  threshold?: number
  blockTime?: number
  rpcPort?: number
  p2pPort?: number
  l1Port?: number
  validatorMetricsPort?: number
  relayerMetricsPort?: number
  explorerPort?: number
  faucetPort?: number
  uiPort?: number
  logLevel?: string
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Registers `devnet` (the local devnet) and `network init|deploy` (the same topology on several hosts). */
export function registerDevnetCommand(program: Command): void {
  registerLocalDevnet(program)
  registerNetworkCommands(program)
}

function registerLocalDevnet(program: Command): void {
  const port = (name: string) => parseIntegerOption(name, 0, 65_535)
  const devnet = program.command('devnet')
  devnet
    .description(
      'run a local devnet: anvil L1 with the bridge vault, N validator processes, the sidechain bridge and R relayers (resumes the data in --datadir unless --fresh)',
    )
    .option('--datadir <dir>', 'devnet folder', '.devnet')
    .option('--fresh', 'delete the devnet folder first and start a new devnet')
    .option(
      '--validators <n>',
      `number of validators (default: ${DEFAULTS.validators})`,
      parseIntegerOption('--validators', 1, 16),
    )
    .option(
      '--relayers <n>',
      `number of bridge relayers (default: ${DEFAULTS.relayers})`,
      parseIntegerOption('--relayers', 1, 16),
    )
    .option(
      '--threshold <m>',
      `relayer signatures needed to mint or release (default: ${DEFAULTS.threshold})`,
      parseIntegerOption('--threshold', 1, 16),
    )
    .option(
      '--block-time <ms>',
      `sidechain block period in milliseconds (default: ${DEFAULTS.blockTimeMs})`,
      parseIntegerOption('--block-time', 100, 60_000),
    )
    .option(
      '--rpc-port <port>',
      `first validator's JSON-RPC port, the others follow; 0 picks free ports (default: ${DEFAULTS.rpcPort})`,
      port('--rpc-port'),
    )
    .option(
      '--p2p-port <port>',
      `first validator's libp2p port, the others follow; 0 picks free ports (default: ${DEFAULTS.p2pPort})`,
      port('--p2p-port'),
    )
    .option(
      '--l1-port <port>',
      `anvil's port; 0 picks a free one (default: ${DEFAULTS.l1Port})`,
      port('--l1-port'),
    )
    .option(
      '--validator-metrics-port <port>',
      `first validator's metrics port (Prometheus, /health, /ready), the others follow; 0 picks free ports (default: ${DEFAULTS.validatorMetricsPort})`,
      port('--validator-metrics-port'),
    )
    .option(
      '--relayer-metrics-port <port>',
      `first relayer's metrics port, the others follow; 0 picks free ports (default: ${DEFAULTS.relayerMetricsPort})`,
      port('--relayer-metrics-port'),
    )
    .option(
      '--explorer-port <port>',
      `the explorer's port; 0 picks a free one (default: ${DEFAULTS.explorerPort})`,
      port('--explorer-port'),
    )
    .option(
      '--faucet-port <port>',
      `the faucet's port; 0 picks a free one (default: ${DEFAULTS.faucetPort})`,
      port('--faucet-port'),
    )
    .option(
      '--ui-port <port>',
      `port of the bridge web app; 0 picks a free one (default: ${DEFAULTS.uiPort})`,
      port('--ui-port'),
    )
    .option(
      '--log-level <level>',
      `log level of nodes and relayers: trace|debug|info|warn|error (default: ${DEFAULTS.logLevel})`,
    )
    .action(async (opts: DevnetCommandOptions) => {
      await runDevnet(opts)
    })
  registerDevnetControl(devnet)
}

const CONTROL_HELP: Record<string, string> = {
  stop: 'stop one process of the running devnet (it stays stopped until `devnet start <name>`)',
  start: 'start a stopped (or given-up) process of the running devnet again',
  pause:
    'freeze one process of the running devnet (SIGSTOP): its sockets stay open, it answers nothing',
  resume: 'let a paused process run again (SIGCONT)',
}

/**
 * `devnet stop|start|pause|resume <name>` and `devnet status`: one process of the devnet running from --datadir,
 * over its control channel (chain/devnet/control.ts). --datadir is the parent's option, so it may come before or
 * after the subcommand.
 */
function registerDevnetControl(devnet: Command): void {
  const datadirOf = (command: Command) =>
    (command.parent?.opts() as { datadir?: string } | undefined)?.datadir ?? '.devnet'
  for (const action of ['stop', 'start', 'pause', 'resume'] as const) {
    devnet
      .command(`${action} <name>`)
      .description(`${CONTROL_HELP[action]}; names: anvil, validator-<i>, relayer-<i>`)
      .action(async (name: string, _opts: unknown, command: Command) => {
        const { controlRequest } = await import('../devnet/control.ts')
        const { devnetLayout } = await import('../devnet/layout.ts')
        const layout = devnetLayout(path.resolve(datadirOf(command)))
        const { process: status } = await controlRequest(
          layout,
          'POST',
          `/processes/${encodeURIComponent(name)}/${action}`,
        )
        process.stdout.write(`${formatStatus(status!)}\n`)
      })
  }
  devnet
    .command('status')
    .description('list the processes of the running devnet: state, pid, restarts, log')
    .action(async (_opts: unknown, command: Command) => {
      const { controlRequest } = await import('../devnet/control.ts')
      const { devnetLayout } = await import('../devnet/layout.ts')
      const layout = devnetLayout(path.resolve(datadirOf(command)))
      const { processes } = await controlRequest(layout, 'GET', '/processes')
      for (const p of processes ?? []) process.stdout.write(`${formatStatus(p)}\n`)
    })
}

function formatStatus(p: ProcessStatus): string {
  const pid = p.pid === null ? '' : ` pid ${p.pid}`
  const restarts = p.restarts > 0 ? `, ${p.restarts} restart${p.restarts > 1 ? 's' : ''}` : ''
  return `${p.name.padEnd(12)} ${p.state}${pid}${restarts}  log ${p.logFile}`
}

/** One line per supervisor event: what the operator needs to know while the devnet runs. */
function formatProcessEvent(event: SupervisorEvent): { line: string; loud: boolean } {
  switch (event.type) {
    case 'exited': {
      const how =
        event.exit.signal !== null
          ? `was killed by ${event.exit.signal}`
          : `exited with code ${event.exit.code}`
      const tail =
        event.logTail === ''
          ? ''
          : `\n${event.logTail
              .split('\n')
              .map((l) => `  | ${l.length > 300 ? `${l.slice(0, 297)}...` : l}`)
              .join('\n')}`
      return { line: `${event.name} ${how}; its log is ${event.logFile}${tail}`, loud: true }
    }
    case 'restarting':
      return {
        line: `${event.name}: restart #${event.attempt} in ${(event.inMs / 1000).toFixed(1)} s; the rest keeps running`,
        loud: false,
      }
    case 'started':
      return {
        line: event.restart ? `${event.name} started again (pid ${event.pid})` : '',
        loud: false,
      }
    case 'gave-up':
      return {
        line: `!!! ${event.name} is left STOPPED: ${event.reason}. Its log is ${event.logFile}. The rest keeps running; \`npx sidechain devnet start ${event.name}\` tries again.`,
        loud: true,
      }
    default:
      return { line: `${event.name} ${event.type}`, loud: false }
  }
}

async function runDevnet(opts: DevnetCommandOptions): Promise<void> {
  // Loaded here so that importing DEV_ACCOUNTS from this file stays cheap.
  const { startDevnet } = await import('../devnet/devnet.ts')
  const { formatSummary } = await import('../devnet/summary.ts')
  const out = (text: string) => process.stdout.write(text)
  const abort = new AbortController()
  let signalled: (signal: string) => void = () => {}
  const stopRequested = new Promise<string>((resolve) => {
    signalled = resolve
  })
  const onSignal = (signal: string) => {
    if (!abort.signal.aborted) out(`\n${signal}: stopping the devnet...\n`)
    abort.abort()
    signalled(signal)
  }
  for (const s of STOP_SIGNALS) process.on(s, onSignal)
  // `npm start` does not pass a SIGTERM sent to npm on to us: when the process that started us goes away, stop
  // too, rather than leave the devnet running with nobody to stop it.
  const parent = process.ppid
  const parentWatch = setInterval(() => {
    if (process.ppid !== parent) onSignal(`the parent process (pid ${parent}) exited`)
  }, 1_000)
  parentWatch.unref()
  const started = Date.now()
  try {
    const devnet = await startDevnet(
      {
        datadir: opts.datadir,
        fresh: opts.fresh === true,
        validators: opts.validators,
        relayers: opts.relayers,
        threshold: opts.threshold,
        blockTimeMs: opts.blockTime,
        rpcPort: opts.rpcPort,
        p2pPort: opts.p2pPort,
        l1Port: opts.l1Port,
        validatorMetricsPort: opts.validatorMetricsPort,
        relayerMetricsPort: opts.relayerMetricsPort,
        explorerPort: opts.explorerPort,
        faucetPort: opts.faucetPort,
        uiPort: opts.uiPort,
        logLevel: opts.logLevel,
        signal: abort.signal,
      },
      {
        progress: ({ step, total, text }) => out(`[${step}/${total}] ${text}\n`),
        onProcessEvent: (event) => {
          const { line, loud } = formatProcessEvent(event)
          if (line === '') return
          const stamped = `[${new Date().toISOString().slice(11, 19)}] ${line}\n`
          if (loud) process.stderr.write(stamped)
          else out(stamped)
        },
      },
    )
    out(formatSummary(devnet))
    out(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
    await stopRequested
    await devnet.stop()
    out('devnet stopped (every process it started has exited); `npm start` resumes it.\n')
  } catch (err) {
    if (isSidechainError(err, 'DEVNET_ABORTED')) {
      out('devnet start interrupted; every process it started has exited.\n')
      process.exitCode = 130
      return
    }
    if (isSidechainError(err)) throw err
    throw new Error(`devnet failed to start: ${errorMessage(err)}`, { cause: err })
  } finally {
    clearInterval(parentWatch)
    for (const s of STOP_SIGNALS) process.off(s, onSignal)
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0)
}

function parseUrls(value: string): string[] {
  const urls = list(value)
  for (const url of urls) {
    if (!/^https?:\/\/\S+$/.test(url))
      throw new InvalidArgumentError(`${url} is not an http(s) URL`)
  }
  if (urls.length === 0) throw new InvalidArgumentError('give at least one URL')
  return urls
}

function parseUrl(value: string): string {
  return parseUrls(value)[0]!
}

function parsePorts(value: string): number[] {
  const ports = list(value).map((p) => parseIntegerOption('--metrics-ports', 1, 65_535)(p))
  if (ports.length === 0) throw new InvalidArgumentError('give at least one port')
  return ports
}

function parseConfirmations(value: string): number | 'finalized' {
  if (value === 'finalized') return value
  return parseIntegerOption('--confirmations', 1, 10_000)(value)
}

function parseHosts(value: string): string[] {
  const hosts = list(value)
  if (hosts.length === 0 || hosts.length > 16)
    throw new InvalidArgumentError('give 1 to 16 validator hosts')
  for (const h of hosts) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(h))
      throw new InvalidArgumentError(`${h} is not host[:port]`)
  }
  return hosts
}

function parseFund(value: string, previous: Array<{ address: string; balanceWei: bigint }> = []) {
  const match = /^(0x[0-9a-fA-F]{40})=(\d+)(?:\.(\d{1,18}))?$/.exec(value)
  if (match === null)
    throw new InvalidArgumentError('--fund takes ADDRESS=ETHER, e.g. 0xabc...=1000')
  const balanceWei = BigInt(match[2]!) * 10n ** 18n + BigInt((match[3] ?? '').padEnd(18, '0'))
  return [...previous, { address: match[1]!, balanceWei }]
}

function registerNetworkCommands(program: Command): void {
  const network = program
    .command('network')
    .description(
      'set up the devnet topology on several hosts or containers (docker/compose.yaml runs these)',
    )
  network
    .command('init')
    .description(
      'write genesis, validator/relayer/node keys and per-validator bootnode lists into a folder (skips if done)',
    )
    .requiredOption('--out <dir>', 'network folder (shared with the validators and relayers)')
    .requiredOption(
      '--validator-hosts <list>',
      'one host[:p2p-port] per validator, comma-separated, as the others reach it (port default 30303)',
      parseHosts,
    )
    .option('--relayers <n>', 'number of relayers', parseIntegerOption('--relayers', 1, 16), 3)
    .option(
      '--chain-id <id>',
      'sidechain chain id',
      parseIntegerOption('--chain-id', 1, 2 ** 32),
      1337,
    )
    .option(
      '--block-time <ms>',
      'block period in milliseconds',
      parseIntegerOption('--block-time', 100, 60_000),
      1000,
    )
    .option('--no-dev-accounts', 'do not fund the public Foundry/Hardhat dev accounts')
    .option('--fund <address=ether>', 'fund another account in the genesis (repeatable)', parseFund)
    .option(
      '--encrypt-keys',
      'write validator and relayer keys as V3 keystores (password from --password-file, SIDECHAIN_KEY_PASSWORD(_FILE) or a prompt)',
    )
    .option('--password-file <file>', 'file whose first line is the keystore password')
    .option('--light-kdf', 'with --encrypt-keys: scrypt n=4096 p=6 (test networks only)')
    .action(
      async (opts: {
        encryptKeys?: boolean
        passwordFile?: string
        lightKdf?: boolean
        out: string
        validatorHosts: string[]
        relayers: number
        chainId: number
        blockTime: number
        devAccounts: boolean
        fund?: Array<{ address: string; balanceWei: bigint }>
      }) => {
        const { networkInit, parseHostPort } = await import('../devnet/network-setup.ts')
        const encryptKeys =
          opts.encryptKeys === true
            ? {
                password: await resolvePassword(opts, 'the network keystores'),
                scrypt: opts.lightKdf === true ? LIGHT_SCRYPT : STANDARD_SCRYPT,
              }
            : undefined
        const { created, network } = await networkInit({
          encryptKeys,
          out: opts.out,
          validatorHosts: opts.validatorHosts.map((h) => parseHostPort(h)),
          relayers: opts.relayers,
          chainId: opts.chainId,
          blockTimeMs: opts.blockTime,
          devAccounts: opts.devAccounts,
          fund: opts.fund,
        })
        process.stdout.write(
          `${created ? 'created' : 'already initialized:'} network in ${opts.out} (chain ${network.chainId}, ${network.validators.length} validators, ${network.relayers.length} relayers)\n`,
        )
        for (const v of network.validators)
          process.stdout.write(`  validator ${v.address}  ${v.multiaddr}\n`)
        for (const r of network.relayers) process.stdout.write(`  relayer   ${r.address}\n`)
        process.stdout.write(
          network.encryptedKeys === true
            ? '  keys are V3 keystores: give nodes --password-file (or SIDECHAIN_KEY_PASSWORD_FILE) and relayers passwordFile\n'
            : '  keys are PLAIN-TEXT files: nodes need --insecure-key, relayers insecureKey (use --encrypt-keys for anything real)\n',
        )
      },
    )
  network
    .command('deploy')
    .description(
      'once the L1 and the validators answer: deploy the vault, test token and sidechain bridge (skips what exists), write relayer configs and devnet.json',
    )
    .requiredOption('--network-dir <dir>', 'folder written by `network init`')
    .requiredOption('--l1-rpc <url>', 'L1 JSON-RPC URL', parseUrl)
    .requiredOption('--sidechain-rpc <url>', 'a validator JSON-RPC URL', parseUrl)
    .option('--relayer-l1-rpc <url>', 'L1 URL for the relayers (default --l1-rpc)', parseUrl)
    .option(
      '--relayer-sidechain-rpcs <urls>',
      'sidechain URLs for the relayers, relayer i uses entry i mod count (default --sidechain-rpc)',
      parseUrls,
    )
    .option(
      '--threshold <m>',
      'relayer signatures needed',
      parseIntegerOption('--threshold', 1, 16),
      2,
    )
    .option(
      '--confirmations <n>',
      'L1 blocks before a deposit is confirmed, or "finalized"',
      parseConfirmations,
      2,
    )
    .option(
      '--deployer-key-file <file>',
      'key file of the deployer and owner (or SIDECHAIN_DEPLOYER_KEY; default on anvil: dev account #0)',
    )
    .option(
      '--test-token',
      'deploy and allow-list the anyone-can-mint test token on an L1 that is not a development chain (public testnets only; never with real funds)',
    )
    .option(
      '--relayer-datadir <dir>',
      'relayer datadir, {i} = relayer index, relative to the network folder',
      'relayer-{i}',
    )
    .option('--metrics-host <host>', 'relayer metrics listen address', '127.0.0.1')
    .option(
      '--metrics-ports <ports>',
      'relayer metrics port (one for all) or one per relayer, comma-separated',
      parsePorts,
      [9464],
    )
    .option('--public-l1-rpc <url>', 'L1 URL written to devnet.json', parseUrl)
    .option('--public-sidechain-rpcs <urls>', 'validator URLs written to devnet.json', parseUrls)
    .option(
      '--public-relayer-metrics-urls <urls>',
      'relayer metrics URLs written to devnet.json',
      parseUrls,
    )
    .option(
      '--public-validator-metrics-urls <urls>',
      'validator metrics URLs written to devnet.json',
      parseUrls,
    )
    .option('--log-level <level>', 'relayer log level', 'info')
    .option(
      '--timeout <seconds>',
      'how long to wait for the chains',
      parseIntegerOption('--timeout', 1, 3600),
      300,
    )
    .action(
      async (opts: {
        networkDir: string
        l1Rpc: string
        sidechainRpc: string
        relayerL1Rpc?: string
        relayerSidechainRpcs?: string[]
        threshold: number
        confirmations: number | 'finalized'
        deployerKeyFile?: string
        testToken?: boolean
        relayerDatadir: string
        metricsHost: string
        metricsPorts: number[]
        publicL1Rpc?: string
        publicSidechainRpcs?: string[]
        publicRelayerMetricsUrls?: string[]
        publicValidatorMetricsUrls?: string[]
        logLevel: string
        timeout: number
      }) => {
        const { networkDeploy } = await import('../devnet/network-setup.ts')
        const info = await networkDeploy({
          ...opts,
          deployerKey: deployerKey(opts.deployerKeyFile),
          timeoutMs: opts.timeout * 1000,
          log: (line) => process.stdout.write(`${line}\n`),
        })
        process.stdout.write(
          `deployed: vault ${info.l1.vault} (L1 chain ${info.l1.chainId}), bridge ${info.l2.bridge} (chain ${info.l2.chainId}); relayer configs and devnet.json in ${opts.networkDir}\n`,
        )
      },
    )
}

function deployerKey(file: string | undefined): `0x${string}` | undefined {
  if (file !== undefined) {
    return `0x${Buffer.from(readKeyFile(file).privateKey).toString('hex')}`
  }
  const env = process.env.SIDECHAIN_DEPLOYER_KEY?.trim()
  if (env === undefined || env === '') return undefined
  const key = env.startsWith('0x') ? env : `0x${env}`
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new NetworkSetupError(
      'NETWORK_KEY_INVALID',
      'SIDECHAIN_DEPLOYER_KEY is not a 32-byte hex private key',
    )
  }
  return key as `0x${string}`
}
