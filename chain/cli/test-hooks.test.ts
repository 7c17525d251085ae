/**
 * The e2e fault hooks behind `sidechain node --test-hooks`: refused unless every listener is on loopback (the CLI
 * exits 2 before anything starts), hidden from --help, and when on they move the node's clock and set the p2p
 * peer filter, on 127.0.0.1 only.
 */
import t from 'tap'
import { sidechain } from '../../test/support/devnet.ts'
import { freePorts } from '../devnet/processes.ts'
import { buildCli } from './main.ts'
import { checkTestHooksAllowed, createTestHooks } from './test-hooks.ts'

t.test('refused unless every listener is on loopback; hidden from --help', async (t) => {
  t.doesNotThrow(() =>
    checkTestHooksAllowed({ '--rpc-host': '127.0.0.1', '--p2p-host': undefined }),
  )
  t.throws(() => checkTestHooksAllowed({ '--rpc-host': '127.0.0.1', '--p2p-host': '0.0.0.0' }), {
    code: 'NODE_TEST_HOOKS_REFUSED',
    message: /--p2p-host is 0.0.0.0/,
  })
  const node = buildCli().commands.find((c) => c.name() === 'node')!
  t.notMatch(node.helpInformation(), /test-hooks/, 'not offered to operators')
  const run = await sidechain([
    'node',
    ...['--genesis', 'missing.json', '--datadir', 'unused'],
    ...['--test-hooks', '1', '--rpc-host', '0.0.0.0'],
  ])
  t.equal(run.code, 2, 'bad input: exit 2')
  t.match(
    run.stderr,
    /NODE_TEST_HOOKS_REFUSED.*--rpc-host is 0\.0\.0\.0/s,
    'refused before the genesis is read',
  )
})

t.test('clock offset and partition through the hook server', async (t) => {
  const hooks = createTestHooks()
  const filters: Array<((peer: string) => boolean) | undefined> = []
  const [port] = await freePorts(1)
  await hooks.listen(
    {
      p2p: {
        setPeerFilter: async (f: ((peer: string) => boolean) | undefined) => void filters.push(f),
      } as never,
    },
    port!,
  )
  t.teardown(() => hooks.close())
  const post = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: JSON.stringify(body) })

  const before = hooks.scheduler.now()
  t.equal((await post('/clock-offset', { ms: -45_000 })).status, 200)
  const behind = hooks.scheduler.now()
  t.ok(behind < before - 44_000 && behind > Date.now() - 46_000, 'the node clock is 45 s behind')

  t.equal((await post('/partition', { blockedPeers: ['peer-a'] })).status, 200)
  t.equal(filters.length, 1)
  t.equal(filters[0]!('peer-a'), false, 'a blocked peer is refused')
  t.equal(filters[0]!('peer-b'), true, 'others are let through')
  const state = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as Record<string, unknown>
  t.same(state, { blockedPeers: ['peer-a'], clockOffsetMs: -45_000 })
  await post('/partition', { blockedPeers: [] })
  t.equal(filters[1], undefined, 'healed: no filter')

  t.equal((await post('/partition', { blockedPeers: 'peer-a' })).status, 400, 'bad input refused')
  t.equal((await post('/clock-offset', { ms: 'soon' })).status, 400)
})
