import { Writable } from 'node:stream'
import { Common } from '@ethereumjs/common'
import pino from 'pino'
import t from 'tap'
import { makeGenesis, tempDir, waitFor } from '../../test/support/chain.ts'
import { startRawPeer, testP2P } from '../../test/support/p2p.ts'
import type { QbftStatus } from '../consensus/qbft/index.ts'
import { UPSTREAM_PATCHES } from '../execution/upstream/index.ts'
import { SidechainNode } from '../node.ts'
import { defaultTopicScore, topicName } from '../p2p/gossip.ts'
import { NodeMetrics } from './node-metrics.ts'

async function scrape(node: SidechainNode): Promise<string> {
  return (await fetch(`${node.metrics!.url}/metrics`)).text()
}

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

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

t.test('event metrics move when the event happens', async (t) => {
  const setup = makeGenesis({ config: { blockPeriodMs: 100 } })
  const dirs = [tempDir('sidechain-metrics-v-'), tempDir('sidechain-metrics-f-')]
  const nodes: SidechainNode[] = []
  const stopRogue: Array<() => Promise<void>> = []
  t.teardown(async () => {
    for (const stop of stopRogue) await stop().catch(() => undefined)
    for (const node of nodes) await node.stop().catch(() => undefined)
    for (const dir of dirs) dir.remove()
  })
  const validator = new SidechainNode({
    genesis: setup.genesis,
    datadir: dirs[0]!.path,
    validatorKey: setup.validators[0],
    rpc: { port: 0 },
    p2p: testP2P(),
    metrics: { port: 0 },
  })
  nodes.push(validator)
  await validator.start()
  await waitFor(() => validator.ledger.head.number >= 2n, { what: 'two blocks' })

  await t.test('blocks built and imported', async (t) => {
    const text = await scrape(validator)
    const imported = sample(text, 'sidechain_block_import_seconds_count')
    const built = sample(text, 'sidechain_block_build_seconds_count')
    t.ok(imported !== undefined && imported >= 2, `imports timed (${imported})`)
    t.ok(built !== undefined && built >= 2, `builds timed (${built})`)
    t.ok(sample(text, 'sidechain_block_import_seconds_sum')! > 0, 'import time is not zero')
    t.equal(sample(text, 'sidechain_block_validation_seconds_count'), 0, 'nothing validated')
  })

  await t.test('a proposal validated, then imported, on another node', async (t) => {
    const follower = new SidechainNode({
      genesis: setup.genesis,
      datadir: dirs[1]!.path,
      metrics: { port: 0 },
    })
    nodes.push(follower)
    await follower.start()
    const block = (await validator.ledger.getBlockByNumber(1n))!
    const seals = (await validator.ledger.getSeals(block.hash()))!
    let text = await scrape(follower)
    t.equal(sample(text, 'sidechain_block_validation_seconds_count'), 0)
    t.equal(sample(text, 'sidechain_block_import_seconds_count'), 0)
    await follower.ledger.validateBlock(block)
    text = await scrape(follower)
    t.equal(sample(text, 'sidechain_block_validation_seconds_count'), 1, 'validation timed')
    await follower.ledger.importBlock(block, { seals })
    text = await scrape(follower)
    t.equal(sample(text, 'sidechain_block_import_seconds_count'), 1, 'import timed')
  })

  await t.test('a rejected gossip message is counted by topic, result and code', async (t) => {
    const rogue = await startRawPeer({
      status: {
        chainId: validator.ledger.chainId,
        genesisHash: validator.ledger.genesisHash,
        headNumber: 0n,
        headHash: validator.ledger.genesisHash,
      },
    })
    stopRogue.push(() => rogue.stop())
    const blocksTopic = topicName(validator.ledger.chainId, 'blocks')
    rogue.subscribe(blocksTopic, defaultTopicScore)
    await rogue.dial(validator.p2p!.listenAddresses()[0]!)
    await waitFor(() => rogue.topicPeers(blocksTopic).includes(validator.p2p!.peerId), {
      what: 'rogue meshed with the validator',
    })
    const series =
      'sidechain_gossip_results_total{topic="blocks",result="reject",code="BLOCK_MALFORMED"}'
    t.equal(sample(await scrape(validator), series), undefined, 'no rejection before')
    await rogue.publish(blocksTopic, new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
    const rejected = await waitFor(async () => sample(await scrape(validator), series), {
      what: 'the junk block message counted',
    })
    t.equal(rejected, 1)
  })

  await t.test('RPC errors are counted by method and code', async (t) => {
    const call = (method: string, params: unknown[]) =>
      fetch(validator.rpc!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      }).then((r) => r.json() as Promise<{ error?: { code: number } }>)
    t.equal((await call('eth_getBalance', ['0x1234', 'latest'])).error?.code, -32602)
    t.equal((await call('eth_noSuchMethod_xyz', [])).error?.code, -32601)
    t.equal((await call('eth_blockNumber', [])).error, undefined)
    const text = await scrape(validator)
    t.equal(sample(text, 'sidechain_rpc_errors_total{method="eth_getBalance",code="-32602"}'), 1)
    t.equal(
      sample(text, 'sidechain_rpc_errors_total{method="unknown",code="-32601"}'),
      1,
      'a method that is not served is labelled unknown',
    )
    t.notMatch(text, /eth_blockNumber/, 'a successful call is not an error')
  })
})

t.test('readiness, block period and validator-set size for alert rules', async (t) => {
  let synced = true
  const status = {
    validators: [new Uint8Array(20), new Uint8Array(20).fill(1), new Uint8Array(20).fill(2)],
    validatorStats: [],
  } as unknown as QbftStatus
  const metrics = new NodeMetrics(
    { host: '127.0.0.1', port: 0 },
    {
      head: () => ({ number: 7n, timestamp: 0n }),
      speculativeValidations: () => ({ used: 0, fellBack: 0 }),
      txpoolSize: () => 0,
      consensus: () => status,
      isSynced: () => synced,
      blockPeriodMs: 2000,
    },
  )
  await metrics.start()
  t.teardown(() => metrics.stop())
  const get = async (path: string) => fetch(`${metrics.url}${path}`)
  let text = await (await get('/metrics')).text()
  t.equal(sample(text, 'sidechain_block_period_seconds'), 2, 'block period from the genesis')
  t.equal(sample(text, 'sidechain_qbft_validators'), 3, 'validators of the height decided')
  t.equal(sample(text, 'sidechain_ready'), 1, 'ready gauge while /ready answers 200')
  t.equal((await get('/ready')).status, 200)
  synced = false
  text = await (await get('/metrics')).text()
  t.equal(sample(text, 'sidechain_ready'), 0, 'ready gauge drops while syncing')
  const ready = await get('/ready')
  t.equal(ready.status, 503, '/ready agrees with the gauge')
  t.same(await ready.json(), { ready: false, head: 7, reasons: ['syncing'] })

  const plain = new NodeMetrics(
    { host: '127.0.0.1', port: 0 },
    {
      head: () => ({ number: 0n, timestamp: 0n }),
      speculativeValidations: () => ({ used: 0, fellBack: 0 }),
      txpoolSize: () => 0,
    },
  )
  const plainText = await plain.registry.metrics()
  t.equal(sample(plainText, 'sidechain_qbft_validators'), 0, 'a node without QBFT reports 0')
  t.notMatch(plainText, /sidechain_block_period_seconds/, 'no period gauge without a genesis')
})
