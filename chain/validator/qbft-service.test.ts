/**
 * Validators in one process over an in-process consensus hub: real ledgers, real LevelDB,
 * the QBFT engine driving block production and import.
 */
import { bytesToHex } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import { makeGenesis, relayBlocks, tempDir, transfer, waitFor } from '../../test/support/chain.ts'
import { SidechainNode } from '../node.ts'
import { ManualScheduler } from '../util/scheduler.ts'
import { LocalConsensusHub, type QbftService } from './qbft-service.ts'

t.test(
  '4 validators finalize identical blocks; 1 silent is tolerated, 2 stop progress',
  async (t) => {
    const setup = makeGenesis({
      validators: 4,
      accounts: 2,
      config: { blockPeriodMs: 150, roundTimeoutMs: 600, roundTimeoutMaxMs: 2_000 },
    })
    const hub = new LocalConsensusHub()
    const nodes = setup.validators.map((key, i) => {
      const dir = tempDir(`qbft-${i}-`)
      t.teardown(() => dir.remove())
      const transport = hub.transport(`v${i}`)
      return {
        node: new SidechainNode({
          genesis: setup.genesis,
          datadir: dir.path,
          validatorKey: key,
          consensusTransport: transport,
        }),
        id: transport.id,
      }
    })
    for (const { node } of nodes) await node.start()
    relayBlocks(nodes.map(({ node }) => node.ledger))
    t.teardown(async () => {
      for (const { node } of nodes) await node.stop()
    })
    const heads = () => nodes.map(({ node }) => node.ledger.head.number)
    const minHead = () => heads().reduce((a, b) => (a < b ? a : b))

    await waitFor(() => minHead() >= 5n, { timeoutMs: 30_000, what: '5 blocks on every node' })
    // A transfer submitted to one validator's pool is included by whoever proposes next? Only
    // the proposer includes its own pool; submit to all to avoid depending on rotation.
    const tx = transfer(
      nodes[0]!.node.ledger.common,
      setup.accounts[0]!,
      setup.accounts[1]!.address,
      0n,
      7n,
    )
    for (const { node } of nodes) await node.txpool.addRaw(tx.serialize())
    await waitFor(
      async () => (await nodes[1]!.node.ledger.getTxLocation(tx.hash())) !== undefined,
      { timeoutMs: 30_000, what: 'transfer included' },
    )

    // One validator silent: f = 1, the others keep finalizing.
    hub.setOnline(nodes[3]!.id, false)
    const before = minHead()
    const live = () => nodes.slice(0, 3).map(({ node }) => node.ledger.head.number)
    await waitFor(() => live().every((h) => h >= before + 4n), {
      timeoutMs: 60_000,
      what: 'progress with one validator silent',
    })

    // Two silent: no quorum, nothing is finalized.
    hub.setOnline(nodes[2]!.id, false)
    await new Promise((r) => setTimeout(r, 300))
    const stalled = Math.max(...live().map(Number))
    await new Promise((r) => setTimeout(r, 2_500))
    t.ok(
      Math.max(...live().map(Number)) <= stalled + 1,
      'no progress without quorum (at most a block already in flight)',
    )

    // One comes back: progress resumes.
    hub.setOnline(nodes[2]!.id, true)
    await waitFor(() => live().every((h) => h >= BigInt(stalled) + 3n), {
      timeoutMs: 60_000,
      what: 'progress after a validator returns',
    })

    // No fork: every node that has a height has the same block there.
    const top = minHead()
    for (let n = 1n; n <= top; n++) {
      const hashes = new Set<string>()
      for (const { node } of nodes) hashes.add(bytesToHex((await node.ledger.getCanonicalHash(n))!))
      if (hashes.size !== 1) t.fail(`fork at ${n}`)
    }
    t.pass(`identical hashes on all nodes up to ${top}`)
    const commit = await nodes[0]!.node.ledger.getCommit(
      (await nodes[0]!.node.ledger.getCanonicalHash(2n))!,
    )
    t.ok(commit !== undefined && commit.seals.length >= 3, 'blocks carry a quorum of commit seals')
  },
)

t.test(
  'adding and then removing a validator by vote takes effect at the same height on all nodes',
  async (t) => {
    const setup = makeGenesis({
      validators: 5,
      accounts: 1,
      config: {
        blockPeriodMs: 100,
        roundTimeoutMs: 600,
        roundTimeoutMaxMs: 2_000,
        epochLength: 12,
      },
    })
    const newcomer = setup.validators[4]!
    // The genesis names only the first four; the fifth key waits to be voted in.
    const genesis = {
      ...setup.genesis,
      validators: setup.genesis.validators.filter((v) => v !== newcomer.addressHex),
    }
    const hub = new LocalConsensusHub()
    const nodes = setup.validators.map((key, i) => {
      const dir = tempDir(`vote-${i}-`)
      t.teardown(() => dir.remove())
      return new SidechainNode({
        genesis,
        datadir: dir.path,
        validatorKey: key,
        consensusTransport: hub.transport(`v${i}`),
      })
    })
    for (const node of nodes) await node.start()
    relayBlocks(nodes.map((node) => node.ledger))
    t.teardown(async () => {
      for (const node of nodes) await node.stop()
    })
    const member = (node: SidechainNode, n: bigint) =>
      node.ledger.rules.validatorSet
        .validatorsAt(n)
        .some((v) => bytesToHex(v) === newcomer.addressHex)
    /** First height (searching the chain) at which `wanted` membership holds on `node`. */
    const firstHeight = (node: SidechainNode, wanted: boolean, from: bigint) => {
      for (let n = from; n <= node.ledger.head.number + 1n; n++)
        if (member(node, n) === wanted) return n
      return undefined
    }
    t.notOk(member(nodes[0]!, 1n), 'the fifth key is not a validator at first')

    for (const node of nodes.slice(0, 4)) node.votes.propose(newcomer.address, true)
    await waitFor(() => nodes.every((node) => member(node, node.ledger.head.number + 1n)), {
      timeoutMs: 60_000,
      what: 'validator added on all nodes',
    })
    const added = nodes.map((node) => firstHeight(node, true, 1n))
    t.equal(
      new Set(added.map(String)).size,
      1,
      `added from the same height on all nodes (${added[0]})`,
    )

    // The newcomer proposes and seals once it is in the set.
    await waitFor(
      async () => {
        const head = nodes[0]!.ledger.head
        if (head.number < added[0]! + 6n) return false
        for (let n = added[0]!; n <= head.number; n++) {
          const block = await nodes[0]!.ledger.getBlockByNumber(n)
          if (
            block !== undefined &&
            bytesToHex(block.header.coinbase.bytes) === newcomer.addressHex
          )
            return true
        }
        return false
      },
      { timeoutMs: 60_000, what: 'a block proposed by the new validator' },
    )
    t.pass('the new validator proposed a block')

    for (const node of nodes) node.votes.propose(newcomer.address, false)
    await waitFor(() => nodes.every((node) => !member(node, node.ledger.head.number + 1n)), {
      timeoutMs: 60_000,
      what: 'validator removed on all nodes',
    })
    const removed = nodes.map((node) => firstHeight(node, false, added[0]!))
    t.equal(
      new Set(removed.map(String)).size,
      1,
      `removed from the same height on all nodes (${removed[0]})`,
    )
    const head = nodes[0]!.ledger.head.number
    await waitFor(() => nodes.slice(0, 4).every((node) => node.ledger.head.number >= head + 3n), {
      timeoutMs: 60_000,
      what: 'blocks after the removal',
    })
    for (let n = 1n; n <= head; n++) {
      const hashes = new Set(
        await Promise.all(
          nodes.map(async (node) => bytesToHex((await node.ledger.getCanonicalHash(n))!)),
        ),
      )
      if (hashes.size !== 1) t.fail(`fork at ${n}`)
    }
    t.pass('no fork across the changes (epoch blocks included)')
  },
)

/**
 * Waits for `check`, letting the timers due by now on `scheduler` run between polls, and
 * with them the async work they started (execution, LevelDB).
 */
const untilOn =
  (scheduler: ManualScheduler) =>
  async (what: string, check: () => boolean): Promise<void> => {
    await waitFor(
      () => {
        scheduler.advance(0)
        return check()
      },
      { timeoutMs: 10_000, intervalMs: 5, what },
    )
  }

/** Two validators over an in-process hub, each on the given (manual) clock, started. */
async function twoValidatorsOnClocks(t: Test, clocks: [ManualScheduler, ManualScheduler]) {
  const setup = makeGenesis({
    validators: 2,
    accounts: 2,
    config: { blockPeriodMs: 1_000, roundTimeoutMs: 4_000, roundTimeoutMaxMs: 8_000 },
  })
  const hub = new LocalConsensusHub()
  const nodes = setup.validators.map((key, i) => {
    const dir = tempDir(`qbft-clock-${i}-`)
    t.teardown(() => dir.remove())
    return new SidechainNode(
      {
        genesis: setup.genesis,
        datadir: dir.path,
        validatorKey: key,
        consensusTransport: hub.transport(`v${i}`),
        metrics: { host: '127.0.0.1', port: 0 },
      },
      { scheduler: clocks[i]! },
    )
  })
  for (const node of nodes) await node.start()
  t.teardown(async () => {
    for (const node of nodes) await node.stop()
  })
  return { setup, nodes }
}

t.test(
  'the next proposer builds early and still takes transactions that arrive before its slot',
  async (t) => {
    // One clock for both validators: the block period only passes when the test says so.
    const scheduler = new ManualScheduler(1_700_000_100_000)
    const { setup, nodes } = await twoValidatorsOnClocks(t, [scheduler, scheduler])
    const services = nodes.map((node) => node.engine as QbftService)
    const until = untilOn(scheduler)
    const proposerOf = (height: bigint) => {
      const set = nodes[0]!.ledger.rules.validatorSet.validatorsAt(height)
      const address = bytesToHex(services[0]!.engine.proposerOf(set, height, 0))
      return setup.validators.findIndex((v) => v.addressHex === address)
    }

    await until('block 1 on both', () => nodes.every((n) => n.ledger.head.number >= 1n))
    for (const height of [2n, 3n]) {
      const p = proposerOf(height)
      const [proposer, service] = [nodes[p]!, services[p]!]
      // The head's import opened the next block on its proposer, before the slot.
      await until(`block ${height} open and filled`, () => service.earlyBuild()?.filled === true)
      t.match(service.earlyBuild(), { height, transactions: 0 }, `block ${height} open early`)
      t.equal(proposer.ledger.head.number, height - 1n, `block ${height} waits for its slot`)

      // A transfer arrives after the first pass, before the slot: the last pass takes it.
      const late = transfer(
        proposer.ledger.common,
        setup.accounts[0]!,
        setup.accounts[1]!.address,
        height - 2n,
        5n,
      )
      await proposer.txpool.addRaw(late.serialize())
      const before = { ...service.proposals }
      scheduler.advance(1_000)
      await until(`block ${height} on both`, () =>
        nodes.every((n) => n.ledger.head.number >= height),
      )
      const block = await nodes[0]!.ledger.getBlockByNumber(height)
      t.same(
        block?.transactions.map((tx) => bytesToHex(tx.hash())),
        [bytesToHex(late.hash())],
        `block ${height} holds the transfer that arrived after its first pass`,
      )
      t.same(
        service.proposals,
        { total: before.total + 1, early: before.early + 1 },
        `block ${height} came from the early build`,
      )
      const metrics = await (await fetch(`${proposer.metrics!.url}/metrics`)).text()
      t.match(
        metrics,
        new RegExp(
          `^sidechain_qbft_own_proposals_total\\{build="early"\\} ${service.proposals.early}$`,
          'm',
        ),
        `block ${height}: the early proposals are exported`,
      )
    }
  },
)

t.test('a validator that already holds the next proposal starts that height at once', async (t) => {
  // Each validator on its own clock, so one can be left behind its block period.
  const clocks: [ManualScheduler, ManualScheduler] = [
    new ManualScheduler(1_700_000_100_000),
    new ManualScheduler(1_700_000_100_000),
  ]
  const { setup, nodes } = await twoValidatorsOnClocks(t, clocks)
  const until = (what: string, check: () => boolean) =>
    waitFor(
      () => {
        for (const clock of clocks) clock.advance(0)
        return check()
      },
      { timeoutMs: 10_000, intervalMs: 5, what },
    )
  await until('block 1 on both', () => nodes.every((n) => n.ledger.head.number >= 1n))

  const service = nodes[0]!.engine as QbftService
  const set = nodes[0]!.ledger.rules.validatorSet.validatorsAt(2n)
  const proposer = bytesToHex(service.engine.proposerOf(set, 2n, 0))
  const p = setup.validators.findIndex((v) => v.addressHex === proposer)
  const q = 1 - p
  const lagging = clocks[q]!.now()
  // Only the proposer's period passes. With two validators both must vote, so block 2 is
  // decided only if the other one starts height 2 when the proposal reaches it.
  clocks[p]!.advance(1_000)
  await until('block 2 on both', () => nodes.every((n) => n.ledger.head.number >= 2n))
  t.equal(clocks[q]!.now(), lagging, "the other validator's period never passed")
  t.same(
    nodes[q]!.ledger.head.hash(),
    nodes[p]!.ledger.head.hash(),
    'both finalized the same block 2',
  )
})

t.test(
  'a validator executes the next block from its proposer’s previews, then only the rest',
  async (t) => {
    const scheduler = new ManualScheduler(1_700_000_200_000)
    const { setup, nodes } = await twoValidatorsOnClocks(t, [scheduler, scheduler])
    const services = nodes.map((node) => node.engine as QbftService)
    const until = untilOn(scheduler)
    await until('block 1 on both', () => nodes.every((n) => n.ledger.head.number >= 1n))
    const set = nodes[0]!.ledger.rules.validatorSet.validatorsAt(2n)
    const proposerAddress = bytesToHex(services[0]!.engine.proposerOf(set, 2n, 0))
    const p = setup.validators.findIndex((v) => v.addressHex === proposerAddress)
    const [proposer, follower] = [nodes[p]!, nodes[1 - p]!]
    await until('block 2 open and filled', () => services[p]!.earlyBuild()?.filled === true)

    // Two transfers reach both pools (the hub carries no transaction gossip); the proposer's
    // next pass takes them and announces them.
    const [alice, bob] = [setup.accounts[0]!, setup.accounts[1]!]
    const common = proposer.ledger.common
    const both = [
      transfer(common, alice, bob.address, 0n, 1n),
      transfer(common, bob, alice.address, 0n, 2n),
    ]
    for (const node of nodes) for (const tx of both) await node.txpool.addRaw(tx.serialize())
    scheduler.advance(100)
    await until(
      'the follower executed both ahead',
      () => services[1 - p]!.previews.stats.executed === 2,
    )
    t.ok(services[p]!.previews.stats.announced >= 1, 'the proposer announced its block')

    // A third reaches the proposer first: its preview names a transaction the follower's
    // pool lacks, so the follower pauses there and resumes when gossip brings it.
    const third = transfer(common, alice, bob.address, 1n, 3n)
    await proposer.txpool.addRaw(third.serialize())
    const announced = services[p]!.previews.stats.announced
    scheduler.advance(50)
    await until(
      'the proposer announced the third',
      () => services[p]!.previews.stats.announced > announced,
    )
    t.equal(services[1 - p]!.previews.stats.executed, 2, 'the follower waits for it')
    await follower.txpool.addRaw(third.serialize())
    await until(
      'the follower executed the third ahead once its pool had it',
      () => services[1 - p]!.previews.stats.executed === 3,
    )

    // A fourth reaches the proposer only: the proposal's tail, run when it arrives.
    const late = transfer(common, alice, bob.address, 2n, 4n)
    await proposer.txpool.addRaw(late.serialize())
    const used = follower.ledger.speculativeValidations.used
    scheduler.advance(1_000)
    await until('block 2 on both', () => nodes.every((n) => n.ledger.head.number >= 2n))
    const block = await follower.ledger.getBlockByNumber(2n)
    t.same(
      block?.transactions.map((tx) => bytesToHex(tx.hash())),
      [...both, third, late].map((tx) => bytesToHex(tx.hash())),
      'the block holds the announced transfers, then the late one',
    )
    t.equal(
      follower.ledger.speculativeValidations.used,
      used + 1,
      'the follower validated it on what it had executed ahead',
    )
    t.same(
      (await follower.ledger.getBlockByNumber(2n))?.header.stateRoot,
      (await proposer.ledger.getBlockByNumber(2n))?.header.stateRoot,
      'both nodes agree on the state',
    )
    const metrics = await (await fetch(`${follower.metrics!.url}/metrics`)).text()
    t.match(
      metrics,
      new RegExp(
        `^sidechain_qbft_speculative_validations_total\\{outcome="used"\\} ${used + 1}$`,
        'm',
      ),
      'exported',
    )
  },
)

t.test('a height that starts a little late does not push the next ones back', async (t) => {
  const start = 1_700_000_300_000
  const scheduler = new ManualScheduler(start)
  const { nodes } = await twoValidatorsOnClocks(t, [scheduler, scheduler])
  const until = untilOn(scheduler)
  const heights = () => nodes.map((n) => (n.engine as QbftService).status().height)
  await until('block 1 on both', () => nodes.every((n) => n.ledger.head.number >= 1n))

  // Height 2 starts on time (start + 1000). Block 2 is finalized only 1100 ms later, after
  // height 3 was due: height 3 starts at once, 100 ms late.
  scheduler.advance(1_000)
  scheduler.advance(1_100)
  await until('block 2 on both', () => nodes.every((n) => n.ledger.head.number >= 2n))
  t.same(heights(), [3n, 3n], 'height 3 started as soon as block 2 was finalized')
  await until('block 3 on both', () => nodes.every((n) => n.ledger.head.number >= 3n))

  // Height 4 is due one period after height 3 was due (start + 3000), not after it started.
  scheduler.advance(start + 3_000 - 1 - scheduler.now())
  t.same(heights(), [3n, 3n], 'height 4 not started before it is due')
  scheduler.advance(1)
  t.same(heights(), [4n, 4n], 'height 4 started on the cadence')
  await until('block 4 on both', () => nodes.every((n) => n.ledger.head.number >= 4n))

  // Late by a quarter period or more (here 400 ms): the cadence restarts from the late start.
  scheduler.advance(1_000)
  scheduler.advance(1_400)
  await until('block 5 on both', () => nodes.every((n) => n.ledger.head.number >= 5n))
  await until('block 6 on both', () => nodes.every((n) => n.ledger.head.number >= 6n))
  scheduler.advance(999)
  t.same(heights(), [6n, 6n], 'height 7 not started one period after it was due')
  scheduler.advance(1)
  t.same(heights(), [7n, 7n], 'height 7 started one period after height 6 started')
})
