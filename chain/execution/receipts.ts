/**
 * Stored receipts: per transaction, the consensus receipt (EIP-2718 typed encoding, what
 * the receipts root commits to) plus the few derived fields RPC needs without re-executing
 * (gas used by the tx, created contract address).
 */

import type { Log } from '@ethereumjs/evm'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToBytes, bytesToBigInt } from '@ethereumjs/util'
import { encodeReceipt } from '@ethereumjs/vm'
import { SidechainError } from '../errors.ts'

export interface StoredReceipt {
  txType: number
  status: 0 | 1
  cumulativeGasUsed: bigint
  gasUsed: bigint
  logsBloom: Uint8Array
  logs: Log[]
  contractAddress: Uint8Array | undefined
}

export function consensusReceiptBytes(receipt: StoredReceipt): Uint8Array {
  return encodeReceipt(
    {
      status: receipt.status,
      cumulativeBlockGasUsed: receipt.cumulativeGasUsed,
      bitvector: receipt.logsBloom,
      logs: receipt.logs,
    },
    receipt.txType as Parameters<typeof encodeReceipt>[1],
  )
}

export function encodeStoredReceipts(receipts: readonly StoredReceipt[]): Uint8Array {
  return RLP.encode(
    receipts.map((r) => [
      bigIntToBytes(BigInt(r.txType)),
      r.status === 1 ? Uint8Array.of(1) : new Uint8Array(0),
      bigIntToBytes(r.cumulativeGasUsed),
      bigIntToBytes(r.gasUsed),
      r.logsBloom,
      r.logs,
      r.contractAddress ?? new Uint8Array(0),
    ]),
  )
}

export function decodeStoredReceipts(data: Uint8Array): StoredReceipt[] {
  const decoded = RLP.decode(data) as unknown
  if (!Array.isArray(decoded))
    throw new SidechainError('STORAGE_CORRUPT', 'stored receipts are not a list')
  return decoded.map((item) => {
    const [txType, status, cumulative, gasUsed, bloom, logs, contract] = item as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Log[],
      Uint8Array,
    ]
    return {
      txType: Number(bytesToBigInt(txType)),
      status: status.length === 1 ? 1 : 0,
      cumulativeGasUsed: bytesToBigInt(cumulative),
      gasUsed: bytesToBigInt(gasUsed),
      logsBloom: bloom,
      logs,
      contractAddress: contract.length === 20 ? contract : undefined,
    }
  })
}
