/**
 * Ethereum V3 keystores (the Web3 Secret Storage format of geth, Foundry and ethers): the
 * private key encrypted with aes-128-ctr under a key derived from a password by scrypt (or,
 * reading only, pbkdf2), and a keccak MAC over the second half of the derived key and the
 * ciphertext, so a wrong password is told apart from a damaged file before anything is used.
 *
 * Node's own scrypt and AES keep this free of any extra dependency. The derivation runs off
 * the main thread (`crypto.scrypt` is libuv work), so a node decrypting at start does not
 * block its event loop; a standard file (N = 2^18) needs 256 MiB, hence `maxmem`.
 *
 * Where the password comes from (a file, an environment variable, a terminal prompt) is the
 * caller's business (chain/lib/passwords.ts); this module never logs and its errors never
 * carry the password or the key.
 */
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { bytesToHex, hexToBytes, keccak256 } from 'viem'
import { KeyFileError, type KeyPair, keyPairFromPrivateKey } from './keys.ts'

/** geth's standard scrypt parameters (`--lightkdf` off): about a second and 256 MiB per derivation. */
export const STANDARD_SCRYPT = { n: 262_144, r: 8, p: 1 } as const
/** geth's `--lightkdf` parameters: for throwaway networks and tests, not for keys worth stealing. */
export const LIGHT_SCRYPT = { n: 4_096, r: 8, p: 6 } as const

export interface ScryptParams {
  n: number
  r: number
  p: number
}

export interface KeystoreV3 {
  version: 3
  id: string
  /** lowercase hex without 0x, as geth writes it */
  address: string
  crypto: {
    cipher: 'aes-128-ctr'
    cipherparams: { iv: string }
    ciphertext: string
    kdf: 'scrypt' | 'pbkdf2'
    kdfparams: Record<string, unknown>
    mac: string
  }
}

/** Largest parameters read from a file: a hostile file must not make us allocate gigabytes. */
const MAX_SCRYPT_N = 1 << 20
const MAX_PBKDF2_ROUNDS = 10_000_000

function strip0x(hex: string): string {
  return hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex
}

function fromHex(hex: unknown, what: string, source: string): Uint8Array {
  if (typeof hex !== 'string' || !/^(0x)?([0-9a-fA-F]{2})*$/.test(hex)) {
    throw invalid(`keystore ${what} is not hex`, source)
  }
  return hexToBytes(`0x${strip0x(hex)}`)
}

function invalid(message: string, source: string, cause?: unknown): KeyFileError {
  return new KeyFileError('KEY_FILE_INVALID', `${message}: ${source}`, {
    details: { path: source },
    cause,
  })
}

function scryptAsync(password: string, salt: Uint8Array, params: ScryptParams, dklen: number) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      dklen,
      { N: params.n, r: params.r, p: params.p, maxmem: 128 * params.n * params.r * params.p * 2 },
      (err, key) => (err ? reject(err) : resolve(key)),
    )
  })
}

function mac(derived: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const input = new Uint8Array(16 + ciphertext.length)
  input.set(derived.subarray(16, 32), 0)
  input.set(ciphertext, 16)
  return hexToBytes(keccak256(input))
}

/** Is this parsed JSON a V3 keystore (rather than a plain `{address, privateKey}` key file)? */
export function isKeystore(json: unknown): json is KeystoreV3 {
  if (typeof json !== 'object' || json === null) return false
  const record = json as Record<string, unknown>
  const crypto = record.crypto ?? record.Crypto
  return record.version === 3 && typeof crypto === 'object' && crypto !== null
}

export async function encryptKeystore(
  pair: KeyPair,
  password: string,
  params: ScryptParams = STANDARD_SCRYPT,
): Promise<KeystoreV3> {
  const salt = randomBytes(32)
  const iv = randomBytes(16)
  const derived = await scryptAsync(password, salt, params, 32)
  const cipher = createCipheriv('aes-128-ctr', derived.subarray(0, 16), iv)
  const ciphertext = Buffer.concat([cipher.update(pair.privateKey), cipher.final()])
  return {
    version: 3,
    id: randomUUID(),
    address: pair.addressHex.slice(2).toLowerCase(),
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: iv.toString('hex') },
      ciphertext: ciphertext.toString('hex'),
      kdf: 'scrypt',
      kdfparams: { dklen: 32, n: params.n, r: params.r, p: params.p, salt: salt.toString('hex') },
      mac: strip0x(bytesToHex(mac(derived, ciphertext))),
    },
  }
}

async function deriveKey(
  crypto: KeystoreV3['crypto'],
  password: string,
  source: string,
): Promise<Uint8Array> {
  const kdfparams = crypto.kdfparams as Record<string, unknown>
  const salt = fromHex(kdfparams.salt, 'salt', source)
  const dklen = kdfparams.dklen
  if (dklen !== 32) throw invalid('keystore dklen must be 32', source)
  if (crypto.kdf === 'scrypt') {
    const { n, r, p } = kdfparams
    const ok = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0
    if (!ok(n) || !ok(r) || !ok(p) || (n & (n - 1)) !== 0 || n > MAX_SCRYPT_N || r * p > 64) {
      throw invalid('keystore scrypt parameters are out of range', source)
    }
    try {
      return await scryptAsync(password, salt, { n, r, p }, 32)
    } catch (cause) {
      throw invalid('keystore scrypt derivation failed', source, cause)
    }
  }
  if (crypto.kdf === 'pbkdf2') {
    const { c, prf } = kdfparams
    if (prf !== 'hmac-sha256' || !Number.isSafeInteger(c) || (c as number) <= 0) {
      throw invalid('keystore pbkdf2 parameters are unsupported', source)
    }
    if ((c as number) > MAX_PBKDF2_ROUNDS) throw invalid('keystore pbkdf2 rounds too high', source)
    return await new Promise<Uint8Array>((resolve, reject) =>
      pbkdf2(password.normalize('NFKC'), salt, c as number, 32, 'sha256', (err, key) =>
        err ? reject(invalid('keystore pbkdf2 failed', source, err)) : resolve(key),
      ),
    )
  }
  throw invalid(`keystore kdf ${String(crypto.kdf)} is unsupported`, source)
}

/**
 * Decrypts a V3 keystore. A wrong password is KEY_FILE_WRONG_PASSWORD (the MAC does not
 * match); anything malformed is KEY_FILE_INVALID. `source` names the file in errors.
 */
export async function decryptKeystore(
  json: unknown,
  password: string,
  source = 'keystore',
): Promise<KeyPair> {
  if (!isKeystore(json)) throw invalid('not a V3 keystore', source)
  const record = json as unknown as Record<string, unknown>
  const crypto = (record.crypto ?? record.Crypto) as KeystoreV3['crypto']
  if (crypto.cipher !== 'aes-128-ctr') {
    throw invalid(`keystore cipher ${String(crypto.cipher)} is unsupported`, source)
  }
  if (typeof crypto.kdfparams !== 'object' || crypto.kdfparams === null) {
    throw invalid('keystore has no kdfparams', source)
  }
  const ciphertext = fromHex(crypto.ciphertext, 'ciphertext', source)
  const iv = fromHex(crypto.cipherparams?.iv, 'iv', source)
  const expectedMac = fromHex(crypto.mac, 'mac', source)
  if (ciphertext.length !== 32 || iv.length !== 16 || expectedMac.length !== 32) {
    throw invalid('keystore ciphertext, iv or mac has the wrong length', source)
  }
  const derived = await deriveKey(crypto, password, source)
  if (!timingSafeEqual(mac(derived, ciphertext), expectedMac)) {
    throw new KeyFileError(
      'KEY_FILE_WRONG_PASSWORD',
      `wrong password for keystore (or a damaged file): ${source}`,
      { details: { path: source } },
    )
  }
  const decipher = createDecipheriv('aes-128-ctr', derived.subarray(0, 16), iv)
  const privateKey = new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]))
  let pair: KeyPair
  try {
    pair = keyPairFromPrivateKey(privateKey)
  } catch (cause) {
    throw invalid('keystore holds no valid secp256k1 key', source, cause)
  }
  if (
    typeof json.address === 'string' &&
    json.address.length > 0 &&
    `0x${strip0x(json.address).toLowerCase()}` !== pair.addressHex.toLowerCase()
  ) {
    throw invalid('keystore address does not match its key', source)
  }
  return pair
}

/** Writes a keystore file: mode 0600, never over an existing file. */
export function writeKeystoreFile(path: string, keystore: KeystoreV3): void {
  try {
    writeFileSync(path, `${JSON.stringify(keystore, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
  } catch (cause) {
    throw new KeyFileError(
      'KEY_FILE_EXISTS',
      `cannot write keystore (it must not exist yet): ${path}`,
      {
        details: { path },
        cause,
      },
    )
  }
}

/** Reads and parses a key file's JSON (keystore or plain), naming the file in errors. */
export function readKeyJson(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw invalid('cannot read key file', path, cause)
  }
  try {
    return JSON.parse(text) as unknown
  } catch (cause) {
    throw invalid('key file is not JSON', path, cause)
  }
}

/** The address a keystore names, without decrypting it (null when it names none). */
export function keystoreAddress(keystore: KeystoreV3): `0x${string}` | null {
  if (typeof keystore.address !== 'string' || !/^(0x)?[0-9a-fA-F]{40}$/.test(keystore.address)) {
    return null
  }
  return `0x${strip0x(keystore.address).toLowerCase()}`
}
