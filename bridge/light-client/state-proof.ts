/**
 * EIP-1186 proofs (`eth_getProof`) checked against a state root the light client verified:
 * the account proof against the header's `stateRoot`, each storage proof against the proven
 * account's storage root. The values the endpoint states beside the proofs are never read;
 * only what the proofs prove counts.
 */
import { verifyMerkleProof } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import {
  bytesToBigInt,
  bytesToHex,
  hexToBytes,
  KECCAK256_RLP,
  setLengthLeft,
} from '@ethereumjs/util'
import type { Address, Hex } from 'viem'
import { keccak256 } from '../../chain/crypto/index.ts'
import { BridgeError } from '../core/errors.ts'

/** The `eth_getProof` answer (geth's shape). */
export interface RpcProof {
  address: Hex
  accountProof: Hex[]
  storageHash?: Hex
  storageProof: Array<{ key: Hex; value: Hex; proof: Hex[] }>
}

export interface ProvenAccount {
  nonce: bigint
  balance: bigint
  storageRoot: Hex
  codeHash: Hex
  /** Proven slot values by slot (32-byte hex, lowercase). */
  storage: Map<Hex, bigint>
}

const EMPTY_TRIE_ROOT = bytesToHex(KECCAK256_RLP)

function invalid(message: string, details: Record<string, unknown>, cause?: unknown): BridgeError {
  return new BridgeError('RELAYER_PROOF_INVALID', message, { details, cause })
}

/** The 32-byte form of a storage slot (the key the storage trie hashes). */
export function slotKey(slot: bigint): Hex {
  return bytesToHex(setLengthLeft(hexToBytes(`0x${slot.toString(16).padStart(2, '0')}`), 32)) as Hex
}

const trieOptions = (root: Uint8Array) => ({
  root,
  useKeyHashing: true,
  useKeyHashingFunction: keccak256,
})

async function proveValue(
  root: Uint8Array,
  key: Uint8Array,
  proof: Hex[],
  what: string,
): Promise<Uint8Array | null> {
  if (!Array.isArray(proof)) throw invalid(`${what}: no proof`, {})
  // An empty trie holds nothing, and only it may come with an empty proof.
  if (proof.length === 0) {
    if (bytesToHex(root) === EMPTY_TRIE_ROOT) return null
    throw invalid(`${what}: empty proof`, {})
  }
  try {
    return await verifyMerkleProof(
      key,
      proof.map((node) => hexToBytes(node)),
      trieOptions(root),
    )
  } catch (cause) {
    throw invalid(`${what}: the proof does not verify against root ${bytesToHex(root)}`, {}, cause)
  }
}

/**
 * Verifies `proof` for `address` and `slots` against `stateRoot`. A slot missing from the
 * answer, or an account the proof shows absent, is refused.
 */
export async function verifyAccountProof(
  stateRoot: Hex,
  address: Address,
  slots: readonly bigint[],
  proof: RpcProof,
): Promise<ProvenAccount> {
  if (proof === null || typeof proof !== 'object' || !Array.isArray(proof.storageProof))
    throw invalid('malformed eth_getProof answer', { address })
  const accountRlp = await proveValue(
    hexToBytes(stateRoot),
    hexToBytes(address),
    proof.accountProof,
    `account ${address}`,
  )
  if (accountRlp === null)
    throw invalid(`account ${address} does not exist at ${stateRoot}`, { address })
  const fields = RLP.decode(accountRlp) as Uint8Array[]
  if (!Array.isArray(fields) || fields.length !== 4)
    throw invalid(`account ${address}: bad encoding`, {})
  const [nonce, balance, storageRoot, codeHash] = fields as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ]
  const storage = new Map<Hex, bigint>()
  for (const slot of slots) {
    const key = slotKey(slot)
    const item = proof.storageProof.find((p) => {
      try {
        return typeof p.key === 'string' && BigInt(p.key) === slot
      } catch {
        return false
      }
    })
    if (item === undefined) throw invalid(`no storage proof for slot ${key}`, { slot: key })
    const valueRlp = await proveValue(storageRoot, hexToBytes(key), item.proof, `slot ${key}`)
    storage.set(key, valueRlp === null ? 0n : bytesToBigInt(RLP.decode(valueRlp) as Uint8Array))
  }
  return {
    nonce: bytesToBigInt(nonce),
    balance: bytesToBigInt(balance),
    storageRoot: bytesToHex(storageRoot) as Hex,
    codeHash: bytesToHex(codeHash) as Hex,
    storage,
  }
}
