/**
 * Wire formats of the request/response protocols (RLP, like the rest of the chain).
 *
 *   status request and response:   rlp([chainId, genesisHash(32), headNumber, headHash(32)])
 *   blocks-by-range request:       rlp([startNumber, count])
 *   every response frame:          [code(1 byte)] ++ payload
 *     code 0 = OK (payload: status, or one block chunk), else an error and the payload is a
 *     short UTF-8 reason; an error frame is the last frame.
 *
 * Block chunks are opaque here (chain/sync encodes them); p2p only moves and caps bytes.
 */
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt } from '@ethereumjs/util'
import { P2PError } from './errors.ts'

export type MessageErrorCode = 'P2P_BAD_MESSAGE'

export const RESPONSE_CODES = {
  OK: 0,
  INVALID_REQUEST: 1,
  SERVER_ERROR: 2,
  RATE_LIMITED: 3,
} as const
export type ResponseCode = (typeof RESPONSE_CODES)[keyof typeof RESPONSE_CODES]

export interface ChainStatus {
  chainId: bigint
  genesisHash: Uint8Array
  headNumber: bigint
  headHash: Uint8Array
}

export interface RangeRequest {
  start: bigint
  count: number
}

function bad(message: string): P2PError {
  return new P2PError<MessageErrorCode>('P2P_BAD_MESSAGE', message)
}

const MAX_UINT64 = (1n << 64n) - 1n

function decodeUint(bytes: unknown, field: string): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length > 8)
    throw bad(`${field} must be an integer of at most 8 bytes`)
  if (bytes.length > 0 && bytes[0] === 0) throw bad(`${field} has a leading zero`)
  return bytesToBigInt(bytes)
}

function decodeHash(bytes: unknown, field: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw bad(`${field} must be 32 bytes`)
  return bytes
}

function decodeList(data: Uint8Array, length: number, what: string): unknown[] {
  let decoded: unknown
  try {
    decoded = RLP.decode(data)
  } catch {
    throw bad(`${what} is not RLP`)
  }
  if (!Array.isArray(decoded) || decoded.length !== length)
    throw bad(`${what} must be a list of ${length} items`)
  return decoded
}

export function encodeStatus(status: ChainStatus): Uint8Array {
  return RLP.encode([
    bigIntToUnpaddedBytes(status.chainId),
    status.genesisHash,
    bigIntToUnpaddedBytes(status.headNumber),
    status.headHash,
  ])
}

export function decodeStatus(data: Uint8Array): ChainStatus {
  const [chainId, genesisHash, headNumber, headHash] = decodeList(data, 4, 'status')
  return {
    chainId: decodeUint(chainId, 'chainId'),
    genesisHash: decodeHash(genesisHash, 'genesisHash'),
    headNumber: decodeUint(headNumber, 'headNumber'),
    headHash: decodeHash(headHash, 'headHash'),
  }
}

export function encodeRangeRequest(request: RangeRequest): Uint8Array {
  return RLP.encode([
    bigIntToUnpaddedBytes(request.start),
    bigIntToUnpaddedBytes(BigInt(request.count)),
  ])
}

export function decodeRangeRequest(data: Uint8Array): RangeRequest {
  const [start, count] = decodeList(data, 2, 'blocks-by-range request')
  const startNumber = decodeUint(start, 'start')
  const countNumber = decodeUint(count, 'count')
  if (startNumber > MAX_UINT64 || countNumber > 1_000_000n) throw bad('range out of bounds')
  return { start: startNumber, count: Number(countNumber) }
}

export function responseFrame(code: ResponseCode, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(1 + payload.length)
  frame[0] = code
  frame.set(payload, 1)
  return frame
}

export function errorFrame(code: Exclude<ResponseCode, 0>, reason: string): Uint8Array {
  return responseFrame(code, Uint8Array.from(Buffer.from(reason.slice(0, 200), 'utf8')))
}

export function splitResponseFrame(frame: Uint8Array): { code: number; payload: Uint8Array } {
  if (frame.length === 0) throw bad('empty response frame')
  return { code: frame[0]!, payload: frame.subarray(1) }
}
