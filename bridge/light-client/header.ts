/**
 * Sidechain headers as the relayer's light client sees them: rebuilt from the JSON of
 * `eth_getBlockByNumber` and hashed here (keccak of the RLP header, the ordinary Ethereum
 * block hash), so the hash the commit seals are checked against is never the endpoint's word.
 * A field the endpoint changed changes the hash, and the seals no longer count.
 */
import { RLP } from '@ethereumjs/rlp'
import { Address, bigIntToUnpaddedBytes, bytesToHex, hexToBytes } from '@ethereumjs/util'
import type { Hex } from 'viem'
import { keccak256 } from '../../chain/crypto/index.ts'
import { BridgeError } from '../core/errors.ts'

/** The JSON-RPC block fields that make up the header (geth's names). */
export interface RpcHeader {
  hash: Hex
  parentHash: Hex
  sha3Uncles: Hex
  miner: Hex
  stateRoot: Hex
  transactionsRoot: Hex
  receiptsRoot: Hex
  logsBloom: Hex
  difficulty: Hex
  number: Hex
  gasLimit: Hex
  gasUsed: Hex
  timestamp: Hex
  extraData: Hex
  mixHash: Hex
  nonce: Hex
  baseFeePerGas?: Hex
  withdrawalsRoot?: Hex
  blobGasUsed?: Hex
  excessBlobGas?: Hex
  parentBeaconBlockRoot?: Hex
  requestsHash?: Hex
}

/** A header whose hash was computed here; shaped for chain/consensus (ConsensusHeader). */
export interface LightHeader {
  number: bigint
  hashHex: Hex
  parentHash: Hex
  stateRoot: Hex
  coinbase: Address
  extraData: Uint8Array
  hash(): Uint8Array
}

type Kind = 'bytes' | 'quantity'

/** Header fields in RLP order; the optional tail (London and later forks) stops at the first absent one. */
const FIELDS: ReadonlyArray<readonly [keyof RpcHeader, Kind, boolean]> = [
  ['parentHash', 'bytes', true],
  ['sha3Uncles', 'bytes', true],
  ['miner', 'bytes', true],
  ['stateRoot', 'bytes', true],
  ['transactionsRoot', 'bytes', true],
  ['receiptsRoot', 'bytes', true],
  ['logsBloom', 'bytes', true],
  ['difficulty', 'quantity', true],
  ['number', 'quantity', true],
  ['gasLimit', 'quantity', true],
  ['gasUsed', 'quantity', true],
  ['timestamp', 'quantity', true],
  ['extraData', 'bytes', true],
  ['mixHash', 'bytes', true],
  ['nonce', 'bytes', true],
  ['baseFeePerGas', 'quantity', false],
  ['withdrawalsRoot', 'bytes', false],
  ['blobGasUsed', 'quantity', false],
  ['excessBlobGas', 'quantity', false],
  ['parentBeaconBlockRoot', 'bytes', false],
  ['requestsHash', 'bytes', false],
]

const HEX = /^0x[0-9a-fA-F]*$/

function malformed(message: string, details: Record<string, unknown>): BridgeError {
  return new BridgeError('RELAYER_HEADER_MISMATCH', message, { details })
}

/** The RLP header encoding of `json` (throws RELAYER_HEADER_MISMATCH on a malformed field). */
export function encodeRpcHeader(json: RpcHeader): Uint8Array {
  const items: Uint8Array[] = []
  let tail = false
  for (const [name, kind, required] of FIELDS) {
    const value = json[name]
    if (value === undefined || value === null) {
      if (required) throw malformed(`header field ${name} is missing`, { field: name })
      tail = true
      continue
    }
    if (tail) throw malformed(`header field ${name} follows an absent field`, { field: name })
    if (typeof value !== 'string' || !HEX.test(value))
      throw malformed(`header field ${name} is not hex`, { field: name })
    items.push(
      kind === 'quantity'
        ? bigIntToUnpaddedBytes(BigInt(value))
        : hexToBytes(value.length % 2 === 0 ? (value as Hex) : (`0x0${value.slice(2)}` as Hex)),
    )
  }
  return RLP.encode(items)
}

/**
 * Rebuilds the header, computes its hash and checks it equals the hash the endpoint claims
 * (a mismatch means the endpoint altered a field, or serves another header format).
 */
export function parseRpcHeader(json: RpcHeader): LightHeader {
  if (json === null || typeof json !== 'object')
    throw malformed('no header in the answer', { header: json })
  const hash = keccak256(encodeRpcHeader(json))
  const hashHex = bytesToHex(hash) as Hex
  if (typeof json.hash !== 'string' || json.hash.toLowerCase() !== hashHex) {
    throw malformed(`header ${json.number}: its fields hash to ${hashHex}, not ${json.hash}`, {
      number: json.number,
      claimed: json.hash,
      computed: hashHex,
    })
  }
  return {
    number: BigInt(json.number),
    hashHex,
    parentHash: json.parentHash.toLowerCase() as Hex,
    stateRoot: json.stateRoot.toLowerCase() as Hex,
    coinbase: new Address(hexToBytes(json.miner)),
    extraData: hexToBytes(json.extraData),
    hash: () => hash,
  }
}
