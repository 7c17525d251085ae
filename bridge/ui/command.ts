/**
 * `sidechain ui --network FILE`: serves the bridge web app for any network (the devnet serves it by itself) until
 * SIGINT/SIGTERM. The network file is the user commands' (`devnet.json` works as is).
 */
import { type Command, InvalidArgumentError } from 'commander'
import { readNetworkFile } from '../cli/context.ts'
import { uiConfigFromNetwork } from './config.ts'
import { BridgeUiServer } from './server.ts'

/** Default port of the web app (the devnet's too). */
export const UI_DEFAULT_PORT = 8500

function portOption(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65_535)
    throw new InvalidArgumentError('--port must be from 0 to 65535')
  return n
}

export function registerUiCommand(program: Command): void {
  program
    .command('ui')
    .description(
      'serve the bridge web app (deposit, withdraw, live tracker, claim) for a network file',
    )
    .requiredOption(
      '--network <file>',
      "network file (devnet.json, or the bridge commands' --network file)",
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', `port; 0 picks a free one (default: ${UI_DEFAULT_PORT})`, portOption)
    .action(async (opts: { network: string; host: string; port?: number }) => {
      const config = uiConfigFromNetwork(readNetworkFile(opts.network), opts.network)
      const server = new BridgeUiServer({
        host: opts.host,
        port: opts.port ?? UI_DEFAULT_PORT,
        config,
      })
      await server.start()
      process.stdout.write(
        `bridge web app for ${config.l1.name} <-> ${config.l2.name}: ${server.url}\n`,
      )
      await new Promise<void>((resolve) => {
        const stop = () => void server.stop().then(resolve)
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
    })
}
