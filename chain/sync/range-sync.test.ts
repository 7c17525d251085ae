/**
 * Range sync in one process over real libp2p: downloads are spread over several peers,
 * eth_syncing reports progress, and a peer serving blocks with forged seals is banned while
 * the sync completes from the honest peer.
 */
import { cpSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { makeGenesis, tempDir, waitFor } from '../../test/support/chain.ts'
import { buildChain, readChain, testP2P } from '../../test/support/p2p.ts'
import { ConsensusRules, StaticValidatorSet } from '../consensus/rules.ts'
import { signCommitSeal } from '../consensus/seals.ts'
import { hexToBytes, randomPrivateKey } from '../crypto/index.ts'
import { Ledger } from '../ledger/ledger.ts'
import { SidechainNode } from '../node.ts'
import { P2PService } from '../p2p/p2p-service.ts'
import type { ChainServer } from '../p2p/reqresp.ts'
import { ChainDb } from '../storage/chain-db.ts'
import { LedgerChainServer } from './chain-server.ts'
import type { SyncStatus } from './range-sync.ts'
import { decodeBlockMessage, encodeBlockMessage } from './validation.ts'

const BLOCKS = 400
const setup = makeGenesis({ accounts: 2, config: { blockPeriodMs: 100 } })

t.test('range sync', async (t) => {
  const source = tempDir('sidechain-range-src-')
  t.teardown(() => source.remove())
  await buildChain(setup, source.path, BLOCKS, { txEvery: 5 })
  const expected = await readChain(setup.genesis, source.path)

  const servingNode = async (t: Test) => {
    const dir = tempDir('sidechain-range-peer-')
    cpSync(source.path, dir.path, { recursive: true })
    const node = new SidechainNode({ genesis: setup.genesis, datadir: dir.path, p2p: testP2P() })
    await node.start()
    t.teardown(async () => {
      await node.stop()
      dir.remove()
    })
    return node
  }

  t.test('downloads from several peers and reports progress', async (t) => {
    const a = await servingNode(t)
    const b = await servingNode(t)
    const dir = tempDir('sidechain-range-new-')
    const node = new SidechainNode({
      genesis: setup.genesis,
      datadir: dir.path,
      p2p: testP2P({ bootnodes: [...a.p2p!.listenAddresses(), ...b.p2p!.listenAddresses()] }),
    })
    const statuses: Exclude<SyncStatus, false>[] = []
    const sampler = setInterval(() => {
      const status = node.sync?.syncStatus()
      if (status) statuses.push(status)
    }, 5)
    t.teardown(async () => {
      clearInterval(sampler)
      await node.stop()
      dir.remove()
    })
    await node.start()
    await waitFor(() => node.ledger.head.number === BigInt(BLOCKS), {
      timeoutMs: 30_000,
      what: 'synced',
    })
    clearInterval(sampler)
    t.equal(node.sync!.syncStatus(), false, 'eth_syncing is false once in sync')
    t.ok(statuses.length > 0, 'eth_syncing reported progress while syncing')
    const last = statuses.at(-1)!
    t.equal(last.highestBlock, BigInt(BLOCKS))
    t.ok(last.currentBlock <= last.highestBlock && last.startingBlock === 0n)
    const servedA = a.p2p!.reqRespStats()!.blocksServed
    const servedB = b.p2p!.reqRespStats()!.blocksServed
    t.ok(servedA > 0 && servedB > 0, `both peers served blocks (${servedA} + ${servedB})`)
    t.equal(node.p2p!.peerCount(), 2)
    await node.stop()
    t.same(
      await readChain(setup.genesis, dir.path),
      expected,
      'same hashes and state roots at every height',
    )
  })

  t.test('a peer serving forged seals is banned; sync completes from the honest one', async (t) => {
    const honest = await servingNode(t)
    // The liar has the real chain but replaces every block's seals with a non-validator's.
    const liarDir = tempDir('sidechain-range-liar-')
    cpSync(source.path, liarDir.path, { recursive: true })
    const db = new ChainDb(path.join(liarDir.path, 'chaindata'))
    await db.open()
    const rules = new ConsensusRules(
      new StaticValidatorSet(setup.genesis.validators.map((v) => hexToBytes(v))),
    )
    const ledger = new Ledger({ genesis: setup.genesis }, { db, rules })
    await ledger.open()
    const real = new LedgerChainServer(ledger)
    const rogueKey = randomPrivateKey()
    const lying: ChainServer = {
      localStatus: () => real.localStatus(),
      async *blocksByRange(start, count, maxBytes, signal) {
        for await (const chunk of real.blocksByRange(start, count, maxBytes, signal)) {
          const { block } = decodeBlockMessage(chunk, ledger.common)
          yield encodeBlockMessage(block, {
            round: 0,
            seals: [signCommitSeal(block.hash(), 0, rogueKey)],
          })
        }
      },
    }
    const liar = new P2PService(
      { ...testP2P(), nodeKeyFile: path.join(liarDir.path, 'nodekey') },
      { chain: lying },
    )
    await liar.start()
    t.teardown(async () => {
      await liar.stop()
      await db.close()
      liarDir.remove()
    })
    const dir = tempDir('sidechain-range-victim-')
    const node = new SidechainNode({
      genesis: setup.genesis,
      datadir: dir.path,
      p2p: testP2P({ bootnodes: [...liar.listenAddresses(), ...honest.p2p!.listenAddresses()] }),
    })
    t.teardown(async () => {
      await node.stop()
      dir.remove()
    })
    await node.start()
    await waitFor(() => node.ledger.head.number === BigInt(BLOCKS), {
      timeoutMs: 30_000,
      what: 'synced',
    })
    t.ok(liar.reqRespStats()!.rangesServed > 0, 'the liar was asked for blocks')
    t.ok(node.p2p!.isBanned(liar.peerId), 'the liar is banned')
    await waitFor(() => !node.p2p!.connectedPeerIds().includes(liar.peerId), {
      what: 'liar disconnected',
    })
    await node.stop()
    t.same(await readChain(setup.genesis, dir.path), expected, 'the chain is the real one')
  })
})
