/**
 * Signers: what validators and relayers sign with, so the key may live outside the process.
 *
 * `Signer` signs a 32-byte hash that is keccak256 of a preimage. A local key signs the hash;
 * `Web3SignerClient` speaks the Web3Signer eth1 HTTP API (`GET /api/v1/eth1/publicKeys`,
 * `POST /api/v1/eth1/sign/{identifier}` with `{"data": "0x.."}`, answering the 65-byte
 * signature as hex), whose sign endpoint hashes what it is sent with keccak256: so it is sent
 * the preimage, and the answer is checked against the hash before anyone uses it. The key
 * can then sit in an HSM- or KMS-backed signer (Web3Signer, or anything speaking its API)
 * and never in the node or relayer.
 *
 * What a remote signer cannot be trusted with stays with the caller: consensus safety rules
 * (never two digests for one height, round and step) run in the validator before the request
 * leaves (chain/consensus/qbft engine `#sign`). Every answer is verified here: it must recover
 * to the expected address, with low s, or it is SIGNER_BAD_RESPONSE; a signer that is down or
 * slow is SIGNER_UNAVAILABLE, and the caller misses that step.
 */
import { bytesToHex, hexToBytes, keccak256, recoverAddress } from 'viem'
import { z } from 'zod'
import type { ErrorCodeOf } from './error-codes.ts'
import { SidechainError } from './errors.ts'

export type SignerErrorCode = ErrorCodeOf<'signer'>

export class SignerError extends SidechainError<SignerErrorCode> {
  override readonly name: string = 'SignerError'
}

export interface Signer {
  /** the 20-byte address whose key signs */
  readonly address: Uint8Array
  readonly addressHex: `0x${string}`
  /** true when signing leaves the process (answers come later; see the QBFT engine) */
  readonly remote: boolean
  /** 65 bytes r || s || recovery id (0 or 1), low s, over `hash` = keccak256(`preimage`). */
  sign(hash: Uint8Array, preimage: Uint8Array): Uint8Array | Promise<Uint8Array>
}

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_N = SECP256K1_N >> 1n

export const web3SignerOptionsSchema = z
  .object({
    /** base URL of the signer, e.g. http://127.0.0.1:9000 */
    url: z
      .string()
      .regex(/^https?:\/\/[^/\s]+\/?$/, 'an http(s):// base URL (scheme, host, port only)'),
    /** the address the signer must hold the key of */
    address: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x address'),
    /**
     * One request's limit. A validator's round lasts seconds; a signer slower than this is
     * treated as down for that step.
     */
    timeoutMs: z.number().int().positive().default(2_000),
  })
  .strict()

export type Web3SignerOptionsInput = z.input<typeof web3SignerOptionsSchema>
export type Web3SignerOptions = z.output<typeof web3SignerOptionsSchema>

/** The address of an uncompressed secp256k1 public key (64 bytes, or 65 with the 0x04 prefix). */
export function publicKeyToAddress(publicKey: Uint8Array): `0x${string}` | null {
  const raw = publicKey.length === 65 && publicKey[0] === 4 ? publicKey.subarray(1) : publicKey
  if (raw.length !== 64) return null
  return `0x${keccak256(raw).slice(-40)}`
}

/** A Web3Signer (eth1) holding the key of one address. Build it with `connect`. */
export class Web3SignerClient implements Signer {
  readonly options: Web3SignerOptions
  readonly address: Uint8Array
  readonly addressHex: `0x${string}`
  readonly remote = true
  /** the signer's name of the key: its public key as it listed it */
  readonly identifier: string
  #requests = 0

  private constructor(options: Web3SignerOptions, identifier: string) {
    this.options = options
    this.addressHex = options.address.toLowerCase() as `0x${string}`
    this.address = hexToBytes(this.addressHex)
    this.identifier = identifier
  }

  /**
   * Checks the signer holds the key of `address` (GET publicKeys). SIGNER_KEY_NOT_HELD when it
   * does not (a wrong signer or wrong flags: the node must not start), SIGNER_UNAVAILABLE when
   * it does not answer.
   */
  static async connect(input: Web3SignerOptionsInput): Promise<Web3SignerClient> {
    const parsed = web3SignerOptionsSchema.safeParse(input)
    if (!parsed.success) {
      throw new SignerError('SIGNER_URL_INVALID', `remote signer: ${z.prettifyError(parsed.error)}`)
    }
    const options = { ...parsed.data, url: parsed.data.url.replace(/\/$/, '') }
    const body = await request(options, 'GET', '/api/v1/eth1/publicKeys')
    let keys: unknown
    try {
      keys = JSON.parse(body)
    } catch (cause) {
      throw new SignerError('SIGNER_BAD_RESPONSE', 'remote signer: publicKeys is not JSON', {
        cause,
      })
    }
    if (!Array.isArray(keys)) {
      throw new SignerError('SIGNER_BAD_RESPONSE', 'remote signer: publicKeys is not a list')
    }
    const wanted = options.address.toLowerCase()
    for (const key of keys) {
      if (typeof key !== 'string' || !/^(0x)?[0-9a-fA-F]+$/.test(key)) continue
      const hex = key.startsWith('0x') ? key : `0x${key}`
      if (publicKeyToAddress(hexToBytes(hex as `0x${string}`)) === wanted) {
        return new Web3SignerClient(options, hex)
      }
    }
    throw new SignerError(
      'SIGNER_KEY_NOT_HELD',
      `remote signer ${options.url} does not hold the key of ${options.address} (it lists ${keys.length} key${keys.length === 1 ? '' : 's'})`,
      { details: { url: options.url, address: options.address } },
    )
  }

  /** Requests made so far (metrics, tests). */
  get requests(): number {
    return this.#requests
  }

  async sign(hash: Uint8Array, preimage: Uint8Array): Promise<Uint8Array> {
    if (keccak256(preimage, 'bytes').some((b, i) => b !== hash[i])) {
      // A caller bug, not the signer's: never ask for a signature whose hash we cannot name.
      throw new SignerError('SIGNER_BAD_RESPONSE', 'hash is not keccak256 of the preimage')
    }
    this.#requests++
    const body = await request(this.options, 'POST', `/api/v1/eth1/sign/${this.identifier}`, {
      data: bytesToHex(preimage),
    })
    const text = body.trim().replace(/^"|"$/g, '')
    if (!/^0x[0-9a-fA-F]{130}$/.test(text)) {
      throw new SignerError('SIGNER_BAD_RESPONSE', 'remote signer answered no 65-byte signature')
    }
    const signature = normalize(hexToBytes(text as `0x${string}`))
    const recovered = await recoverAddress({ hash: bytesToHex(hash), signature: toViem(signature) })
    if (recovered.toLowerCase() !== this.addressHex) {
      throw new SignerError(
        'SIGNER_BAD_RESPONSE',
        `remote signer answered a signature by ${recovered}, not ${this.addressHex}`,
      )
    }
    return signature
  }
}

/** r || s || v with v 27/28 or 0/1 -> r || s || recid, s made low (its twin flips the recid). */
function normalize(signature: Uint8Array): Uint8Array {
  const out = Uint8Array.from(signature)
  let v = out[64]!
  if (v >= 27) v -= 27
  if (v > 1)
    throw new SignerError('SIGNER_BAD_RESPONSE', 'remote signer answered a bad recovery id')
  const s = BigInt(bytesToHex(out.subarray(32, 64)))
  if (s === 0n || s >= SECP256K1_N) {
    throw new SignerError('SIGNER_BAD_RESPONSE', 'remote signer answered an invalid s')
  }
  if (s > HALF_N) {
    out.set(hexToBytes(`0x${(SECP256K1_N - s).toString(16).padStart(64, '0')}`), 32)
    v ^= 1
  }
  out[64] = v
  return out
}

function toViem(signature: Uint8Array): `0x${string}` {
  const copy = Uint8Array.from(signature)
  copy[64] = copy[64]! + 27
  return bytesToHex(copy)
}

async function request(
  options: Web3SignerOptions,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<string> {
  let response: Response
  try {
    response = await fetch(`${options.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    })
  } catch (cause) {
    throw new SignerError('SIGNER_UNAVAILABLE', `remote signer ${options.url} did not answer`, {
      details: { url: options.url },
      cause,
    })
  }
  let text: string
  try {
    text = await response.text()
  } catch (cause) {
    throw new SignerError('SIGNER_UNAVAILABLE', `remote signer ${options.url} broke off`, { cause })
  }
  if (!response.ok) {
    throw new SignerError(
      response.status >= 500 ? 'SIGNER_UNAVAILABLE' : 'SIGNER_BAD_RESPONSE',
      `remote signer ${options.url} answered HTTP ${response.status}`,
      { details: { url: options.url, status: response.status } },
    )
  }
  return text
}
