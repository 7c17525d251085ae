/**
 * Validator key files: JSON `{ "address": "0x..", "privateKey": "0x.." }`, created with
 * mode 0600 and never overwritten. Private keys never reach logs: the loaded key is wrapped
 * so that printing it shows only the address.
 */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { privateKeyToAddress as viemPrivateKeyToAddress } from 'viem/accounts'
import type { ErrorCodeOf } from './error-codes.ts'
import { SidechainError } from './errors.ts'

export type KeyFileErrorCode = ErrorCodeOf<'keyFile'>

export class KeyFileError extends SidechainError<KeyFileErrorCode> {
  override readonly name: string = 'KeyFileError'
}

export interface KeyPair {
  address: Uint8Array
  addressHex: `0x${string}`
  privateKey: Uint8Array
}

const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** Key files are read once at start, so viem's pure-JS derivation is fast enough and keeps
 * this shared module free of the node's native crypto. */
function privateKeyToAddress(privateKey: Uint8Array): Uint8Array {
  return hexToBytes(viemPrivateKeyToAddress(bytesToHex(privateKey) as `0x${string}`))
}

function isValidPrivateKey(privateKey: Uint8Array): boolean {
  if (privateKey.length !== 32) return false
  const k = BigInt(bytesToHex(privateKey))
  return k > 0n && k < SECP256K1_ORDER
}

function keyError(message: string, path: string, cause?: unknown) {
  return new KeyFileError('KEY_FILE_INVALID', `${message}: ${path}`, { details: { path }, cause })
}

export function keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair {
  const address = privateKeyToAddress(privateKey)
  const pair = { address, addressHex: bytesToHex(address) as `0x${string}`, privateKey }
  // Keep the secret out of JSON.stringify / util.inspect (logs, error details).
  Object.defineProperty(pair, 'privateKey', { enumerable: false, value: privateKey })
  Object.defineProperty(pair, 'toJSON', {
    enumerable: false,
    value: () => ({ address: pair.addressHex }),
  })
  return pair
}

export function readKeyFile(path: string): KeyPair {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw keyError('cannot read key file', path, cause)
  }
  let parsed: { privateKey?: unknown; address?: unknown }
  try {
    parsed = JSON.parse(text) as typeof parsed
  } catch (cause) {
    throw keyError('key file is not JSON', path, cause)
  }
  if (typeof parsed.privateKey !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(parsed.privateKey)) {
    throw keyError('key file has no valid privateKey (0x + 64 hex digits)', path)
  }
  const privateKey = hexToBytes(parsed.privateKey as `0x${string}`)
  if (!isValidPrivateKey(privateKey))
    throw keyError('privateKey is not a valid secp256k1 key', path)
  const pair = keyPairFromPrivateKey(privateKey)
  if (typeof parsed.address === 'string' && parsed.address.toLowerCase() !== pair.addressHex) {
    throw keyError('key file address does not match its private key', path)
  }
  return pair
}

/** Is the file readable by group or others? (The CLI warns: keys should be 0600.) */
export function keyFileIsExposed(path: string): boolean {
  return (statSync(path).mode & 0o077) !== 0
}

export function writeKeyFile(path: string, pair: KeyPair): void {
  try {
    writeFileSync(
      path,
      `${JSON.stringify({ address: pair.addressHex, privateKey: bytesToHex(pair.privateKey) }, null, 2)}\n`,
      {
        mode: 0o600,
        flag: 'wx',
      },
    )
    chmodSync(path, 0o600)
  } catch (cause) {
    throw keyError('cannot write key file (it must not exist yet)', path, cause)
  }
}
