/**
 * Over real libp2p on 127.0.0.1: a block whose write waits for its sync is not gossiped
 * and cannot be synced from its node before the sync completes. A single validator (its
 * database holds the write of block h) and a full node following it by gossip and range
 * sync; the full node must not get block h until the validator's write is released.
 */
import t from 'tap'
import { SidechainNode } from '../../chain/node.ts'
import { makeGenesis, tempDir, waitFor } from '../support/chain.ts'
import { FaultyChainDb } from '../support/faulty-chain-db.ts'
import { testP2P } from '../support/p2p.ts'

t.test('a held block write is neither gossiped nor served before it completes', async (t) => {
  const setup = makeGenesis({ accounts: 1, config: { blockPeriodMs: 200 } })
  const validatorDir = tempDir('held-gossip-v-')
  const fullDir = tempDir('held-gossip-f-')
  t.teardown(() => {
    validatorDir.remove()
    fullDir.remove()
  })
  let db: FaultyChainDb | undefined
  const validator = new SidechainNode(
    {
      genesis: setup.genesis,
      datadir: validatorDir.path,
      validatorKey: setup.validators[0],
      p2p: testP2P(),
    },
    {
      createChainDb: (path) => {
        db = new FaultyChainDb(path)
        return db
      },
    },
  )
  await validator.start()
  t.teardown(async () => {
    db!.release()
    await validator.stop()
  })
  const full = new SidechainNode({
    genesis: setup.genesis,
    datadir: fullDir.path,
    p2p: testP2P({ bootnodes: validator.p2p!.listenAddresses() }),
  })
  await full.start()
  t.teardown(() => full.stop())
  const received: bigint[] = []
  full.ledger.on('head', (imported) => received.push(imported.block.header.number))

  await waitFor(() => full.ledger.head.number >= 3n, { what: 'the full node follows' })
  const h = validator.ledger.head.number + 2n
  db!.holdWritesFrom(h)
  await waitFor(() => db!.holding.includes(h), { what: `the write of block ${h} held` })
  await waitFor(() => full.ledger.head.number >= h - 1n, { what: 'the full node at h - 1' })
  // Absence takes a while to show: several gossip heartbeats and status rounds (testP2P:
  // 200 ms heartbeat, 1 s status interval).
  const until = Date.now() + 3_000
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100))
    if (full.ledger.head.number >= h) break
  }
  t.equal(full.ledger.head.number, h - 1n, 'the full node has nothing past h - 1')
  t.notOk(received.includes(h), 'block h did not reach it by gossip or sync')

  db!.release()
  await waitFor(() => full.ledger.head.number >= h + 1n, { what: 'block h and the next arrive' })
  t.same(await full.ledger.getCanonicalHash(h), await validator.ledger.getCanonicalHash(h))
})
