/**
 * Decoding and stateless validation of a raw transaction, in the order that gives the most
 * precise error: size, envelope, chain id, signature shape (low-s), then ethereumjs
 * construction (which recovers nothing yet: the sender is recovered once and cached).
 */
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToBigInt } from '@ethereumjs/util'
import { freezeWithEncoding } from '../codec/transaction-encoding.ts'
import { SECP256K1_N_DIV_2 } from '../crypto/index.ts'
import { TxPoolError } from './errors.ts'

const SUPPORTED_TYPES = new Set([0, 1, 2, 4])

export function decodeRawTransaction(
  raw: Uint8Array,
  common: Common,
  maxSize: number,
): TypedTransaction {
  if (raw.length > maxSize) {
    throw new TxPoolError('TX_OVERSIZED', 'oversized data', {
      details: { size: raw.length, max: maxSize },
    })
  }
  if (raw.length === 0) throw new TxPoolError('TX_INVALID_ENCODING', 'empty transaction')
  const typed = raw[0]! <= 0x7f
  const type = typed ? raw[0]! : 0
  if (!SUPPORTED_TYPES.has(type)) {
    throw new TxPoolError('TX_UNSUPPORTED_TYPE', 'transaction type not supported', {
      details: { type },
    })
  }
  let fields: Uint8Array[]
  try {
    const decoded = RLP.decode(typed ? raw.subarray(1) : raw)
    if (
      !Array.isArray(decoded) ||
      decoded.some((f) => !(f instanceof Uint8Array) && !Array.isArray(f))
    )
      throw new Error('not a list')
    fields = decoded as Uint8Array[]
  } catch (cause) {
    throw new TxPoolError('TX_INVALID_ENCODING', 'rlp: transaction is not valid RLP', { cause })
  }
  const chainId = common.chainId()
  let v: bigint
  let s: Uint8Array | undefined
  if (typed) {
    const first = fields[0]
    if (!(first instanceof Uint8Array))
      throw new TxPoolError('TX_INVALID_ENCODING', 'bad chain id field')
    const txChainId = bytesToBigInt(first)
    if (txChainId !== chainId) {
      throw new TxPoolError('TX_WRONG_CHAIN_ID', 'invalid chain id for signer', {
        details: { expected: chainId, got: txChainId },
      })
    }
    s = fields[fields.length - 1]
    v = bytesToBigInt(fields[fields.length - 3] as Uint8Array)
  } else {
    if (fields.length !== 9)
      throw new TxPoolError('TX_INVALID_ENCODING', 'legacy transaction must have 9 fields')
    v = bytesToBigInt(fields[6] as Uint8Array)
    s = fields[8]
    if (v === 27n || v === 28n) {
      throw new TxPoolError(
        'TX_UNPROTECTED',
        'only replay-protected (EIP-155) transactions allowed over RPC',
      )
    }
    const txChainId = (v - 35n) / 2n
    if (v < 35n || txChainId !== chainId) {
      throw new TxPoolError('TX_WRONG_CHAIN_ID', 'invalid chain id for signer', {
        details: { expected: chainId, v },
      })
    }
  }
  if (!(s instanceof Uint8Array) || s.length > 32)
    throw new TxPoolError('TX_INVALID_SIGNATURE', 'invalid signature')
  const sValue = bytesToBigInt(s)
  if (sValue === 0n) throw new TxPoolError('TX_INVALID_SIGNATURE', 'transaction is not signed')
  if (sValue > SECP256K1_N_DIV_2) {
    throw new TxPoolError('TX_HIGH_S', 'invalid signature: s value above secp256k1n/2 (EIP-2)')
  }
  void v
  let tx: TypedTransaction
  try {
    tx = freezeWithEncoding(createTxFromRLP(raw, { common, freeze: false }))
  } catch (cause) {
    throw new TxPoolError(
      'TX_INVALID_ENCODING',
      `invalid transaction: ${(cause as Error).message}`,
      { cause },
    )
  }
  try {
    // Recovers the sender's public key once; ethereumjs caches it on the (frozen) tx.
    tx.getSenderPublicKey()
  } catch (cause) {
    throw new TxPoolError('TX_INVALID_SIGNATURE', 'invalid signature: sender cannot be recovered', {
      cause,
    })
  }
  return tx
}
