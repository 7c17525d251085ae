/**
 * `sidechain devnet` (what `npm start` runs): the whole system on loopback under one folder, resumed on the next
 * start. The work happens in chain/devnet/; this file only maps flags and signals and prints.
 */
import type { Command } from 'commander'
import { errorMessage, isSidechainError } from '../errors.ts'
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
  metricsPort?: number
  logLevel: string
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

export function registerDevnetCommand(program: Command): void {
  const port = (name: string) => parseIntegerOption(name, 0, 65_535)
  program
    .command('devnet')
    .description(
      'run a local devnet: anvil L1 with the bridge vault, N validator processes, the sidechain bridge and R relayers (resumes the data in --datadir unless --fresh)',
    )
    .option('--datadir <dir>', 'devnet folder', '.devnet')
    .option('--fresh', 'delete the devnet folder first and start a new devnet')
    .option(
      '--validators <n>',
      'number of validators (default: 4)',
      parseIntegerOption('--validators', 1, 16),
    )
    .option(
      '--relayers <n>',
      'number of bridge relayers (default: 3)',
      parseIntegerOption('--relayers', 1, 16),
    )
    .option(
      '--threshold <m>',
      'relayer signatures needed to mint or release (default: 2)',
      parseIntegerOption('--threshold', 1, 16),
    )
    .option(
      '--block-time <ms>',
      'sidechain block period in milliseconds (default: 1000)',
      parseIntegerOption('--block-time', 100, 60_000),
    )
    .option(
      '--rpc-port <port>',
      "first validator's JSON-RPC port, the others follow; 0 picks free ports (default: 8545)",
      port('--rpc-port'),
    )
    .option(
      '--p2p-port <port>',
      "first validator's libp2p port, the others follow; 0 picks free ports (default: 30303)",
      port('--p2p-port'),
    )
    .option(
      '--l1-port <port>',
      "anvil's port; 0 picks a free one (default: 8645)",
      port('--l1-port'),
    )
    .option(
      '--metrics-port <port>',
      "first relayer's metrics port, the others follow; 0 picks free ports (default: 9464)",
      port('--metrics-port'),
    )
    .option(
      '--log-level <level>',
      'log level of nodes and relayers: trace|debug|info|warn|error',
      'info',
    )
    .action(async (opts: DevnetCommandOptions) => {
      await runDevnet(opts)
    })
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
  const onSignal = (signal: NodeJS.Signals) => {
    if (!abort.signal.aborted) out(`\n${signal}: stopping the devnet...\n`)
    abort.abort()
    signalled(signal)
  }
  for (const s of STOP_SIGNALS) process.on(s, onSignal)
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
        metricsPort: opts.metricsPort,
        logLevel: opts.logLevel,
        signal: abort.signal,
      },
      { progress: ({ step, total, text }) => out(`[${step}/${total}] ${text}\n`) },
    )
    out(formatSummary(devnet))
    out(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
    const outcome = await Promise.race([
      stopRequested.then((signal) => ({ signal })),
      devnet.failed.then((error) => ({ error })),
    ])
    if ('error' in outcome) {
      process.stderr.write(
        `error [${outcome.error.code}]: ${outcome.error.message}\nstopped the other devnet processes.\n`,
      )
      process.exitCode = 1
      return
    }
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
    for (const s of STOP_SIGNALS) process.off(s, onSignal)
  }
}
