/**
 * A block decoded from the network carries fresh transaction objects: building them costs a
 * validator tens of milliseconds per proposal (RLP fields to bigints, per transaction), and
 * executing them would recover every sender again (ecrecover, the dearest step of a
 * transfer), although the pool usually holds the very same transactions with their senders
 * already recovered. The decoder below looks each transaction up by the hash of its bytes in
 * the block and takes the pool's object when there is one. That is safe because the hash
 * commits to every byte: the pool's object serializes to exactly those bytes.
 */
import {
  Block,
  type BlockOptions,
  createBlockFromBytesArray,
  createBlockFromRLP,
} from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { createTxFromBlockBodyData, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { createKeccak256 } from '../crypto/index.ts'

export interface KnownTransactions {
  get(hash: string): { tx: TypedTransaction } | undefined
}

/**
 * Decodes a serialized block as ethereumjs' `createBlockFromRLP` does (same checks, same
 * errors for malformed input), except that each transaction `known` holds is the known
 * object instead of a new one. Without `known` it is `createBlockFromRLP`.
 */
export function decodeBlock(encoded: Uint8Array, common: Common, known?: KnownTransactions): Block {
  const options: BlockOptions = { common, skipConsensusFormatValidation: true }
  if (known === undefined) return createBlockFromRLP(encoded, options)
  if (common.isActivatedEIP(7934)) {
    const max = common.param('maxRlpBlockSize')
    if (BigInt(encoded.length) > max) {
      throw new Error(`Block size exceeds limit: ${encoded.length} > ${max}`)
    }
  }
  const values = RLP.decode(encoded)
  if (!Array.isArray(values)) throw new Error('Invalid serialized block input. Must be array')
  const [headerData, txsData, ...rest] = values
  if (txsData !== undefined && !Array.isArray(txsData)) {
    throw new Error('Invalid serialized block input: transactions must be a list')
  }
  // Header, uncles and withdrawals through ethereumjs, with its checks; transactions below.
  const shell = createBlockFromBytesArray([headerData, [], ...rest] as never, options)
  const keccak256 = createKeccak256()
  const transactions = (txsData ?? []).map((data) => {
    // A typed transaction is its bytes in the body; a legacy one is its field list.
    const bytes = data instanceof Uint8Array ? data : RLP.encode(data)
    const pooled = known.get(bytesToHex(keccak256(bytes)))
    return pooled?.tx ?? createTxFromBlockBodyData(data as never, { common: shell.common })
  })
  return new Block(shell.header, transactions, [...shell.uncleHeaders], shell.withdrawals, {
    common: shell.common,
  })
}
