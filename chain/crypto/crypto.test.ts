import { bytesToHex, hexToBytes, ecrecover as jsEcrecover } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'
import t from 'tap'
import { privateKeyToAccount } from 'viem/accounts'
import {
  ecrecover,
  keccak256,
  privateKeyToAddress,
  randomPrivateKey,
  recoverAddress,
  SECP256K1_N,
  sign,
} from './index.ts'

t.test('keccak equals the reference implementation', (t) => {
  // Around the 136-byte rate (one and two absorbed blocks) and far beyond it.
  for (const size of [0, 1, 20, 31, 32, 33, 64, 135, 136, 137, 271, 272, 273, 1000, 100_000]) {
    const data = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff)
    t.same(keccak256(data), keccak_256(data), `size ${size}`)
  }
  // A view into a larger buffer hashes only its own bytes.
  const backing = new Uint8Array(100).map((_, i) => i)
  t.same(keccak256(backing.subarray(10, 42)), keccak_256(backing.slice(10, 42)), 'a subarray')
  t.same(keccak256(Buffer.from('abc')), keccak_256(new TextEncoder().encode('abc')), 'a Buffer')
  t.end()
})

t.test('each keccak digest is a new array', (t) => {
  const first = keccak256(Uint8Array.of(1))
  const copy = first.slice()
  const second = keccak256(Uint8Array.of(2))
  t.not(first.buffer, second.buffer, 'digests do not share memory')
  t.same(first, copy, 'a later hash leaves an earlier digest as it was')
  second.fill(0)
  t.same(keccak256(Uint8Array.of(1)), copy, 'changing a digest changes no later one')
  t.end()
})

t.test('sign/recover round trip, address matches viem, high-s refused', (t) => {
  const key = randomPrivateKey()
  const address = bytesToHex(privateKeyToAddress(key))
  t.equal(address, privateKeyToAccount(bytesToHex(key)).address.toLowerCase())
  const digest = keccak256(new TextEncoder().encode('hello'))
  const sig = sign(digest, key)
  t.equal(bytesToHex(recoverAddress(digest, sig)), address)

  const s = BigInt(bytesToHex(sig.subarray(32, 64)))
  const twin = sig.slice()
  twin.set(hexToBytes(`0x${(SECP256K1_N - s).toString(16).padStart(64, '0')}`), 32)
  twin[64] = sig[64]! ^ 1
  t.throws(() => recoverAddress(digest, twin), { code: 'CRYPTO_HIGH_S' })
  t.throws(() => recoverAddress(digest, sig.subarray(0, 64)), { code: 'CRYPTO_BAD_SIGNATURE' })
  t.end()
})

t.test('ecrecover for ethereumjs equals the pure-JS default', (t) => {
  const key = randomPrivateKey()
  const digest = keccak256(Uint8Array.of(1, 2, 3))
  const sig = sign(digest, key)
  const r = sig.subarray(0, 32)
  const s = sig.subarray(32, 64)
  for (const [v, chainId] of [
    [BigInt(sig[64]! + 27), undefined],
    [BigInt(sig[64]!) + 35n + 2n * 1337n, 1337n],
  ] as const) {
    t.same(ecrecover(digest, v, r, s, chainId), jsEcrecover(digest, v, r, s, chainId))
  }
  t.end()
})
