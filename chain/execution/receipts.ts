/**
 * Stored receipts: per transaction, the consensus receipt (EIP-2718 typed encoding, what
 * the receipts root commits to) plus the few derived fields RPC needs without re-executing
 * (gas used by the tx, created contract address).
 */

import type { Log } from '@ethereumjs/evm'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt } from '@ethereumjs/util'
import { bigintBytes } from '../util/bigint-bytes.ts'
import { encodeRlp } from '../util/rlp-encode.ts'
import { ExecutionError } from './errors.ts'

export interface StoredReceipt {
  txType: number
  status: 0 | 1
  cumulativeGasUsed: bigint
  gasUsed: bigint
  logsBloom: Uint8Array
  logs: Log[]
  contractAddress: Uint8Array | undefined
}

/**
 * The consensus encoding (what the receipts root commits to), as ethereumjs' `encodeReceipt`
 * writes it: rlp([status, cumulative gas, bloom, logs]), after the type byte unless legacy.
 * Its pre-Byzantium state root in place of the status never applies here. The gas is
 * written as upstream's `bigIntToBytes` writes it (`bigintBytes`: 0x00 for zero, not the
 * empty string of an RLP integer), so the bytes stay upstream's.
 */
export function consensusReceiptBytes(receipt: StoredReceipt): Uint8Array {
  const encoded = encodeRlp([
    receipt.status === 0 ? new Uint8Array(0) : Uint8Array.of(1),
    bigintBytes(receipt.cumulativeGasUsed),
    receipt.logsBloom,
    receipt.logs,
  ])
  if (receipt.txType === 0) return encoded
  const typed = new Uint8Array(encoded.length + 1)
  typed[0] = receipt.txType
  typed.set(encoded, 1)
  return typed
}

export function encodeStoredReceipts(receipts: readonly StoredReceipt[]): Uint8Array {
  return encodeRlp(
    receipts.map((r) => [
      bigintBytes(BigInt(r.txType)),
      r.status === 1 ? Uint8Array.of(1) : new Uint8Array(0),
      bigintBytes(r.cumulativeGasUsed),
      bigintBytes(r.gasUsed),
      r.logsBloom,
      r.logs,
      r.contractAddress ?? new Uint8Array(0),
    ]),
  )
}

export function decodeStoredReceipts(data: Uint8Array): StoredReceipt[] {
  const decoded = RLP.decode(data) as unknown
  if (!Array.isArray(decoded))
    throw new ExecutionError('STORAGE_CORRUPT', 'stored receipts are not a list')
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
