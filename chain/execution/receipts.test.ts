/**
 * Receipts are encoded with our own RLP writer: the consensus bytes must be ethereumjs'
 * `encodeReceipt` output (the receipts root depends on them) for every transaction type and
 * status, and stored receipts must decode to what was stored.
 */
import type { Log } from '@ethereumjs/evm'
import { encodeReceipt } from '@ethereumjs/vm'
import t from 'tap'
import {
  consensusReceiptBytes,
  decodeStoredReceipts,
  encodeStoredReceipts,
  type StoredReceipt,
} from './receipts.ts'

const filled = (length: number, value: number) => new Uint8Array(length).fill(value)
const transferLog: Log = [
  filled(20, 1),
  [filled(32, 2), filled(32, 3), filled(32, 4)],
  filled(32, 5),
]
const anonymousLog: Log = [filled(20, 6), [], new Uint8Array(0)]

const receipts: StoredReceipt[] = [0, 1, 2, 3, 4].flatMap((txType) =>
  ([0, 1] as const).map((status) => ({
    txType,
    status,
    cumulativeGasUsed: 21_000n * BigInt(txType + 1) + BigInt(status),
    gasUsed: 21_000n,
    logsBloom: filled(256, txType),
    logs: status === 1 ? [transferLog, anonymousLog] : [],
    contractAddress: txType === 2 ? filled(20, 9) : undefined,
  })),
)

t.test('consensus bytes are encodeReceipt’s', async (t) => {
  for (const r of receipts) {
    const expected = encodeReceipt(
      {
        status: r.status,
        cumulativeBlockGasUsed: r.cumulativeGasUsed,
        bitvector: r.logsBloom,
        logs: r.logs,
      },
      r.txType as Parameters<typeof encodeReceipt>[1],
    )
    t.same(consensusReceiptBytes(r), expected, `type ${r.txType}, status ${r.status}`)
  }
})

t.test('stored receipts decode to what was stored', async (t) => {
  t.same(decodeStoredReceipts(encodeStoredReceipts(receipts)), receipts)
  t.same(decodeStoredReceipts(encodeStoredReceipts([])), [])
})
