import t from 'tap'
import { metricsOptionsSchema } from '../metrics/options.ts'
import { p2pOptionsSchema } from '../p2p/options.ts'
import { rpcOptionsSchema } from '../rpc/options.ts'
import { buildCli } from './main.ts'

t.test('node --help shows the defaults of the component schemas', (t) => {
  const node = buildCli().commands.find((c) => c.name() === 'node')!
  const help = node.helpInformation().replace(/\s+/g, ' ')
  const rpc = rpcOptionsSchema.parse({})
  t.match(help, `--rpc-port <port> JSON-RPC port (HTTP and WebSocket) (default: ${rpc.port})`)
  t.match(help, `(0.0.0.0 opens it to the network) (default: "${rpc.host}")`)
  t.match(help, `(default: ${p2pOptionsSchema.shape.port.parse(undefined)})`)
  t.match(
    help,
    `metrics listen address (default: "${metricsOptionsSchema.shape.host.parse(undefined)}")`,
  )
  t.match(help, '--log-level <level> log level (default: "info")')
  t.end()
})

t.test('absent node flags stay undefined, so the schemas apply their defaults', async (t) => {
  const node = buildCli().commands.find((c) => c.name() === 'node')!
  node.action(() => {})
  await node.parseAsync(['--genesis', 'g.json', '--datadir', 'd'], { from: 'user' })
  const opts = node.opts()
  for (const flag of [
    'rpcPort',
    'rpcHost',
    'rpcCors',
    'rpcApi',
    'p2pPort',
    'p2pHost',
    'metricsHost',
    'logLevel',
  ]) {
    t.equal(opts[flag], undefined, flag)
  }
  t.equal(opts.rpc, true, '--no-rpc not given')
})
