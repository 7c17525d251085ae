/**
 * A block decoded from the network carries fresh transaction objects: executing them would
 * recover every sender again (ecrecover, the dearest step of a transfer), although the pool
 * usually holds the very same transactions with their senders already recovered. Swapping in
 * the pool's objects is safe because a transaction hash commits to every byte of it.
 */
import { Block } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'

export interface KnownTransactions {
  get(hash: string): { tx: TypedTransaction } | undefined
}

/** `block` with each transaction the pool knows replaced by the pool's object (same bytes). */
export function withKnownTransactions(block: Block, known: KnownTransactions): Block {
  let reused = 0
  const txs = block.transactions.map((tx) => {
    const pooled = known.get(bytesToHex(tx.hash()))
    if (pooled === undefined) return tx
    reused++
    return pooled.tx
  })
  if (reused === 0) return block
  return new Block(block.header, txs, [...block.uncleHeaders], block.withdrawals, {
    common: block.common,
  })
}
