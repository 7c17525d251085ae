/**
 * The direct bigint conversions must give ethereumjs' bytes: 32-byte words as
 * `setLengthLeft(bigIntToBytes(w), 32)`, RLP integers as `bigIntToUnpaddedBytes`, for every
 * digit count (odd and even), zero, the top bit and all ones.
 */
import { bigIntToBytes, bigIntToUnpaddedBytes, setLengthLeft } from '@ethereumjs/util'
import t from 'tap'
import { EDGE_WORDS, MAX_WORD } from '../../test/support/words.ts'
import { bigintBytes, rlpIntegerBytes, wordToBytes32 } from './bigint-bytes.ts'

// The edge words, and every hex digit count from 1 to 64.
const WORDS = [
  ...EDGE_WORDS,
  ...Array.from({ length: 64 }, (_, digits) => (1n << BigInt(4 * digits)) + 0xabcn),
].filter((w) => w <= MAX_WORD)

t.test('wordToBytes32 is the left-padded big-endian word', async (t) => {
  for (const word of WORDS) {
    t.same(wordToBytes32(word), setLengthLeft(bigIntToBytes(word), 32), word.toString(16))
  }
  t.throws(() => wordToBytes32(-1n), RangeError)
})

t.test('bigintBytes is bigIntToBytes', async (t) => {
  for (const value of [...WORDS, 10n ** 30n, (1n << 300n) + 5n]) {
    t.same(bigintBytes(value), bigIntToBytes(value), value.toString(16))
  }
  t.same(bigintBytes(0n), Uint8Array.of(0), 'zero is one zero byte')
})

t.test('rlpIntegerBytes is bigIntToUnpaddedBytes', async (t) => {
  for (const value of [...WORDS, 10n ** 30n, (1n << 300n) + 5n]) {
    t.same(rlpIntegerBytes(value), bigIntToUnpaddedBytes(value), value.toString(16))
  }
  t.same(rlpIntegerBytes(0n), new Uint8Array(0), 'zero is no bytes')
  t.throws(() => rlpIntegerBytes(-1n), RangeError)
})
