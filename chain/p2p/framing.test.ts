import t from 'tap'
import { encodeFrame, encodeVarint, FrameDecoder } from './framing.ts'

t.test('varint lengths', async (t) => {
  t.same([...encodeVarint(0)], [0])
  t.same([...encodeVarint(127)], [127])
  t.same([...encodeVarint(128)], [0x80, 0x01])
  t.same([...encodeVarint(300)], [0xac, 0x02])
  t.throws(() => encodeVarint(-1))
})

t.test('frames survive arbitrary chunking', async (t) => {
  const payloads = [
    new Uint8Array(0),
    Uint8Array.of(1, 2, 3),
    new Uint8Array(1000).fill(7),
    Uint8Array.of(9),
  ]
  const wire = Buffer.concat(payloads.map(encodeFrame))
  for (const chunkSize of [1, 2, 3, 7, 500, wire.length]) {
    const decoder = new FrameDecoder(2000)
    const frames: Uint8Array[] = []
    for (let i = 0; i < wire.length; i += chunkSize)
      frames.push(...decoder.push(wire.subarray(i, i + chunkSize)))
    decoder.end()
    t.same(
      frames.map((f) => [...f]),
      payloads.map((p) => [...p]),
      `chunks of ${chunkSize}`,
    )
  }
})

t.test('the cap is checked from the length prefix, before buffering the frame', async (t) => {
  const decoder = new FrameDecoder(100)
  const prefix = encodeVarint(101)
  t.throws(() => decoder.push(prefix), { code: 'P2P_FRAME_TOO_LARGE' })
  const ok = new FrameDecoder(100)
  t.same(ok.push(encodeFrame(new Uint8Array(100))).length, 1, 'exactly the cap is fine')
})

t.test('bad and truncated input', async (t) => {
  t.throws(
    () => new FrameDecoder(100).push(Uint8Array.of(0x80, 0x00)),
    { code: 'P2P_FRAME_BAD_LENGTH' },
    'non-minimal varint',
  )
  t.throws(
    () => new FrameDecoder(1e12).push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
    { code: 'P2P_FRAME_BAD_LENGTH' },
    'varint too long',
  )
  const decoder = new FrameDecoder(100)
  decoder.push(Uint8Array.of(5, 1, 2))
  t.throws(() => decoder.end(), { code: 'P2P_FRAME_TRUNCATED' })
})
