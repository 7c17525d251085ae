import t from 'tap'
import {
  type Address,
  encodeAbiParameters,
  encodeEventTopics,
  type Hash,
  type Log,
  pad,
  type TransactionReceipt,
  toHex,
  zeroAddress,
} from 'viem'
import { bridgeVaultAbi } from '../deploy/index.ts'
import {
  DEPOSITED_TOPIC,
  takeContiguous,
  type VerifiedDeposit,
  verifyDepositLogs,
} from './deposits.ts'

const VAULT = '0x1111111111111111111111111111111111111111' as Address
const OTHER = '0x2222222222222222222222222222222222222222' as Address
const USER = '0x3333333333333333333333333333333333333333' as Address
const BLOCK_HASH = pad('0xb1', { size: 32 }) as Hash

function depositLog(params: {
  id: bigint
  address?: Address
  tx?: Hash
  logIndex?: number
  blockHash?: Hash
  amount?: bigint
  removed?: boolean
}): Log {
  const topics = encodeEventTopics({
    abi: bridgeVaultAbi,
    eventName: 'Deposited',
    args: { depositId: params.id, token: zeroAddress, from: USER },
  })
  return {
    address: params.address ?? VAULT,
    topics: topics as [Hash, ...Hash[]],
    data: encodeAbiParameters(
      [{ type: 'address' }, { type: 'uint256' }],
      [USER, params.amount ?? 10n],
    ),
    blockNumber: 5n,
    blockHash: params.blockHash ?? BLOCK_HASH,
    transactionHash: params.tx ?? (pad(toHex(params.id + 1n), { size: 32 }) as Hash),
    transactionIndex: 0,
    logIndex: params.logIndex ?? Number(params.id),
    removed: params.removed ?? false,
  }
}

function receiptFor(
  logs: Log[],
  status: 'success' | 'reverted' = 'success',
  blockHash = BLOCK_HASH,
) {
  return {
    status,
    blockHash,
    transactionHash: logs[0]!.transactionHash,
    logs,
  } as unknown as TransactionReceipt
}

function receipts(...rs: TransactionReceipt[]) {
  return new Map(rs.map((r) => [r.transactionHash.toLowerCase(), r]))
}

t.test('accepts a vault log from a successful transaction that contains it', async (t) => {
  const log = depositLog({ id: 0n })
  const v = verifyDepositLogs({ vault: VAULT, logs: [log], receipts: receipts(receiptFor([log])) })
  t.equal(v.deposits.length, 1)
  t.equal(v.retry, undefined)
  t.match(v.deposits[0], { depositId: 0n, token: zeroAddress, from: USER, to: USER, amount: 10n })
  t.equal(DEPOSITED_TOPIC, log.topics[0])
})

t.test('rejects the same log when the receipt says the transaction reverted', async (t) => {
  // A real EVM drops the logs of a reverted transaction; a lying or buggy RPC might not. The receipt decides.
  const log = depositLog({ id: 0n })
  const v = verifyDepositLogs({
    vault: VAULT,
    logs: [log],
    receipts: receipts(receiptFor([log], 'reverted')),
  })
  t.equal(v.deposits.length, 0)
  t.same(
    v.rejected.map((r) => r.reason),
    ['reverted-transaction'],
  )
})

t.test('rejects look-alike logs from another contract', async (t) => {
  const log = depositLog({ id: 0n, address: OTHER })
  const v = verifyDepositLogs({ vault: VAULT, logs: [log], receipts: receipts(receiptFor([log])) })
  t.equal(v.deposits.length, 0)
  t.equal(v.rejected[0]?.reason, 'foreign-contract')
})

t.test('rejects a log the receipt does not contain, removed logs and other events', async (t) => {
  const log = depositLog({ id: 0n })
  const forged = depositLog({ id: 0n, amount: 999n })
  const removed = depositLog({ id: 1n, removed: true })
  const other = { ...depositLog({ id: 2n }), topics: [pad('0x01', { size: 32 })] as [Hash] }
  const v = verifyDepositLogs({
    vault: VAULT,
    logs: [forged, removed, other],
    receipts: receipts(receiptFor([log])),
  })
  t.same(
    v.rejected.map((r) => r.reason),
    ['not-in-receipt', 'removed', 'not-deposited-event'],
  )
})

t.test('asks for a retry when the receipt is missing or from another block', async (t) => {
  const log = depositLog({ id: 0n })
  let v = verifyDepositLogs({ vault: VAULT, logs: [log], receipts: new Map() })
  t.equal(v.deposits.length, 0)
  t.match(v.retry, /no receipt/)
  v = verifyDepositLogs({
    vault: VAULT,
    logs: [log],
    receipts: receipts(receiptFor([log], 'success', pad('0xb2', { size: 32 }) as Hash)),
  })
  t.equal(v.deposits.length, 0)
  t.match(v.retry, /reorg/)
})

t.test('takeContiguous never skips an id', async (t) => {
  const d = (id: bigint) => ({ depositId: id }) as VerifiedDeposit
  t.same(
    takeContiguous([d(2n), d(0n), d(1n)], 0n).accepted.map((x) => x.depositId),
    [0n, 1n, 2n],
  )
  const gap = takeContiguous([d(3n), d(4n), d(6n)], 3n)
  t.same(
    gap.accepted.map((x) => x.depositId),
    [3n, 4n],
  )
  t.equal(gap.missing, 5n)
  t.equal(gap.nextId, 5n)
  const rescan = takeContiguous([d(1n), d(2n), d(3n)], 3n)
  t.same(
    rescan.accepted.map((x) => x.depositId),
    [3n],
  )
  const startsLate = takeContiguous([d(1n)], 0n)
  t.same(startsLate.accepted, [])
  t.equal(startsLate.missing, 0n)
})
