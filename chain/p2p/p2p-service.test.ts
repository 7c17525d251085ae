/**
 * P2PService over real libp2p on 127.0.0.1 with a stub chain: status handshake, peers of
 * another chain dropped, node key persistence, blocks-by-range caps and rate limits, a topic
 * registered after start (how the QBFT engine will use it), admin data and the gate.
 */
import { statSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { tempDir, waitFor } from '../../test/support/chain.ts'
import { GossipValidationError } from './gossip-errors.ts'
import type { ChainStatus } from './messages.ts'
import { type P2POptionsInput, P2PService } from './p2p-service.ts'
import type { ChainServer } from './reqresp.ts'

const hash = (b: number) => new Uint8Array(32).fill(b)

class StubChain implements ChainServer {
  status: ChainStatus
  chunkBytes = 100
  constructor(head: bigint, genesisByte = 1) {
    this.status = {
      chainId: 1337n,
      genesisHash: hash(genesisByte),
      headNumber: head,
      headHash: hash(9),
    }
  }
  localStatus(): ChainStatus {
    return this.status
  }
  async *blocksByRange(start: bigint, count: number, maxBytes: number): AsyncGenerator<Uint8Array> {
    let total = 0
    for (let n = start; n < start + BigInt(count) && n <= this.status.headNumber; n++) {
      if (total > 0 && total + this.chunkBytes > maxBytes) return
      total += this.chunkBytes
      yield new Uint8Array(this.chunkBytes).fill(Number(n % 256n))
    }
  }
}

async function service(t: Test, chain: ChainServer, options: Partial<P2POptionsInput> = {}) {
  const dir = tempDir('sidechain-p2p-svc-')
  const p2p = new P2PService(
    {
      nodeKeyFile: path.join(dir.path, 'nodekey'),
      port: 0,
      gossip: { heartbeatMs: 200 },
      reqresp: { statusIntervalMs: 500 },
      bootnodeRedialMs: 300,
      ...options,
    },
    { chain },
  )
  await p2p.start()
  t.teardown(async () => {
    await p2p.stop()
    dir.remove()
  })
  return p2p
}

t.test('status handshake, admin data, node key', async (t) => {
  const a = await service(t, new StubChain(10n))
  const b = await service(t, new StubChain(25n), { bootnodes: a.listenAddresses() })
  await waitFor(() => a.peerCount() === 1 && b.peerCount() === 1, { what: 'handshake both ways' })
  t.same(
    b.syncPeers().map((p) => [p.peerId, p.head]),
    [[a.peerId, 10n]],
    'b knows a and its head',
  )
  t.same(
    a.syncPeers().map((p) => p.head),
    [25n],
    'a learned b from b’s request',
  )
  const peers = await b.peers()
  t.equal(peers.length, 1)
  t.match(peers[0], {
    id: a.peerId,
    name: 'sidechain/0.1.0',
    network: { inbound: false, static: true },
    protocols: { sidechain: { number: 10, chainId: 1337, version: 1 } },
  })
  t.ok(peers[0]!.caps.includes('/sidechain/req/status/1'), 'caps list our protocols')
  const info = a.nodeInfo()
  t.match(info, {
    id: a.peerId,
    name: 'sidechain/0.1.0',
    protocols: { sidechain: { network: 1337, number: 10 } },
  })
  t.ok(info.enode.endsWith(`/p2p/${a.peerId}`))
  t.ok(info.ports.listener > 0)
  a.notePeerHead(b.peerId, 40n)
  t.same(
    a.syncPeers().map((p) => p.head),
    [40n],
    'gossip raises the known head',
  )
})

t.test('the node key persists across restarts with mode 0600', async (t) => {
  const dir = tempDir('sidechain-p2p-key-')
  t.teardown(() => dir.remove())
  const options = { nodeKeyFile: path.join(dir.path, 'nodekey'), port: 0 }
  const first = new P2PService(options, { chain: new StubChain(0n) })
  await first.start()
  const id = first.peerId
  await first.stop()
  t.equal(statSync(options.nodeKeyFile).mode & 0o777, 0o600)
  const second = new P2PService(options, { chain: new StubChain(0n) })
  await second.start()
  t.equal(second.peerId, id, 'same peer id')
  await second.stop()
})

t.test('peers with another genesis are disconnected and banned', async (t) => {
  const a = await service(t, new StubChain(10n, 1))
  const b = await service(t, new StubChain(10n, 2), { bootnodes: a.listenAddresses() })
  await waitFor(() => a.isBanned(b.peerId) && b.isBanned(a.peerId), { what: 'mutual bans' })
  await waitFor(() => a.connectedPeerIds().length === 0 && b.connectedPeerIds().length === 0, {
    what: 'disconnected',
  })
  t.equal(a.peerCount(), 0)
  await t.rejects(b.dial(a.listenAddresses()[0]!), 'the gate refuses to dial a banned peer')
})

t.test('blocks-by-range: counts, byte caps, bounds and rate limits', async (t) => {
  const chain = new StubChain(500n)
  const server = await service(t, chain, {
    reqresp: {
      maxResponseBytes: 1000,
      maxBlocksPerRequest: 64,
      blocksRateLimit: { capacity: 80, refillPerSecond: 1 },
    },
  })
  const client = await service(t, new StubChain(0n), { bootnodes: server.listenAddresses() })
  await waitFor(() => client.peerCount() === 1, { what: 'handshake' })
  const chunks = await client.requestBlocksByRange(server.peerId, 3n, 5)
  t.same(
    chunks.map((c) => c[0]),
    [3, 4, 5, 6, 7],
    'blocks in order',
  )
  const capped = await client.requestBlocksByRange(server.peerId, 100n, 20)
  t.equal(capped.length, 10, 'stops at the response byte cap (10 x 100 bytes)')
  await t.rejects(
    client.requestBlocksByRange(server.peerId, 1n, 65),
    { code: 'P2P_PEER_REFUSED_REQUEST' },
    'count over the cap',
  )
  const beyond = await client.requestBlocksByRange(server.peerId, 499n, 10)
  t.equal(beyond.length, 2, 'only what exists')
  // 80 tokens: 5 + 20 + 10 spent (the refused request is free); 64 more would exceed them.
  await t.rejects(client.requestBlocksByRange(server.peerId, 1n, 64), { code: 'P2P_RATE_LIMITED' })
  t.match(server.reqRespStats(), {
    rangesServed: 3,
    blocksServed: 17,
    rateLimited: 1,
    invalidRequests: 1,
  })
  t.ok(server.appScore(client.peerId) < 0, 'the out-of-bounds request cost the client score')
})

t.test(
  'a topic registered after start: publish, validate, penalize (the consensus topic seam)',
  async (t) => {
    const a = await service(t, new StubChain(1n))
    const b = await service(t, new StubChain(1n), { bootnodes: a.listenAddresses() })
    await waitFor(() => a.peerCount() === 1 && b.peerCount() === 1, { what: 'handshake' })
    const seenByB: string[] = []
    const onA = a.registerTopic({
      name: 'consensus',
      maxMessageBytes: 1024,
      validate: () => undefined,
    })
    b.registerTopic({
      name: 'consensus',
      maxMessageBytes: 1024,
      validate: (data) => {
        const text = Buffer.from(data).toString()
        seenByB.push(text)
        if (text.startsWith('forged'))
          throw new GossipValidationError('REJECT', 'QBFT_BAD_SIGNATURE', 'bad signature')
        return undefined
      },
    })
    t.equal(onA.topic, '/sidechain/1337/consensus/1')
    await waitFor(() => a.topicPeers('consensus').subscribed.includes(b.peerId), {
      what: 'b subscribed, seen by a',
    })
    await onA.publish(Buffer.from('prepare h=1 r=0'))
    await waitFor(() => seenByB.length === 1, { what: 'b validated it' })
    t.equal(
      await onA.publish(Buffer.from('prepare h=1 r=0')),
      0,
      'publishing the same bytes again is a no-op',
    )
    await onA.publish(Buffer.from('forged commit'))
    await waitFor(() => b.gossipScore(a.peerId) < 0, { what: 'a penalized at b' })
    t.same(seenByB, ['prepare h=1 r=0', 'forged commit'])
    t.match(b.gossipStats().consensus, { received: 2, accepted: 1, rejected: 1 })
  },
)

t.test('the peer filter cuts a node off and lets it back', async (t) => {
  const a = await service(t, new StubChain(1n))
  const b = await service(t, new StubChain(1n), { bootnodes: a.listenAddresses() })
  await waitFor(() => b.peerCount() === 1, { what: 'connected' })
  await b.setPeerFilter((peer) => peer !== a.peerId)
  await waitFor(() => b.connectedPeerIds().length === 0 && a.connectedPeerIds().length === 0, {
    what: 'cut off',
  })
  await t.rejects(b.dial(a.listenAddresses()[0]!), 'dialing is refused')
  await b.setPeerFilter(undefined)
  await waitFor(() => b.peerCount() === 1, { what: 'bootnode redialed' })
  t.pass('reconnected')
})
