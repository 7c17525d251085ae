/**
 * Log lines of a node: each component logs with its `module`, and an error is logged as an
 * object that keeps its stack and cause (not just its message).
 */
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { makeGenesis, tempDir, waitFor } from '../test/support/chain.ts'
import { testP2P } from '../test/support/p2p.ts'
import { SidechainNode } from './node.ts'
import { defineMethod } from './rpc/handler.ts'

interface LogLine {
  msg: string
  module?: string
  err?: { type: string; message: string; stack: string }
}

t.test('component loggers carry a module; errors keep stack and cause', async (t) => {
  const lines: LogLine[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n')) if (text !== '') lines.push(JSON.parse(text))
      done()
    },
  })
  const setup = makeGenesis({ config: { blockPeriodMs: 100 } })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const node = new SidechainNode(
    {
      genesis: setup.genesis,
      datadir: dir.path,
      validatorKey: setup.validators[0],
      rpc: { port: 0 },
      p2p: testP2P(),
      metrics: { port: 0 },
    },
    { logger: pino({ level: 'info', base: undefined }, sink) },
  )
  await node.start()
  t.teardown(() => node.stop())
  const moduleOf = (msg: string) => lines.find((l) => l.msg === msg)?.module
  await waitFor(() => moduleOf('sealed block'), { what: 'a sealed block logged' })
  t.equal(moduleOf('sealed block'), 'validator')
  t.equal(moduleOf('p2p started'), 'p2p')
  t.equal(moduleOf('JSON-RPC server listening (HTTP and WebSocket)'), 'rpc')
  t.equal(moduleOf('metrics server listening'), 'metrics')
  t.equal(moduleOf('node started'), undefined, 'the node itself logs without a module')

  // A served namespace (only --rpc-api namespaces answer remote callers).
  node.rpc!.handler.register({
    namespace: 'web3',
    methods: {
      boom: defineMethod([], () => {
        throw new Error('disk on fire', { cause: new Error('sector 7') })
      }),
    },
  })
  const response = await fetch(node.rpc!.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'web3_boom', params: [] }),
  })
  t.ok(((await response.json()) as { error?: unknown }).error, 'the call fails')
  const failure = await waitFor(
    () => lines.find((l) => l.msg === 'RPC method failed unexpectedly'),
    { what: 'the failure logged' },
  )
  t.equal(failure.module, 'rpc')
  t.equal(failure.err?.type, 'Error')
  t.match(failure.err?.message, /disk on fire/)
  t.match(failure.err?.stack, /disk on fire[\s\S]*caused by: Error: sector 7/, 'stack and cause')
})
