/**
 * admin_peers, admin_nodeInfo, net_peerCount and eth_syncing over real HTTP JSON-RPC, with
 * real libp2p between two in-process nodes.
 */

import t from 'tap'
import { createPublicClient, http } from 'viem'
import { makeGenesis, tempDir, waitFor } from '../../test/support/chain.ts'
import { testP2P } from '../../test/support/p2p.ts'
import { SidechainNode } from '../node.ts'

t.test('networking data over JSON-RPC', async (t) => {
  const setup = makeGenesis({ config: { blockPeriodMs: 100 } })
  const dirs = [tempDir('sidechain-admin-a-'), tempDir('sidechain-admin-b-')]
  const rpc = {
    host: '127.0.0.1',
    port: 0,
    apis: ['eth' as const, 'net' as const, 'admin' as const],
  }
  const a = new SidechainNode({
    genesis: setup.genesis,
    datadir: dirs[0]!.path,
    validatorKey: setup.validators[0],
    p2p: testP2P(),
    rpc,
  })
  await a.start()
  const b = new SidechainNode({
    genesis: setup.genesis,
    datadir: dirs[1]!.path,
    p2p: testP2P({ bootnodes: a.p2p!.listenAddresses() }),
    rpc,
  })
  await b.start()
  t.teardown(async () => {
    await b.stop()
    await a.stop()
    for (const dir of dirs) dir.remove()
  })
  const client = createPublicClient({ transport: http(b.rpc!.url) })
  const request = (method: string) =>
    client.request({ method, params: [] } as never) as Promise<unknown>
  await waitFor(async () => (await request('net_peerCount')) === '0x1', {
    what: 'one peer over RPC',
  })
  await waitFor(() => b.ledger.head.number >= 3n, { what: 'b following' })
  // With 100 ms blocks the follower can be a moment behind; wait for it to report in sync.
  await waitFor(async () => (await request('eth_syncing')) === false, { what: 'eth_syncing false' })
  t.pass('in sync')

  const peers = (await request('admin_peers')) as Array<Record<string, unknown>>
  t.equal(peers.length, 1)
  t.match(peers[0], {
    id: a.p2p!.peerId,
    name: 'sidechain/0.1.0',
    enode: new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.p2p!.peerId}$`),
    network: { remoteAddress: /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/, inbound: false, static: true },
    protocols: { sidechain: { chainId: 1337, version: 1, genesis: /^0x[0-9a-f]{64}$/ } },
  })
  const info = (await request('admin_nodeInfo')) as Record<string, unknown>
  t.match(info, {
    id: b.p2p!.peerId,
    name: 'sidechain/0.1.0',
    listenAddr: /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/,
    ports: { listener: Number },
    protocols: { sidechain: { network: 1337, number: Number, head: /^0x[0-9a-f]{64}$/ } },
  })
  const aPeers = (await a.rpc!.handler.call('admin_peers', [])) as Array<{
    network: { inbound: boolean }
  }>
  t.equal(aPeers[0]!.network.inbound, true, 'the validator sees the full node as inbound')
})
