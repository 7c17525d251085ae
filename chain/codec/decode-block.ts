/**
 * Decoding a block from the network (a proposal, a gossiped block). It lives with the
 * ledger, whose imports take the decoded objects and which consensus, sync and the pool may
 * all use; the pool is one source of known transactions (KnownTransactions), passed in by
 * the caller, so neither consensus nor the ledger imports the pool.
 *
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
  type BlockHeader,
  type BlockOptions,
  createBlockFromBytesArray,
} from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { createTxFromBlockBodyData, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { keccak256 } from '../crypto/index.ts'
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'
import { freezeWithEncoding } from './transaction-encoding.ts'

/** Transactions already decoded, with their senders recovered, by hash (hex): the pool. */
export interface KnownTransactions {
  get(hash: string): { tx: TypedTransaction } | undefined
}

export type CodecErrorCode = ErrorCodeOf<'codec'>

export class BlockDecodeError extends SidechainError<CodecErrorCode> {
  override readonly name = 'BlockDecodeError'
}

const malformed = (message: string, cause?: unknown) =>
  new BlockDecodeError('BLOCK_MALFORMED', `block does not decode: ${message}`, { cause })

/**
 * Decodes a serialized block with ethereumjs' checks (header, transactions, uncles,
 * withdrawals, the EIP-7934 size cap), except that each transaction `known` holds is the
 * known object instead of a new one. Slightly stricter than `createBlockFromRLP`: the
 * transactions must be an RLP list (upstream takes a byte string as an empty one). Every
 * proposal is decoded here, with or without a pool, so validators agree on what decodes.
 * When `withoutTransactions(header)` holds, the block comes back without its transactions
 * (still checked to be a list): for a caller that judges it by its header alone.
 * Throws BlockDecodeError (BLOCK_MALFORMED) with the upstream error as cause.
 */
export function decodeBlock(
  encoded: Uint8Array,
  common: Common,
  known?: KnownTransactions,
  withoutTransactions?: (header: BlockHeader) => boolean,
): Block {
  const options: BlockOptions = { common, skipConsensusFormatValidation: true }
  if (common.isActivatedEIP(7934)) {
    const max = common.param('maxRlpBlockSize')
    if (BigInt(encoded.length) > max) throw malformed(`size ${encoded.length} above ${max}`)
  }
  let values: unknown
  try {
    values = RLP.decode(encoded)
  } catch (cause) {
    throw malformed('not RLP', cause)
  }
  if (!Array.isArray(values)) throw malformed('not a list')
  const [headerData, txsData, ...rest] = values as unknown[]
  if (!Array.isArray(txsData)) throw malformed('transactions must be a list')
  try {
    // Header, uncles and withdrawals through ethereumjs, with its checks; transactions below.
    const shell = createBlockFromBytesArray([headerData, [], ...rest] as never, options)
    if (withoutTransactions?.(shell.header) === true) return shell
    const transactions = txsData.map((data) => {
      // A typed transaction is its bytes in the body; a legacy one is its field list.
      const pooled =
        known === undefined
          ? undefined
          : known.get(bytesToHex(keccak256(data instanceof Uint8Array ? data : RLP.encode(data))))
      return (
        pooled?.tx ??
        freezeWithEncoding(
          createTxFromBlockBodyData(data as never, { common: shell.common, freeze: false }),
        )
      )
    })
    return new Block(shell.header, transactions, [...shell.uncleHeaders], shell.withdrawals, {
      common: shell.common,
    })
  } catch (cause) {
    throw malformed((cause as Error).message, cause)
  }
}
