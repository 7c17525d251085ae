import { RLP } from '@ethereumjs/rlp'
import t from 'tap'
import {
  decodeRangeRequest,
  decodeStatus,
  encodeRangeRequest,
  encodeStatus,
  errorFrame,
  RESPONSE_CODES,
  responseFrame,
  splitResponseFrame,
} from './messages.ts'

const hash = (b: number) => new Uint8Array(32).fill(b)
const bad = { code: 'P2P_BAD_MESSAGE' }

t.test('status round trip and malformed statuses', async (t) => {
  const status = { chainId: 1337n, genesisHash: hash(1), headNumber: 0n, headHash: hash(2) }
  t.same(decodeStatus(encodeStatus(status)), status)
  const big = { ...status, headNumber: 123_456_789n }
  t.same(decodeStatus(encodeStatus(big)), big)
  t.throws(() => decodeStatus(Uint8Array.of(1, 2, 3)), bad, 'not RLP')
  t.throws(() => decodeStatus(RLP.encode([1, hash(1), 0])), bad, 'too few items')
  t.throws(() => decodeStatus(RLP.encode([1, new Uint8Array(31), 0, hash(2)])), bad, 'short hash')
  t.throws(
    () => decodeStatus(RLP.encode([Uint8Array.of(0, 1), hash(1), 0, hash(2)])),
    bad,
    'leading zero',
  )
  t.throws(
    () => decodeStatus(RLP.encode([new Uint8Array(9).fill(1), hash(1), 0, hash(2)])),
    bad,
    'over 64 bits',
  )
})

t.test('range request round trip and bounds', async (t) => {
  t.same(decodeRangeRequest(encodeRangeRequest({ start: 5n, count: 64 })), { start: 5n, count: 64 })
  t.throws(() => decodeRangeRequest(RLP.encode([1, 2_000_000])), bad, 'absurd count')
  t.throws(() => decodeRangeRequest(RLP.encode([[], 2])), bad, 'start not bytes')
})

t.test('response frames carry a code', async (t) => {
  t.same(splitResponseFrame(responseFrame(RESPONSE_CODES.OK, Uint8Array.of(9))), {
    code: 0,
    payload: Uint8Array.of(9),
  })
  const err = splitResponseFrame(errorFrame(RESPONSE_CODES.RATE_LIMITED, 'slow down'))
  t.equal(err.code, RESPONSE_CODES.RATE_LIMITED)
  t.equal(Buffer.from(err.payload).toString(), 'slow down')
  t.throws(() => splitResponseFrame(new Uint8Array(0)), bad)
})
