import { Writable } from 'node:stream'
import { Common } from '@ethereumjs/common'
import pino from 'pino'
import t from 'tap'
import { makeGenesis, tempDir, waitFor } from '../../test/support/chain.ts'
import { UPSTREAM_PATCHES } from '../execution/upstream/index.ts'
import { SidechainNode } from '../node.ts'

t.test('metrics, /health and /ready on their own port', async (t) => {
  const setup = makeGenesis({ config: { blockPeriodMs: 100 } })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const logs: Array<{ msg: string; active?: string[] }> = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(JSON.parse(String(chunk)))
      done()
    },
  })
  const node = new SidechainNode(
    {
      genesis: setup.genesis,
      datadir: dir.path,
      validatorKey: setup.validators[0],
      metrics: { host: '127.0.0.1', port: 0 },
    },
    { logger: pino({ level: 'info' }, sink) },
  )
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
  const patches = [...text.matchAll(/^sidechain_upstream_patch_active\{patch="([a-z-]+)"\} (\d)/gm)]
  t.same(
    patches.map(([, patch, value]) => `${patch}=${value}`),
    UPSTREAM_PATCHES.map((patch) => `${patch}=1`),
    'every ethereumjs patch exported as active',
  )
  const logged = logs.find((line) => line.msg === 'ethereumjs patches')
  t.same(logged?.active, UPSTREAM_PATCHES, 'and logged at start')
  const health = (await (await fetch(`${url}/health`)).json()) as { status: string }
  t.equal(health.status, 'ok')
  const ready = await fetch(`${url}/ready`)
  t.equal(ready.status, 200)
  t.equal((await fetch(`${url}/nope`)).status, 404)
})

t.test('a patch that stayed out is exported as 0 and logged as a warning', async (t) => {
  // Upstream answers isActivatedEIP from another field than the one the override reads.
  const prototype = Common.prototype as unknown as Record<string, unknown>
  const upstream = prototype.isActivatedEIP as (this: Common, eip: number) => boolean
  prototype.isActivatedEIP = function (this: Common, eip: number) {
    return eip === 9999 || upstream.call(this, eip)
  }
  t.teardown(() => {
    prototype.isActivatedEIP = upstream
  })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const logs: Array<{ msg: string; level: number; patch?: string }> = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(JSON.parse(String(chunk)))
      done()
    },
  })
  const node = new SidechainNode(
    {
      genesis: makeGenesis().genesis,
      datadir: dir.path,
      metrics: { host: '127.0.0.1', port: 0 },
    },
    { logger: pino({ level: 'info' }, sink) },
  )
  await node.start()
  t.teardown(() => node.stop())
  const text = await (await fetch(`${node.metrics!.url}/metrics`)).text()
  t.match(text, /^sidechain_upstream_patch_active\{patch="common-activated-eips"\} 0/m)
  t.match(text, /^sidechain_upstream_patch_active\{patch="evm-fast-paths"\} 1/m)
  const warning = logs.find((line) => line.patch === 'common-activated-eips')
  t.equal(warning?.level, 40, 'a warning names the patch')
  t.match(warning, { reason: /9999/ })
})
