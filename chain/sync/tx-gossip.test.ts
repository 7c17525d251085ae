/**
 * Transaction gossip batching against a real node's pool (real LevelDB) and a recording
 * topic in place of libp2p (the wire path is covered by test/p2p): local transactions share
 * one message per flush window, gossiped ones are not published again, and a batch gets
 * ACCEPT / IGNORE / REJECT as a whole.
 */
import { EventEmitter } from 'node:events'
import { RLP } from '@ethereumjs/rlp'
import { concatBytes } from '@ethereumjs/util'
import pino from 'pino'
import t from 'tap'
import { makeGenesis, tempDir, transfer } from '../../test/support/chain.ts'
import { randomPrivateKey } from '../crypto/index.ts'
import { createChainCommon } from '../execution/common.ts'
import { keyPairFromPrivateKey } from '../lib/keys.ts'
import { SidechainNode } from '../node.ts'
import { P2PError } from '../p2p/errors.ts'
import type { GossipTopic, GossipTopicSpec, GossipTopicStats } from '../p2p/gossip.ts'
import { ManualScheduler } from '../util/scheduler.ts'
import type { SyncNetwork } from './network.ts'
import { decodeTxBatch, encodeTxBatch, TxGossip, txGossipMessageCap } from './tx-gossip.ts'

/** A topic that records what is published; with `alone`, no peer subscribes to it. */
function recordingNetwork() {
  const published: Uint8Array[] = []
  let spec: GossipTopicSpec | undefined
  const events = new EventEmitter()
  const peers = { alone: false, ids: [] as string[] }
  const network = {
    on: (event: string, listener: (...args: unknown[]) => void) => events.on(event, listener),
    off: (event: string, listener: (...args: unknown[]) => void) => events.off(event, listener),
    syncPeers: () => peers.ids.map((peerId) => ({ peerId, head: 0n })),
    registerTopic(s: GossipTopicSpec): GossipTopic {
      spec = s
      return {
        name: s.name,
        topic: s.name,
        publish: async (data, options) => {
          if (peers.alone && options?.requirePeers === true)
            throw new P2PError('P2P_NO_TOPIC_PEERS', 'no peer subscribes')
          published.push(data)
          return 1
        },
        // Counters live in the gossip router (chain/p2p/gossip.ts), not under test here.
        stats: () => ({}) as GossipTopicStats,
        unregister: () => {},
      }
    },
  } as unknown as SyncNetwork
  /** The verdict the gossip wrapper would turn into accept/ignore/reject. */
  const verdict = async (data: Uint8Array) => {
    try {
      await spec!.validate(data, { from: 'peer', msgId: 'id' } as never)
      return 'ACCEPT'
    } catch (err) {
      return `${(err as { action: string }).action} ${(err as { code: string }).code}`
    }
  }
  /** A peer completes the status handshake. */
  const connect = (peerId: string) => {
    peers.ids.push(peerId)
    events.emit('peer:status', peerId, {})
  }
  return { network, published, verdict, spec: () => spec!, peers, connect }
}

t.test('transaction gossip batches', async (t) => {
  const setup = makeGenesis({ accounts: 3, config: { blockPeriodMs: 1000 } })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const scheduler = new ManualScheduler()
  // A node without a validator key: nothing drains the pool while the test runs.
  const node = new SidechainNode({ genesis: setup.genesis, datadir: dir.path }, { scheduler })
  await node.start()
  t.teardown(() => node.stop())
  const common = node.ledger.common
  const [alice, bob, carol] = setup.accounts as [
    (typeof setup.accounts)[0],
    (typeof setup.accounts)[0],
    (typeof setup.accounts)[0],
  ]
  const net = recordingNetwork()
  const gossip = new TxGossip(
    { maxTxBytes: setup.genesis.config.maxTxSize, maxBatchTxs: 3, flushDelayMs: 20 },
    { network: net.network, pool: node.txpool, logger: pino({ level: 'silent' }), scheduler },
  )
  gossip.start()
  t.teardown(() => gossip.stop())
  t.equal(
    net.spec().maxMessageBytes,
    txGossipMessageCap({ maxTxBytes: setup.genesis.config.maxTxSize }),
  )

  await t.test('local transactions share one message per flush window', async (t) => {
    const a0 = transfer(common, alice, bob.address, 0n, 1n)
    const a1 = transfer(common, alice, bob.address, 1n, 1n)
    await node.txpool.add(a0)
    await node.txpool.add(a1)
    t.equal(net.published.length, 0, 'held for the flush window')
    scheduler.advance(20)
    t.equal(net.published.length, 1, 'one message')
    t.same(decodeTxBatch(net.published[0]!, 3), [a0.serialize(), a1.serialize()])

    // A full batch goes out at once.
    const more = [2n, 3n, 4n].map((n) => transfer(common, alice, bob.address, n, 1n))
    for (const tx of more) await node.txpool.add(tx)
    t.equal(net.published.length, 2, 'published when full, before the window ends')
    t.same(
      decodeTxBatch(net.published[1]!, 3),
      more.map((tx) => tx.serialize()),
    )
    scheduler.advance(100)
    t.equal(net.published.length, 2, 'nothing left over')
  })

  await t.test('a batch from a peer: ACCEPT if any is new, not published again', async (t) => {
    const known = transfer(common, alice, bob.address, 0n, 1n).serialize()
    const fresh = transfer(common, bob, carol.address, 0n, 1n).serialize()
    t.equal(await net.verdict(encodeTxBatch([known, fresh])), 'ACCEPT')
    t.ok(node.txpool.size >= 6, 'the new one is in the pool')
    scheduler.advance(100)
    t.equal(net.published.length, 2, 'gossipsub forwards the batch; we do not publish it again')
    t.equal(
      await net.verdict(encodeTxBatch([known, fresh])),
      'IGNORE TX_ALREADY_KNOWN',
      'nothing new: IGNORE',
    )
  })

  await t.test('invalid batches are REJECTed', async (t) => {
    const valid = transfer(common, carol, alice.address, 0n, 1n).serialize()
    const otherChain = transfer(
      createChainCommon({ chainId: 999, hardfork: 'osaka' }),
      carol,
      alice.address,
      1n,
      1n,
    ).serialize()
    t.equal(await net.verdict(Uint8Array.of(0xf8, 0x40, 1, 2)), 'REJECT TX_INVALID_ENCODING')
    t.equal(await net.verdict(RLP.encode([])), 'REJECT TX_INVALID_ENCODING', 'empty batch')
    t.equal(
      await net.verdict(RLP.encode([[valid]] as never)),
      'REJECT TX_INVALID_ENCODING',
      'nested list',
    )
    t.equal(
      await net.verdict(encodeTxBatch([valid, valid, valid, valid])),
      'REJECT TX_OVERSIZED',
      'more transactions than a batch may hold',
    )
    t.equal(
      await net.verdict(encodeTxBatch([valid, otherChain])),
      'REJECT TX_WRONG_CHAIN_ID',
      'one invalid transaction rejects the batch',
    )
    const poor = keyPairFromPrivateKey(randomPrivateKey())
    t.equal(
      await net.verdict(encodeTxBatch([transfer(common, poor, alice.address, 0n, 1n).serialize()])),
      'IGNORE TX_INSUFFICIENT_FUNDS',
      'state-dependent refusals are IGNOREd',
    )
    t.equal(
      await net.verdict(concatBytes(encodeTxBatch([valid]), Uint8Array.of(0))),
      'REJECT TX_INVALID_ENCODING',
      'trailing bytes',
    )
  })
})

t.test(
  'local transactions published while alone are announced to a later peer, then again until included',
  async (t) => {
    const setup = makeGenesis({ accounts: 2, config: { blockPeriodMs: 1000 } })
    const dir = tempDir()
    t.teardown(() => dir.remove())
    const scheduler = new ManualScheduler()
    const node = new SidechainNode({ genesis: setup.genesis, datadir: dir.path }, { scheduler })
    await node.start()
    t.teardown(() => node.stop())
    const common = node.ledger.common
    const [alice, bob] = setup.accounts as [(typeof setup.accounts)[0], (typeof setup.accounts)[0]]
    const net = recordingNetwork()
    net.peers.alone = true
    const gossip = new TxGossip(
      {
        maxTxBytes: setup.genesis.config.maxTxSize,
        flushDelayMs: 20,
        peerAnnounceDelayMs: 500,
        reannounceIntervalMs: 10_000,
      },
      { network: net.network, pool: node.txpool, logger: pino({ level: 'silent' }), scheduler },
    )
    gossip.start()
    t.teardown(() => gossip.stop())

    const a0 = transfer(common, alice, bob.address, 0n, 1n)
    const a1 = transfer(common, alice, bob.address, 1n, 1n)
    await node.txpool.add(a0)
    await node.txpool.add(a1)
    scheduler.advance(20)
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(net.published.length, 0, 'nobody subscribes: nothing went out')
    t.equal(gossip.localPending, 2, 'both wait for a peer')

    net.peers.alone = false
    net.connect('peer-1')
    scheduler.advance(499)
    t.equal(net.published.length, 0, 'announced after the delay, not before')
    scheduler.advance(1)
    t.equal(net.published.length, 1, 'announced to the new peer')
    t.same(decodeTxBatch(net.published[0]!, 256), [a0.serialize(), a1.serialize()])
    net.connect('peer-1')
    scheduler.advance(1_000)
    t.equal(net.published.length, 1, 'a known peer does not trigger another announcement')

    // a0 leaves the pool (as when included): the interval announces what is left.
    node.txpool.drop(`0x${Buffer.from(a0.hash()).toString('hex')}`)
    scheduler.advance(10_000)
    t.equal(net.published.length, 2, 're-announced at the interval')
    t.same(
      decodeTxBatch(net.published[1]!, 256),
      [a1.serialize()],
      'only what the pool still holds',
    )
    node.txpool.drop(`0x${Buffer.from(a1.hash()).toString('hex')}`)
    scheduler.advance(10_000)
    t.equal(net.published.length, 2, 'nothing left to announce')
    t.equal(gossip.localPending, 0)
  },
)
