import t from 'tap'
import { makeGenesis, tempDir, waitFor } from '../../test/support/chain.ts'
import { SidechainNode } from '../node.ts'

t.test('metrics, /health and /ready on their own port', async (t) => {
  const setup = makeGenesis({ config: { blockPeriodMs: 100 } })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const node = new SidechainNode({
    genesis: setup.genesis,
    datadir: dir.path,
    validatorKey: setup.validators[0],
    metrics: { host: '127.0.0.1', port: 0 },
  })
  await node.start()
  t.teardown(() => node.stop())
  await waitFor(() => node.ledger.head.number >= 3n, { what: 'three blocks' })
  const url = node.metrics!.url
  const text = await (await fetch(`${url}/metrics`)).text()
  const head = Number(/^sidechain_head_number (\d+)/m.exec(text)?.[1])
  t.ok(head >= 3, `head exported (${head})`)
  t.match(text, /^sidechain_txpool_size 0/m)
  t.match(text, /^sidechain_peers 0/m)
  t.match(text, /sidechain_block_interval_seconds_count \d+/)
  t.match(text, /sidechain_process_cpu_seconds_total/)
  const health = (await (await fetch(`${url}/health`)).json()) as { status: string }
  t.equal(health.status, 'ok')
  const ready = await fetch(`${url}/ready`)
  t.equal(ready.status, 200)
  t.equal((await fetch(`${url}/nope`)).status, 404)
})
