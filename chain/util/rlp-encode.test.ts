/**
 * encodeRlp must give RLP.encode's bytes for every input it takes: byte strings around each
 * header boundary (single bytes below and at 0x80, 55/56 bytes, one to three length bytes),
 * lists whose payload crosses the same boundaries, and random nested lists.
 */
import { RLP } from '@ethereumjs/rlp'
import fc from 'fast-check'
import t from 'tap'
import { encodeRlp, type RlpInput } from './rlp-encode.ts'

const bytes = (length: number, fill = 0xab) => new Uint8Array(length).fill(fill)

t.test('byte strings at the header boundaries', async (t) => {
  const inputs = [
    new Uint8Array(0),
    Uint8Array.of(0),
    Uint8Array.of(0x7f),
    Uint8Array.of(0x80),
    Uint8Array.of(0xff),
    ...[2, 55, 56, 255, 256, 65_535, 65_536, 70_000].map((n) => bytes(n)),
  ]
  for (const input of inputs) t.same(encodeRlp(input), RLP.encode(input), `${input.length} bytes`)
})

t.test('lists at the header boundaries', async (t) => {
  const cases: [string, RlpInput][] = [
    ['empty list', []],
    ['list of empties', [[], new Uint8Array(0), [[]]]],
    ['payload 55', [bytes(54)]],
    ['payload 56', [bytes(55)]],
    ['payload 256', [bytes(253)]],
    ['payload 65,536', [bytes(65_532)]],
    [
      'a receipt-like item',
      [Uint8Array.of(1), bytes(3), bytes(256), [[bytes(20), [bytes(32), bytes(32)], bytes(32)]]],
    ],
  ]
  for (const [what, input] of cases) t.same(encodeRlp(input), RLP.encode(input as never), what)
})

t.test('random nested lists', async (t) => {
  const item = fc.letrec((tie) => ({
    bytes: fc.oneof(
      fc.uint8Array({ maxLength: 2 }),
      fc.uint8Array({ minLength: 50, maxLength: 60 }),
      fc.uint8Array({ maxLength: 300 }),
    ),
    list: fc.array(tie('node'), { maxLength: 6 }),
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('bytes'), tie('list')),
  })).node as fc.Arbitrary<RlpInput>
  fc.assert(
    fc.property(item, (input) => {
      t.same(encodeRlp(input), RLP.encode(input as never))
    }),
    { seed: 20261207, numRuns: 300 },
  )
})

t.test('a view into a larger buffer encodes only its own bytes', async (t) => {
  const backing = new Uint8Array(100).map((_, i) => i)
  const view = backing.subarray(10, 80)
  t.same(encodeRlp([view, backing.subarray(5, 6)]), RLP.encode([view.slice(), Uint8Array.of(5)]))
})

t.test('anything but bytes and lists is refused', async (t) => {
  for (const input of [undefined, null, 5, 5n, 'abc', { length: 1 }])
    t.throws(() => encodeRlp([Uint8Array.of(1), input as never]), TypeError, String(input))
})
