/**
 * JSON shapes of blocks, transactions, receipts and logs, as geth returns them (the
 * format viem, ethers, alloy/cast and MetaMask parse): quantities as 0x-hex without
 * leading zeros, data as 0x-hex, lowercase addresses, null for "not in a block yet".
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import { Capability, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import type { StoredReceipt } from '../execution/receipts.ts'

export type Hex = `0x${string}`

export function minBigInt(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}

export function quantity(value: bigint | number): Hex {
  return `0x${value.toString(16)}`
}

export function hex(bytes: Uint8Array): Hex {
  return bytesToHex(bytes) as Hex
}

/** Lowercase 0x address of 20 bytes. */
export function address(bytes: Uint8Array): Hex {
  return bytesToHex(bytes) as Hex
}

export interface RpcLog {
  address: Hex
  topics: Hex[]
  data: Hex
  blockNumber: Hex
  blockHash: Hex
  blockTimestamp: Hex
  transactionHash: Hex
  transactionIndex: Hex
  logIndex: Hex
  removed: false
}

/** Where a transaction sits, when it is in a block. */
export interface TxPosition {
  blockHash: Uint8Array
  blockNumber: bigint
  index: number
  /** Base fee of the block (for the effective gas price). */
  baseFee: bigint
  timestamp: bigint
}

/** Price per gas actually paid in a block with `baseFee`. */
export function effectiveGasPrice(tx: TypedTransaction, baseFee: bigint): bigint {
  if ('maxPriorityFeePerGas' in tx) {
    return baseFee + minBigInt(tx.maxFeePerGas - baseFee, tx.maxPriorityFeePerGas)
  }
  return (tx as { gasPrice: bigint }).gasPrice
}

export function formatHeader(header: BlockHeader): Record<string, unknown> {
  return {
    number: quantity(header.number),
    hash: hex(header.hash()),
    parentHash: hex(header.parentHash),
    nonce: hex(header.nonce),
    mixHash: hex(header.mixHash),
    sha3Uncles: hex(header.uncleHash),
    logsBloom: hex(header.logsBloom),
    transactionsRoot: hex(header.transactionsTrie),
    stateRoot: hex(header.stateRoot),
    receiptsRoot: hex(header.receiptTrie),
    miner: address(header.coinbase.bytes),
    difficulty: quantity(header.difficulty),
    extraData: hex(header.extraData),
    gasLimit: quantity(header.gasLimit),
    gasUsed: quantity(header.gasUsed),
    timestamp: quantity(header.timestamp),
    baseFeePerGas: quantity(header.baseFeePerGas ?? 0n),
    withdrawalsRoot: header.withdrawalsRoot === undefined ? undefined : hex(header.withdrawalsRoot),
    blobGasUsed: header.blobGasUsed === undefined ? undefined : quantity(header.blobGasUsed),
    excessBlobGas: header.excessBlobGas === undefined ? undefined : quantity(header.excessBlobGas),
    parentBeaconBlockRoot:
      header.parentBeaconBlockRoot === undefined ? undefined : hex(header.parentBeaconBlockRoot),
    requestsHash: header.requestsHash === undefined ? undefined : hex(header.requestsHash),
  }
}

export function formatBlock(block: Block, fullTransactions: boolean): Record<string, unknown> {
  const { header } = block
  const blockHash = header.hash()
  const baseFee = header.baseFeePerGas ?? 0n
  return {
    ...formatHeader(header),
    size: quantity(block.serialize().length),
    uncles: [],
    withdrawals: [],
    transactions: block.transactions.map((tx, index) =>
      fullTransactions
        ? formatTransaction(tx, {
            blockHash,
            blockNumber: header.number,
            index,
            baseFee,
            timestamp: header.timestamp,
          })
        : hex(tx.hash()),
    ),
  }
}

function formatAccessList(
  tx: TypedTransaction,
): Array<{ address: Hex; storageKeys: Hex[] }> | undefined {
  if (!tx.supports(Capability.EIP2930AccessLists)) return undefined
  const list = (tx as unknown as { accessList: Array<[Uint8Array, Uint8Array[]]> }).accessList
  return list.map(([addr, keys]) => ({ address: address(addr), storageKeys: keys.map(hex) }))
}

function formatAuthorizationList(tx: TypedTransaction): unknown[] | undefined {
  if (tx.type !== 4) return undefined
  const list = (tx as unknown as { authorizationList: Uint8Array[][] }).authorizationList
  const q = (b: Uint8Array | undefined) =>
    quantity(b === undefined || b.length === 0 ? 0n : BigInt(hex(b)))
  return list.map(([chainId, addr, nonce, yParity, r, s]) => ({
    chainId: q(chainId),
    address: address(addr!),
    nonce: q(nonce),
    yParity: q(yParity),
    r: q(r),
    s: q(s),
  }))
}

/** A transaction; `position` undefined for pending ones (block fields null). */
export function formatTransaction(
  tx: TypedTransaction,
  position: TxPosition | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    blockHash: position === undefined ? null : hex(position.blockHash),
    blockNumber: position === undefined ? null : quantity(position.blockNumber),
    transactionIndex: position === undefined ? null : quantity(position.index),
    hash: hex(tx.hash()),
    from: address(tx.getSenderAddress().bytes),
    to: tx.to === undefined ? null : address(tx.to.bytes),
    nonce: quantity(tx.nonce),
    gas: quantity(tx.gasLimit),
    value: quantity(tx.value),
    input: hex(tx.data),
    type: quantity(tx.type),
  }
  if ('maxPriorityFeePerGas' in tx) {
    out.maxFeePerGas = quantity(tx.maxFeePerGas)
    out.maxPriorityFeePerGas = quantity(tx.maxPriorityFeePerGas)
    out.gasPrice = quantity(
      position === undefined ? tx.maxFeePerGas : effectiveGasPrice(tx, position.baseFee),
    )
  } else {
    out.gasPrice = quantity((tx as { gasPrice: bigint }).gasPrice)
  }
  const accessList = formatAccessList(tx)
  if (accessList !== undefined) out.accessList = accessList
  const authorizationList = formatAuthorizationList(tx)
  if (authorizationList !== undefined) out.authorizationList = authorizationList
  const chainId =
    (tx as { chainId?: bigint }).chainId ?? (tx.type === 0 ? tx.common.chainId() : undefined)
  if (chainId !== undefined && (tx.type !== 0 || (tx.v !== undefined && tx.v >= 35n)))
    out.chainId = quantity(chainId)
  out.v = quantity(tx.v ?? 0n)
  out.r = quantity(tx.r ?? 0n)
  out.s = quantity(tx.s ?? 0n)
  if (tx.type !== 0) out.yParity = quantity(tx.v ?? 0n)
  if (position !== undefined) out.blockTimestamp = quantity(position.timestamp)
  return out
}

/** Logs of one stored receipt, with block-level indices starting at `firstLogIndex`. */
export function formatLogs(
  logs: readonly StoredReceipt['logs'][number][],
  ctx: {
    blockHash: Uint8Array
    blockNumber: bigint
    timestamp: bigint
    txHash: Uint8Array
    txIndex: number
    firstLogIndex: number
  },
): RpcLog[] {
  const blockHash = hex(ctx.blockHash)
  const blockNumber = quantity(ctx.blockNumber)
  const blockTimestamp = quantity(ctx.timestamp)
  const transactionHash = hex(ctx.txHash)
  const transactionIndex = quantity(ctx.txIndex)
  return logs.map(([addr, topics, data], i) => ({
    address: address(addr),
    topics: topics.map(hex),
    data: hex(data),
    blockNumber,
    blockHash,
    blockTimestamp,
    transactionHash,
    transactionIndex,
    logIndex: quantity(ctx.firstLogIndex + i),
    removed: false,
  }))
}

export function formatReceipt(
  block: Block,
  receipts: readonly StoredReceipt[],
  index: number,
  firstLogIndex: number,
): Record<string, unknown> {
  const tx = block.transactions[index]!
  const receipt = receipts[index]!
  const { header } = block
  const baseFee = header.baseFeePerGas ?? 0n
  return {
    transactionHash: hex(tx.hash()),
    transactionIndex: quantity(index),
    blockHash: hex(header.hash()),
    blockNumber: quantity(header.number),
    from: address(tx.getSenderAddress().bytes),
    to: tx.to === undefined ? null : address(tx.to.bytes),
    cumulativeGasUsed: quantity(receipt.cumulativeGasUsed),
    gasUsed: quantity(receipt.gasUsed),
    contractAddress:
      receipt.contractAddress === undefined ? null : address(receipt.contractAddress),
    logs: formatLogs(receipt.logs, {
      blockHash: header.hash(),
      blockNumber: header.number,
      timestamp: header.timestamp,
      txHash: tx.hash(),
      txIndex: index,
      firstLogIndex,
    }),
    logsBloom: hex(receipt.logsBloom),
    type: quantity(receipt.txType),
    status: quantity(receipt.status),
    effectiveGasPrice: quantity(effectiveGasPrice(tx, baseFee)),
    blockTimestamp: quantity(header.timestamp),
  }
}

/** All receipts of a block (eth_getBlockReceipts). */
export function formatBlockReceipts(
  block: Block,
  receipts: readonly StoredReceipt[],
): Record<string, unknown>[] {
  let logIndex = 0
  return receipts.map((receipt, i) => {
    const formatted = formatReceipt(block, receipts, i, logIndex)
    logIndex += receipt.logs.length
    return formatted
  })
}

/** Index of the first log of transaction `index` within its block. */
export function firstLogIndexOf(receipts: readonly StoredReceipt[], index: number): number {
  let n = 0
  for (let i = 0; i < index; i++) n += receipts[i]!.logs.length
  return n
}
