/**
 * A transaction's encoding, computed once. ethereumjs encodes a transaction again at every
 * `serialize()` (RLP of every field, bigints to bytes); a validator under load serialized
 * each one five times (its hash, the transactions root at validation and at sealing, the
 * stored block, gossip), about 3% of its CPU. A signed transaction is frozen and never
 * changes, so its first encoding serves every later call.
 */
import type { TypedTransaction } from '@ethereumjs/tx'

/**
 * Freezes `tx` (built with `freeze: false`) the way ethereumjs would, with `serialize()`
 * returning the encoding computed now. Freezing also turns on ethereumjs' caching of the
 * hash and the sender's public key. Callers must not modify the returned bytes.
 */
export function freezeWithEncoding<T extends TypedTransaction>(tx: T): T {
  if (Object.isFrozen(tx)) return tx
  const encoded = tx.serialize()
  Object.defineProperty(tx, 'serialize', { value: () => encoded })
  return Object.freeze(tx)
}
