/**
 * Storage faults under QBFT: 4 validators in one process (real ledgers on real LevelDB, an
 * in-process consensus hub, blocks relayed between ledgers as sync would), each on a
 * FaultyChainDb that can hold or fail block writes.
 * - A block whose write waits for its sync is not announced before it: no head (the event
 *   gossip, RPC subscriptions and the pool follow), no RPC answer, no next-height message.
 * - One validator whose writes fail turns unhealthy with the reason, retries, recovers.
 * - Writes failing on every validator halt the chain (no fork, no progress); it resumes.
 * - A single validator (its own engine) whose writes fail turns unhealthy and recovers.
 */
import { bytesToHex } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import { decodeMessage } from '../../chain/consensus/qbft/messages.ts'
import { SidechainNode } from '../../chain/node.ts'
import { LocalConsensusHub } from '../../chain/validator/qbft-service.ts'
import { PREVIEW_TAG } from '../../chain/validator/speculation.ts'
import { makeGenesis, relayBlocks, tempDir, waitFor } from '../support/chain.ts'
import { FaultyChainDb } from '../support/faulty-chain-db.ts'

interface Member {
  node: SidechainNode
  db: FaultyChainDb
  /** Heights of the consensus messages this node sent, in order. */
  sentHeights: bigint[]
  /** Block numbers of the node's 'head' events, in order. */
  heads: bigint[]
}

async function startNetwork(t: Test): Promise<Member[]> {
  const setup = makeGenesis({
    validators: 4,
    accounts: 1,
    config: { blockPeriodMs: 150, roundTimeoutMs: 600, roundTimeoutMaxMs: 2_000 },
  })
  const hub = new LocalConsensusHub()
  const members = setup.validators.map((key, i): Member => {
    const dir = tempDir(`storage-faults-${i}-`)
    t.teardown(() => dir.remove())
    const sentHeights: bigint[] = []
    const transport = hub.transport(`v${i}`)
    let db: FaultyChainDb | undefined
    const node = new SidechainNode(
      {
        genesis: setup.genesis,
        datadir: dir.path,
        validatorKey: key,
        rpc: { host: '127.0.0.1', port: 0 },
        metrics: { host: '127.0.0.1', port: 0, health: { maxConsecutiveWriteFailures: 3 } },
        consensusTransport: {
          attach: (handler) => {
            const channel = transport.attach(handler)
            return {
              publish: (data) => {
                if (data[0] !== PREVIEW_TAG) {
                  const message = decodeMessage(data, { maxBytes: 16 * 1024 * 1024 })
                  sentHeights.push(message.signed.payload.height)
                }
                channel.publish(data)
              },
              detach: () => channel.detach(),
            }
          },
        },
      },
      {
        createChainDb: (path) => {
          db = new FaultyChainDb(path)
          return db
        },
      },
    )
    return { node, db: db!, sentHeights, heads: [] }
  })
  for (const member of members) {
    await member.node.start()
    member.node.ledger.on('head', (imported) => member.heads.push(imported.block.header.number))
  }
  relayBlocks(members.map((m) => m.node))
  t.teardown(async () => {
    for (const m of members) {
      m.db.failWrites = false
      m.db.release()
    }
    for (const m of members) await m.node.stop()
  })
  return members
}

const headOf = (m: Member) => m.node.ledger.head.number
const minHead = (members: Member[]) => members.map(headOf).reduce((a, b) => (a < b ? a : b))

async function rpc(m: Member, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(m.node.rpc!.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  return ((await res.json()) as { result: unknown }).result
}

async function health(m: Member, path: '/health' | '/ready' = '/health') {
  const res = await fetch(`${m.node.metrics!.url}${path}`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Every height up to the lowest head holds the same block on every node. */
async function assertNoFork(t: Test, members: Member[]) {
  const top = minHead(members)
  for (let n = 1n; n <= top; n++) {
    const hashes = new Set<string>()
    for (const m of members) hashes.add(bytesToHex((await m.node.ledger.getCanonicalHash(n))!))
    if (hashes.size !== 1) t.fail(`fork at ${n}`)
  }
  t.pass(`one block per height on every node up to ${top}`)
}

t.test('a block whose write waits for its sync is not announced before it', async (t) => {
  const members = await startNetwork(t)
  const [held, ...others] = members as [Member, ...Member[]]
  await waitFor(() => minHead(members) >= 2n, { what: '2 blocks everywhere' })
  const h = headOf(held) + 2n
  held.db.holdWritesFrom(h)
  await waitFor(() => held.db.holding.includes(h), { what: `the write of block ${h} held` })
  // The others go on without it (3 of 4 are a quorum).
  await waitFor(() => others.every((m) => headOf(m) >= h + 2n), { what: 'the others 2 further' })
  const sentBeforeRelease = held.sentHeights.length
  t.equal(headOf(held), h - 1n, 'the ledger head stays below the held block')
  t.notOk(held.heads.includes(h), 'no head event (gossip, subscriptions, pool) for it')
  t.equal(await rpc(held, 'eth_blockNumber'), `0x${(h - 1n).toString(16)}`, 'eth_blockNumber')
  t.equal(await rpc(held, 'eth_getBlockByNumber', [`0x${h.toString(16)}`, false]), null)
  const hash = bytesToHex((await others[0]!.node.ledger.getCanonicalHash(h))!)
  t.equal(await rpc(held, 'eth_getBlockByHash', [hash, false]), null, 'not by hash either')
  t.notOk(
    held.sentHeights.some((height) => height > h),
    'no consensus message for a later height',
  )

  held.db.release()
  await waitFor(() => headOf(held) >= h + 1n, { what: 'the held node moves on' })
  const firstLater = held.sentHeights.findIndex((height) => height > h)
  t.ok(firstLater === -1 || firstLater >= sentBeforeRelease, 'later heights only after the sync')
  t.ok(held.heads.includes(h), 'the block is announced once written')
  await assertNoFork(t, members)
})

t.test('a validator whose writes fail turns unhealthy, retries and recovers', async (t) => {
  const members = await startNetwork(t)
  const [failing, ...others] = members as [Member, ...Member[]]
  await waitFor(() => minHead(members) >= 2n, { what: '2 blocks everywhere' })
  t.equal((await health(failing)).status, 200, 'healthy at first')
  failing.db.failWrites = true
  const stuckAt = headOf(failing)
  const unhealthy = await waitFor(
    async () => {
      const answer = await health(failing)
      return answer.status === 503 ? answer.body : undefined
    },
    { what: '/health 503' },
  )
  t.equal(unhealthy.status, 'unhealthy')
  t.match(unhealthy.reasons, [
    /block import failing: \d+ block writes failed in a row .*injected fault/,
  ])
  const ready = await health(failing, '/ready')
  t.equal(ready.status, 503, '/ready 503 too')
  t.match(ready.body.reasons, [/block import failing/])
  const metrics = await (await fetch(`${failing.node.metrics!.url}/metrics`)).text()
  const failures = Number(/^sidechain_block_import_failures_total (\d+)/m.exec(metrics)?.[1])
  t.ok(failures >= 3, `import failures counted (${failures})`)
  t.equal(headOf(failing), stuckAt, 'nothing written meanwhile')
  await waitFor(() => others.every((m) => headOf(m) >= stuckAt + 3n), {
    what: 'the others go on',
  })

  failing.db.failWrites = false
  const target = minHead(others) + 2n
  await waitFor(() => headOf(failing) >= target, { what: 'the failing node catches up' })
  t.equal((await health(failing)).status, 200, 'healthy again')
  t.equal(failing.node.ledger.writeFailures.consecutive, 0)
  await assertNoFork(t, members)
})

t.test('writes failing on every validator halt the chain safely; it resumes', async (t) => {
  const members = await startNetwork(t)
  await waitFor(() => minHead(members) >= 2n, { what: '2 blocks everywhere' })
  for (const m of members) m.db.failWrites = true
  const before = members.map(headOf)
  for (const m of members) {
    await waitFor(async () => (await health(m)).status === 503, { what: 'every node unhealthy' })
  }
  const attempts = members.map((m) => m.db.attempts.length)
  await waitFor(() => members.every((m, i) => m.db.attempts.length >= attempts[i]! + 1), {
    what: 'every node retried',
  })
  // Nothing was written anywhere after the fault: at most a write already past the check.
  members.forEach((m, i) => {
    t.ok(headOf(m) <= before[i]! + 1n, `v${i} made no progress`)
  })
  await assertNoFork(t, members)
  const halted = members.map(headOf).reduce((a, b) => (a > b ? a : b))

  for (const m of members) m.db.failWrites = false
  await waitFor(() => minHead(members) >= halted + 3n, {
    timeoutMs: 30_000,
    what: 'the chain resumes',
  })
  for (const m of members) t.equal((await health(m)).status, 200, 'healthy again')
  await assertNoFork(t, members)
})

t.test('a single validator whose writes fail turns unhealthy and recovers', async (t) => {
  const setup = makeGenesis({ accounts: 1, config: { blockPeriodMs: 100 } })
  const dir = tempDir('storage-faults-single-')
  t.teardown(() => dir.remove())
  let db: FaultyChainDb | undefined
  const node = new SidechainNode(
    {
      genesis: setup.genesis,
      datadir: dir.path,
      validatorKey: setup.validators[0],
      metrics: { host: '127.0.0.1', port: 0 },
    },
    {
      createChainDb: (path) => {
        db = new FaultyChainDb(path)
        return db
      },
    },
  )
  await node.start()
  t.teardown(async () => {
    db!.failWrites = false
    await node.stop()
  })
  const member = { node, db: db!, sentHeights: [], heads: [] }
  await waitFor(() => node.ledger.head.number >= 2n, { what: '2 blocks' })
  db!.failWrites = true
  const stuckAt = node.ledger.head.number
  const body = await waitFor(
    async () => {
      const answer = await health(member)
      return answer.status === 503 ? answer.body : undefined
    },
    { what: '/health 503' },
  )
  t.match(body.reasons, [/block import failing/])
  t.ok(node.ledger.head.number <= stuckAt + 1n, 'no block written meanwhile')
  db!.failWrites = false
  await waitFor(() => node.ledger.head.number >= stuckAt + 3n, { what: 'blocks again' })
  t.equal((await health(member)).status, 200, 'healthy again')
})
