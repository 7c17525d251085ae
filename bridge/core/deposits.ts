/**
 * Which `Deposited` logs a relayer may believe (security invariant 6): emitted by the configured vault, in a
 * transaction whose receipt says it succeeded and contains that very log, in the block the log claims. Everything
 * else is rejected with a reason; a log whose block changed between the two requests (a reorg) asks for a retry.
 * Pure functions over viem data, so the rules are unit-tested without a chain.
 */
import {
  type Address,
  decodeEventLog,
  getAddress,
  type Hash,
  type Log,
  type TransactionReceipt,
  toEventSelector,
} from 'viem'
import { bridgeVaultAbi } from '../deploy/index.ts'

export interface VerifiedDeposit {
  depositId: bigint
  /** L1 token, `address(0)` for ETH. */
  token: Address
  from: Address
  to: Address
  amount: bigint
  blockNumber: bigint
  blockHash: Hash
  transactionHash: Hash
  logIndex: number
}

export type DepositRejection =
  | 'foreign-contract'
  | 'not-deposited-event'
  | 'removed'
  | 'pending'
  | 'reverted-transaction'
  | 'not-in-receipt'

export interface DepositLogVerdict {
  deposits: VerifiedDeposit[]
  rejected: Array<{ log: Log; reason: DepositRejection }>
  /** Set when the answer may change on a second look (missing receipt, block hash changed): retry the range. */
  retry: string | undefined
}

export const DEPOSITED_TOPIC = toEventSelector('Deposited(uint256,address,address,address,uint256)')

/**
 * Filters `logs` (from eth_getLogs on the vault) down to genuine deposits, in log order. `receipts` maps each
 * transaction hash to its receipt (missing = not found).
 */
export function verifyDepositLogs(params: {
  vault: Address
  logs: readonly Log[]
  receipts: ReadonlyMap<string, TransactionReceipt | undefined>
}): DepositLogVerdict {
  const vault = getAddress(params.vault)
  const verdict: DepositLogVerdict = { deposits: [], rejected: [], retry: undefined }
  for (const log of params.logs) {
    const reject = (reason: DepositRejection) => verdict.rejected.push({ log, reason })
    if (getAddress(log.address) !== vault) {
      reject('foreign-contract')
      continue
    }
    if (log.removed) {
      reject('removed')
      continue
    }
    if (log.topics[0] !== DEPOSITED_TOPIC) {
      reject('not-deposited-event')
      continue
    }
    if (
      log.blockHash === null ||
      log.blockNumber === null ||
      log.transactionHash === null ||
      log.logIndex === null
    ) {
      reject('pending')
      continue
    }
    let args: { depositId: bigint; token: Address; from: Address; to: Address; amount: bigint }
    try {
      const decoded = decodeEventLog({
        abi: bridgeVaultAbi,
        eventName: 'Deposited',
        data: log.data,
        topics: log.topics,
        strict: true,
      })
      args = decoded.args
    } catch {
      reject('not-deposited-event')
      continue
    }
    const receipt = params.receipts.get(log.transactionHash.toLowerCase())
    if (receipt === undefined) {
      verdict.retry = `no receipt for ${log.transactionHash}`
      continue
    }
    if (receipt.blockHash !== log.blockHash) {
      verdict.retry = `block of ${log.transactionHash} changed (reorg)`
      continue
    }
    if (receipt.status !== 'success') {
      reject('reverted-transaction')
      continue
    }
    const inReceipt = receipt.logs.some(
      (r) =>
        r.logIndex === log.logIndex &&
        getAddress(r.address) === vault &&
        r.data === log.data &&
        r.topics.length === log.topics.length &&
        r.topics.every((t, i) => t === log.topics[i]),
    )
    if (!inReceipt) {
      reject('not-in-receipt')
      continue
    }
    verdict.deposits.push({
      depositId: args.depositId,
      token: getAddress(args.token),
      from: getAddress(args.from),
      to: getAddress(args.to),
      amount: args.amount,
      blockNumber: log.blockNumber,
      blockHash: log.blockHash,
      transactionHash: log.transactionHash,
      logIndex: log.logIndex,
    })
  }
  return verdict
}

export interface GapFreeResult {
  /** Deposits with ids `nextId`, `nextId + 1`, ... without a hole, in id order. */
  accepted: VerifiedDeposit[]
  /** Id after the last accepted one. */
  nextId: bigint
  /** Id that was expected but not found before a higher one (scanning stops there). */
  missing: bigint | undefined
}

/**
 * Takes deposits in id order starting at `nextId`, skipping ids already taken (a rescan) and stopping at the
 * first hole: if id k is missing, nothing after k-1 is accepted.
 */
export function takeContiguous(
  deposits: readonly VerifiedDeposit[],
  nextId: bigint,
): GapFreeResult {
  const sorted = [...deposits].sort((a, b) =>
    a.depositId < b.depositId ? -1 : a.depositId > b.depositId ? 1 : 0,
  )
  const accepted: VerifiedDeposit[] = []
  let expected = nextId
  for (const d of sorted) {
    if (d.depositId < expected) continue
    if (d.depositId > expected) return { accepted, nextId: expected, missing: expected }
    accepted.push(d)
    expected++
  }
  return { accepted, nextId: expected, missing: undefined }
}
