/**
 * 256-bit words at the edges of their byte encodings, for tests of code that turns stack
 * words or integers into bytes: zero, one byte below and at 0x80, odd and even hex digit
 * counts, 20-byte (address) bounds, the top bit set, all ones.
 */
export const MAX_WORD = (1n << 256n) - 1n

export const EDGE_WORDS: readonly bigint[] = [
  0n,
  1n,
  0xfn,
  0x80n,
  0xffn,
  0x100n,
  0xabcn,
  0x123456789n,
  1n << 159n,
  (1n << 160n) - 1n,
  1n << 255n,
  (1n << 255n) + 0x1234n,
  0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3efn,
  MAX_WORD,
]
