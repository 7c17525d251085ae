#!/usr/bin/env node
/**
 * `sidechain` command line. Each command validates its flags at the edge, then hands plain
 * options to the components. Exit codes: 0 ok, 1 runtime failure, 2 bad input (a usage
 * error, or an error whose code ERROR_TABLE in chain/lib/error-codes.ts calls input), 3 the
 * datadir is refused (corrupt, or a storage schema this build does not read): restarting
 * cannot help, an operator must restore a backup or resync into an empty datadir, so a
 * supervisor should not restart on 3.
 */
import { Command, CommanderError } from 'commander'
import { registerBridgeCommand } from '../../bridge/cli/command.ts'
import { registerRelayerCommand } from '../../bridge/relayer/command.ts'
import { registerUiCommand } from '../../bridge/ui/command.ts'
import { describeError, errorMessage, isSidechainError } from '../lib/errors.ts'
import { registerAccountCommand } from './account-command.ts'
import { registerDevnetCommand } from './devnet-command.ts'
import { registerExplorerCommands } from './explorer-command.ts'
import { registerGenesisCommand } from './genesis-command.ts'
import { registerNodeCommand } from './node-command.ts'
import { registerStatusCommand } from './status-command.ts'

export function buildCli(): Command {
  const program = new Command()
  program
    .name('sidechain')
    .description('Proof-of-authority EVM sidechain node, bridge relayer and tools')
    .showHelpAfterError()
    .exitOverride()
  registerNodeCommand(program)
  registerStatusCommand(program)
  registerAccountCommand(program)
  registerGenesisCommand(program)
  registerDevnetCommand(program)
  registerRelayerCommand(program)
  registerBridgeCommand(program)
  registerExplorerCommands(program)
  registerUiCommand(program)
  return program
}

/** Runs the CLI on `process.argv`; sets `process.exitCode` rather than exiting so logs flush. */
export async function main(): Promise<void> {
  try {
    await buildCli().parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    const code = isSidechainError(err) ? ` [${err.code}]` : ''
    process.stderr.write(`error${code}: ${errorMessage(err)}\n`)
    process.exitCode = describeError(err).exitCode
  }
}

// Run when started directly (`node chain/cli/main.ts`); the `bin` shim imports and calls main().
if (import.meta.main) await main()
