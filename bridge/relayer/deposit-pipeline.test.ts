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
  TransactionReceiptNotFoundError,
  toHex,
  zeroAddress,
  zeroHash,
} from 'viem'
import { silentLogger } from '../../chain/lib/logger.ts'
import { tempDir } from '../../test/support/chain.ts'
import { bridgeVaultAbi } from '../deploy/index.ts'
import { RelayerJournal } from '../journal/journal.ts'
import { DepositPipeline } from './deposit-pipeline.ts'
import type { ItemRunner } from './item-runner.ts'
import { RelayerMetrics } from './metrics.ts'
import type { TxSender } from './tx-sender.ts'

const VAULT = '0x1111111111111111111111111111111111111111' as Address
const USER = '0x3333333333333333333333333333333333333333' as Address
/** Block hashes of fork `fork` (a deep reorg switches forks: every block from the fork point gets a new hash). */
const blockHash = (n: bigint, fork = 0) =>
  pad(toHex(n + BigInt(fork) * 1_000_000n), { size: 32 }) as Hash

interface Deposit {
  id: bigint
  block: bigint
  status?: 'success' | 'reverted'
  /** Default 1000 + id. */
  amount?: bigint
  /** Fork whose block hashes this deposit's block has (default 0). */
  fork?: number
}

function logOf(d: Deposit): Log {
  return {
    address: VAULT,
    topics: encodeEventTopics({
      abi: bridgeVaultAbi,
      eventName: 'Deposited',
      args: { depositId: d.id, token: zeroAddress, from: USER },
    }) as [Hash, ...Hash[]],
    data: encodeAbiParameters(
      [{ type: 'address' }, { type: 'uint256' }],
      [USER, d.amount ?? 1000n + d.id],
    ),
    blockNumber: d.block,
    blockHash: blockHash(d.block, d.fork),
    transactionHash: pad(toHex(100n + d.id + (d.amount ?? 0n) * 7n), { size: 32 }) as Hash,
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
  /** The canonical chain is fork `fork.id` from block `fork.from` on (default: fork 0 everywhere). */
  fork?: { id: number; from: bigint }
  /** A lagging endpoint: it has the blocks but answers no receipt. */
  noReceipts?: boolean
}) {
  const forkOf = (n: bigint) =>
    state.fork !== undefined && n >= state.fork.from ? state.fork.id : 0
  const client = {
    getBlockNumber: async () => state.head,
    getBlock: async ({ blockNumber }: { blockNumber: bigint }) => ({
      number: blockNumber,
      hash: blockHash(blockNumber, forkOf(blockNumber)),
    }),
    getLogs: async ({ fromBlock, toBlock }: { fromBlock: bigint; toBlock: bigint }) => {
      state.maxToBlock.push(toBlock)
      return state.deposits
        .filter((d) => d.block >= fromBlock && d.block <= toBlock && !state.hide.has(d.id))
        .map(logOf)
    },
    getTransactionReceipt: async ({ hash }: { hash: Hash }) => {
      const d = state.deposits.find((x) => logOf(x).transactionHash === hash)
      if (d === undefined || state.noReceipts === true)
        throw new TransactionReceiptNotFoundError({ hash })
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

/** A sidechain where nothing is minted or voted yet; `votes` collects the confirmDeposit calls sent. */
function fakeSidechain(votes: unknown[][]) {
  const sidechain = {
    readContract: async ({ functionName }: { functionName: string }) => {
      if (functionName === 'wrappedTokenOf') return '0x4444444444444444444444444444444444444444'
      return zeroHash
    },
  } as unknown as PublicClient
  const sender = {
    address: '0x5555555555555555555555555555555555555555',
    send: async ({ args }: { args: unknown[] }) => {
      votes.push(args)
      return { logs: [], transactionHash: zeroHash }
    },
  } as unknown as TxSender
  return { sidechain, sender }
}

/** Runs dispatched items at once and collects their errors. */
function collectingRunner() {
  const running: Promise<void>[] = []
  const errors: unknown[] = []
  const runner = {
    run: (_key: string, action: () => Promise<void>) => {
      running.push(action().catch((err: unknown) => void errors.push(err)))
    },
  } as unknown as ItemRunner
  return { runner, errors, settle: () => Promise.all(running) }
}

async function setup(
  t: { teardown(fn: () => unknown): void },
  state: Parameters<typeof fakeL1>[0],
  confirmations = 3,
  chain: { sidechain: PublicClient; sender: TxSender } = {
    sidechain: {} as PublicClient,
    sender: {} as TxSender,
  },
  second?: Parameters<typeof fakeL1>[0],
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
      l1Second: second === undefined ? undefined : fakeL1(second),
      sidechain: chain.sidechain,
      sender: chain.sender,
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
  const { pipeline, journal, metrics } = await setup(t, state)
  const block = async (gauge: typeof metrics.lastScannedBlock) =>
    (await gauge.get()).values.find((v) => v.labels.chain === 'l1')?.value
  await pipeline.scan()
  t.same(
    (await journal.pendingDeposits()).map((d) => d.depositId),
    [0n],
    'only the contiguous prefix is taken',
  )
  t.equal(await block(metrics.scanTargetBlock), 18, 'scan target: head - confirmations + 1')
  t.equal(
    await block(metrics.lastScannedBlock),
    4,
    'the scan lags behind it (the alert reads both)',
  )
  t.same(await journal.getCursor('l1'), { nextBlock: 5n, nextId: 1n, lastBlockHash: undefined })
  state.hide.clear()
  await pipeline.scan()
  t.same(
    (await journal.pendingDeposits()).map((d) => d.depositId),
    [0n, 1n, 2n],
  )
  t.match(await journal.getCursor('l1'), { nextBlock: 19n, nextId: 3n })
  t.equal(await block(metrics.lastScannedBlock), 18, 'caught up: no lag')
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

/** L1 with deposit 0 in block 5 and deposit 1 (100 ETH) in block 6, 20 blocks deep. */
function beforeDeepReorg(): Parameters<typeof fakeL1>[0] {
  return {
    head: 20n,
    deposits: [
      { id: 0n, block: 5n },
      { id: 1n, block: 6n, amount: 100n * 10n ** 18n },
    ],
    hide: new Set<bigint>(),
    maxToBlock: [],
  }
}

/** L1 reorganizes from block 6, deeper than the confirmations: deposit 1 is now 1 wei in block 7. */
function reorgFromBlock6(state: Parameters<typeof fakeL1>[0]): void {
  state.fork = { id: 1, from: 6n }
  state.deposits = [
    { id: 0n, block: 5n },
    { id: 1n, block: 7n, amount: 1n, fork: 1 },
  ]
}

t.test(
  'a deep reorg that replaces a journaled deposit halts: nothing is voted, the stored hash is kept',
  async (t) => {
    // Security review finding 3: the mismatch was only logged and the stored hash overwritten, and deposit 1 was
    // then voted with its orphaned payload (100 ETH) although L1 now has 1 wei under that id.
    const state = beforeDeepReorg()
    const votes: unknown[][] = []
    const { pipeline, journal, metrics } = await setup(t, state, 3, fakeSidechain(votes))
    await pipeline.scan()
    const cursor = await journal.getCursor('l1')
    t.match(cursor, { nextId: 2n, nextBlock: 19n })
    reorgFromBlock6(state)
    state.head = 30n
    await t.rejects(pipeline.scan(), { code: 'RELAYER_DEEP_REORG' })
    const { runner, settle } = collectingRunner()
    pipeline.dispatch(runner)
    await settle()
    t.same(votes, [], 'nothing is voted')
    t.same(await journal.getCursor('l1'), cursor, 'the stored hash is kept (a restart halts again)')
    t.match(pipeline.haltReason, /reorg deeper than the configured confirmations/)
    t.equal((await metrics.l1Halted.get()).values[0]?.value, 1)
    await t.rejects(pipeline.scan(), { code: 'RELAYER_DEEP_REORG' }, 'it stays halted')
  },
)

t.test(
  'right before a vote the deposit is checked on L1 again; a vanished one halts',
  async (t) => {
    const state = beforeDeepReorg()
    const votes: unknown[][] = []
    const { pipeline } = await setup(t, state, 3, fakeSidechain(votes))
    await pipeline.scan()
    // The reorg happens between the scan and the vote (no scan in between sees it).
    reorgFromBlock6(state)
    const { runner, errors, settle } = collectingRunner()
    pipeline.dispatch(runner)
    await settle()
    t.same(
      votes.map((args) => args[0]),
      [0n],
      'deposit 0 (unchanged) is voted, deposit 1 is not',
    )
    t.match(errors, [{ code: 'RELAYER_DEEP_REORG' }])
    t.match(pipeline.haltReason, /deposit 1 is no longer on L1/)
  },
)

t.test('a receipt missing on a lagging endpoint is retried, it does not halt', async (t) => {
  // Review of the halt: only a different block at the journaled height is evidence of a reorg.
  const state: Parameters<typeof fakeL1>[0] = {
    head: 20n,
    deposits: [
      { id: 0n, block: 5n },
      { id: 1n, block: 6n },
    ],
    hide: new Set<bigint>(),
    maxToBlock: [],
  }
  const votes: unknown[][] = []
  const { pipeline } = await setup(t, state, 3, fakeSidechain(votes))
  await pipeline.scan()
  state.noReceipts = true
  const first = collectingRunner()
  pipeline.dispatch(first.runner)
  await first.settle()
  t.same(votes, [], 'nothing voted while the receipts are missing')
  t.match(first.errors, [
    { code: 'RELAYER_INCONSISTENT_VIEW' },
    { code: 'RELAYER_INCONSISTENT_VIEW' },
  ])
  t.equal(pipeline.haltReason, undefined, 'not halted')
  state.noReceipts = false
  const second = collectingRunner()
  pipeline.dispatch(second.runner)
  await second.settle()
  t.same(
    votes.map((args) => args[0]),
    [0n, 1n],
    'both voted once the endpoint has the receipts',
  )
})

t.test('with a second L1 endpoint, a deposit is voted only when both agree', async (t) => {
  const deposits = [
    { id: 0n, block: 5n },
    { id: 1n, block: 6n },
  ]
  const state: Parameters<typeof fakeL1>[0] = {
    head: 20n,
    deposits,
    hide: new Set<bigint>(),
    maxToBlock: [],
  }
  // The second endpoint knows deposit 0 as the first does, and deposit 1 with another amount.
  const second: Parameters<typeof fakeL1>[0] = {
    head: 20n,
    deposits: [deposits[0]!, { id: 1n, block: 6n, amount: 1n }],
    hide: new Set<bigint>(),
    maxToBlock: [],
  }
  const votes: unknown[][] = []
  const { pipeline, metrics } = await setup(t, state, 3, fakeSidechain(votes), second)
  await pipeline.scan()
  const { runner, errors, settle } = collectingRunner()
  pipeline.dispatch(runner)
  await settle()
  t.same(
    votes.map((args) => args[0]),
    [0n],
    'deposit 0 is voted; deposit 1, which the second endpoint does not confirm, is not',
  )
  t.match(errors, [{ code: 'RELAYER_L1_SOURCES_DISAGREE' }])
  t.equal(pipeline.haltReason, undefined, 'a disagreement is retried, it does not halt')
  const refusals = await metrics.verificationRefusals.get()
  t.same(
    refusals.values.map((v) => [v.labels.code, v.value]),
    [['RELAYER_L1_SOURCES_DISAGREE', 1]],
  )
  second.deposits = deposits
  const again = collectingRunner()
  pipeline.dispatch(again.runner)
  await again.settle()
  // (The scripted sidechain reports no votes, so deposit 0 is voted again: only deposit 1 matters here.)
  t.same(
    votes.filter((args) => args[0] === 1n).length,
    1,
    'deposit 1 is voted once the second endpoint agrees',
  )
  t.same(again.errors, [])
})
