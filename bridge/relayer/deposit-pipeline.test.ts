/**
 * The L1 scanner against a scripted RPC: it never skips a deposit id (a lossy getLogs, a missing last log, a log
 * from a reverted transaction), never looks past the confirmations, and journals deposits with the cursor.
 */
import path from 'node:path'
import t from 'tap'
import {
  type Address,
  encodeAbiParameters,
  encodeEventTopics,
  type Hash,
  type Log,
  type PublicClient,
  pad,
  type TransactionReceipt,
  toHex,
  zeroAddress,
} from 'viem'
import { silentLogger } from '../../chain/lib/logger.ts'
import { tempDir } from '../../test/support/chain.ts'
import { bridgeVaultAbi } from '../deploy/index.ts'
import { RelayerJournal } from '../journal/journal.ts'
import { DepositPipeline } from './deposit-pipeline.ts'
import { RelayerMetrics } from './metrics.ts'
import type { TxSender } from './tx-sender.ts'

const VAULT = '0x1111111111111111111111111111111111111111' as Address
const USER = '0x3333333333333333333333333333333333333333' as Address
const blockHash = (n: bigint) => pad(toHex(n), { size: 32 }) as Hash

interface Deposit {
  id: bigint
  block: bigint
  status?: 'success' | 'reverted'
}

function logOf(d: Deposit): Log {
  return {
    address: VAULT,
    topics: encodeEventTopics({
      abi: bridgeVaultAbi,
      eventName: 'Deposited',
      args: { depositId: d.id, token: zeroAddress, from: USER },
    }) as [Hash, ...Hash[]],
    data: encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [USER, 1000n + d.id]),
    blockNumber: d.block,
    blockHash: blockHash(d.block),
    transactionHash: pad(toHex(100n + d.id), { size: 32 }) as Hash,
    transactionIndex: 0,
    logIndex: 0,
    removed: false,
  }
}

/** A scripted L1: `deposits` exist on chain; `hide` makes getLogs lose some of them. */
function fakeL1(state: {
  head: bigint
  deposits: Deposit[]
  hide: Set<bigint>
  maxToBlock: bigint[]
}) {
  const client = {
    getBlockNumber: async () => state.head,
    getBlock: async ({ blockNumber }: { blockNumber: bigint }) => ({
      number: blockNumber,
      hash: blockHash(blockNumber),
    }),
    getLogs: async ({ fromBlock, toBlock }: { fromBlock: bigint; toBlock: bigint }) => {
      state.maxToBlock.push(toBlock)
      return state.deposits
        .filter((d) => d.block >= fromBlock && d.block <= toBlock && !state.hide.has(d.id))
        .map(logOf)
    },
    getTransactionReceipt: async ({ hash }: { hash: Hash }) => {
      const d = state.deposits.find((x) => logOf(x).transactionHash === hash)!
      const log = logOf(d)
      return {
        status: d.status ?? 'success',
        blockHash: log.blockHash,
        transactionHash: hash,
        logs: [log],
      } as unknown as TransactionReceipt
    },
    readContract: async ({
      functionName,
      blockNumber,
    }: {
      functionName: string
      blockNumber: bigint
    }) => {
      if (functionName !== 'depositCount') throw new Error(`unexpected ${functionName}`)
      return BigInt(state.deposits.filter((d) => d.block <= blockNumber).length)
    },
  }
  return client as unknown as PublicClient
}

async function setup(
  t: { teardown(fn: () => unknown): void },
  state: Parameters<typeof fakeL1>[0],
  confirmations = 3,
) {
  const dir = tempDir('deposit-pipeline-')
  const journal = new RelayerJournal(path.join(dir.path, 'journal'))
  await journal.open()
  t.teardown(async () => {
    await journal.close()
    dir.remove()
  })
  const metrics = new RelayerMetrics({ defaultMetrics: false })
  const pipeline = new DepositPipeline(
    {
      vault: VAULT,
      l1ChainId: 31337,
      bridge: '0x2222222222222222222222222222222222222222',
      confirmations,
      startBlock: 1n,
      maxBlockRange: 100n,
    },
    {
      l1: fakeL1(state),
      sidechain: {} as PublicClient,
      sender: {} as TxSender,
      journal,
      metrics,
      logger: silentLogger(),
      crash: () => {},
    },
  )
  await pipeline.load()
  return { pipeline, journal, metrics }
}

t.test('a lost log stops the scan before it; the next scan picks everything up', async (t) => {
  const state = {
    head: 20n,
    deposits: [
      { id: 0n, block: 5n },
      { id: 1n, block: 6n },
      { id: 2n, block: 7n },
    ],
    hide: new Set([1n]),
    maxToBlock: [] as bigint[],
  }
  const { pipeline, journal } = await setup(t, state)
  await pipeline.scan()
  t.same(
    (await journal.pendingDeposits()).map((d) => d.depositId),
    [0n],
    'only the contiguous prefix is taken',
  )
  t.same(await journal.getCursor('l1'), { nextBlock: 5n, nextId: 1n, lastBlockHash: undefined })
  state.hide.clear()
  await pipeline.scan()
  t.same(
    (await journal.pendingDeposits()).map((d) => d.depositId),
    [0n, 1n, 2n],
  )
  t.match(await journal.getCursor('l1'), { nextBlock: 19n, nextId: 3n })
})

t.test('a lost last log is caught by the vault depositCount', async (t) => {
  const state = {
    head: 20n,
    deposits: [
      { id: 0n, block: 5n },
      { id: 1n, block: 9n },
    ],
    hide: new Set([1n]),
    maxToBlock: [] as bigint[],
  }
  const { pipeline, journal, metrics } = await setup(t, state)
  await pipeline.scan()
  t.same(
    (await journal.pendingDeposits()).map((d) => d.depositId),
    [0n],
  )
  t.match(await journal.getCursor('l1'), { nextBlock: 5n, nextId: 1n })
  const errors = await metrics.errors.get()
  t.ok(
    errors.values.some((v) => v.labels.kind === 'gap' && v.value >= 1),
    'the gap is counted',
  )
})

t.test(
  'a log from a reverted transaction is never taken, and nothing after it either',
  async (t) => {
    const state = {
      head: 20n,
      deposits: [
        { id: 0n, block: 5n },
        { id: 1n, block: 6n, status: 'reverted' as const },
        { id: 2n, block: 7n },
      ],
      hide: new Set<bigint>(),
      maxToBlock: [] as bigint[],
    }
    const { pipeline, journal } = await setup(t, state)
    await pipeline.scan()
    await pipeline.scan()
    t.same(
      (await journal.pendingDeposits()).map((d) => d.depositId),
      [0n],
    )
    t.match(await journal.getCursor('l1'), { nextId: 1n })
  },
)

t.test('blocks without the confirmations are not even asked for', async (t) => {
  const state = {
    head: 8n,
    deposits: [
      { id: 0n, block: 5n },
      { id: 1n, block: 7n },
    ],
    hide: new Set<bigint>(),
    maxToBlock: [] as bigint[],
  }
  const { pipeline, journal } = await setup(t, state, 3)
  await pipeline.scan()
  t.ok(
    state.maxToBlock.every((b) => b <= 6n),
    'getLogs stops at head - confirmations + 1',
  )
  t.same(
    (await journal.pendingDeposits()).map((d) => d.depositId),
    [0n],
  )
  state.head = 9n
  await pipeline.scan()
  t.same(
    (await journal.pendingDeposits()).map((d) => d.depositId),
    [0n, 1n],
  )
})

t.test(
  'deposits vanishing below the confirmations (a deeper reorg) halt the scan loudly',
  async (t) => {
    const state = {
      head: 20n,
      deposits: [
        { id: 0n, block: 5n },
        { id: 1n, block: 6n },
      ],
      hide: new Set<bigint>(),
      maxToBlock: [] as bigint[],
    }
    const { pipeline, journal } = await setup(t, state)
    await pipeline.scan()
    t.match(await journal.getCursor('l1'), { nextId: 2n })
    // L1 reorganizes below the confirmations: deposit 1 is gone, the chain grows past it.
    state.deposits = [{ id: 0n, block: 5n }]
    state.head = 30n
    await t.rejects(pipeline.scan(), { code: 'RELAYER_DEEP_REORG' })
    t.match(
      await journal.getCursor('l1'),
      { nextId: 2n, nextBlock: 19n },
      'the cursor does not move',
    )
  },
)
