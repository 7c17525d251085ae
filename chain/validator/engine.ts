/**
 * The seam between the node and a consensus protocol. An engine decides blocks and hands
 * them to the ledger with their commit seals; the node only starts and stops it.
 */
import type { KeyPair } from '../lib/keys.ts'
import type { Signer } from '../lib/signer.ts'

/**
 * A validator's key: a key pair in this process, or a signer that holds it elsewhere (a
 * remote signer: no private key here, so no block previews, see speculation.ts).
 */
export type ValidatorKey = KeyPair | Signer

export function isSigner(key: ValidatorKey): key is Signer {
  return typeof (key as Signer).sign === 'function'
}

/** The private key when it is in this process, else undefined. */
export function localPrivateKey(key: ValidatorKey): Uint8Array | undefined {
  return isSigner(key) ? undefined : key.privateKey
}

export interface ConsensusEngine {
  start(): Promise<void>
  stop(): Promise<void>
}
