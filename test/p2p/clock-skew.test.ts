/**
 * A node whose clock is a minute behind the validators' (real libp2p on 127.0.0.1). Its
 * peers' blocks carry timestamps "from the future" by its clock; range sync used to take that
 * as an invalid block and ban the honest peer that served it, so the node never caught up.
 * Final blocks (a quorum of commit seals) are final whatever the local clock says: the node
 * syncs, follows the head and keeps its peer.
 */
import t from 'tap'
import { SidechainNode } from '../../chain/node.ts'
import { createSystemScheduler } from '../../chain/util/scheduler.ts'
import { makeGenesis, tempDir, waitFor } from '../support/chain.ts'
import { testP2P } from '../support/p2p.ts'

const SKEW_MS = 60_000

t.test(
  'a node with a clock a minute behind syncs and follows without banning its peer',
  async (t) => {
    const setup = makeGenesis({ config: { blockPeriodMs: 200 } })
    const dirs = [tempDir('sidechain-skew-v-'), tempDir('sidechain-skew-f-')]
    const nodes: SidechainNode[] = []
    t.teardown(async () => {
      for (const node of nodes) await node.stop().catch(() => undefined)
      for (const dir of dirs) dir.remove()
    })
    const validator = new SidechainNode({
      genesis: setup.genesis,
      datadir: dirs[0]!.path,
      validatorKey: setup.validators[0],
      p2p: testP2P(),
    })
    nodes.push(validator)
    await validator.start()
    await waitFor(() => validator.ledger.head.number >= 5n, {
      timeoutMs: 20_000,
      what: 'the validator seals 5 blocks',
    })

    const behind = createSystemScheduler({
      now: () => Date.now() - SKEW_MS,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    })
    const follower = new SidechainNode(
      {
        genesis: setup.genesis,
        datadir: dirs[1]!.path,
        p2p: testP2P({ bootnodes: validator.p2p!.listenAddresses() }),
      },
      { scheduler: behind },
    )
    nodes.push(follower)
    await follower.start()
    const target = validator.ledger.head.number + 10n
    await waitFor(() => follower.ledger.head.number >= target, {
      timeoutMs: 30_000,
      what: `the follower reaches block ${target} (synced, then following)`,
    })
    t.ok(follower.ledger.head.number >= target)
    t.equal(follower.p2p!.peerCount(), 1, 'the honest peer was not banned')
    const n = follower.ledger.head.number - 1n
    t.same(
      (await follower.ledger.getBlockByNumber(n))?.hash(),
      (await validator.ledger.getBlockByNumber(n))?.hash(),
      'the same chain',
    )
  },
)
