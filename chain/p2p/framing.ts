/**
 * Length-prefixed frames (unsigned LEB128 varint length, then the bytes) for
 * request/response streams. The decoder checks the announced length against the cap
 * before buffering anything, so a peer cannot make us allocate more than the cap.
 */
import { P2PError } from './errors.ts'

export type FramingErrorCode =
  | 'P2P_FRAME_TOO_LARGE'
  | 'P2P_FRAME_BAD_LENGTH'
  | 'P2P_FRAME_TRUNCATED'

/** 5 varint bytes hold lengths up to 2^35; caps are far below. */
const MAX_VARINT_BYTES = 5

export function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad varint ${value}`)
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return Uint8Array.from(out)
}

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const prefix = encodeVarint(payload.length)
  const frame = new Uint8Array(prefix.length + payload.length)
  frame.set(prefix, 0)
  frame.set(payload, prefix.length)
  return frame
}

/** Incremental decoder: push chunks, take complete frames. */
export class FrameDecoder {
  private readonly maxFrameBytes: number
  private buffer: Uint8Array = new Uint8Array(0)

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffer.length
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      if (this.buffer.length === 0) this.buffer = chunk
      else {
        const joined = new Uint8Array(this.buffer.length + chunk.length)
        joined.set(this.buffer, 0)
        joined.set(chunk, this.buffer.length)
        this.buffer = joined
      }
    }
    const frames: Uint8Array[] = []
    for (;;) {
      const header = this.readLength()
      if (header === undefined) break
      const { length, headerBytes } = header
      if (this.buffer.length < headerBytes + length) break
      frames.push(this.buffer.slice(headerBytes, headerBytes + length))
      this.buffer = this.buffer.subarray(headerBytes + length)
    }
    return frames
  }

  /** Throws unless the stream ended on a frame boundary. */
  end(): void {
    if (this.buffer.length !== 0) {
      throw new P2PError<FramingErrorCode>('P2P_FRAME_TRUNCATED', 'stream ended inside a frame', {
        details: { pending: this.buffer.length },
      })
    }
  }

  private readLength(): { length: number; headerBytes: number } | undefined {
    let value = 0
    let factor = 1
    for (let i = 0; i < this.buffer.length; i++) {
      if (i >= MAX_VARINT_BYTES) break
      const byte = this.buffer[i]!
      value += (byte & 0x7f) * factor
      if (byte < 0x80) {
        if (i > 0 && byte === 0) {
          throw new P2PError<FramingErrorCode>('P2P_FRAME_BAD_LENGTH', 'non-minimal frame length')
        }
        if (value > this.maxFrameBytes) {
          throw new P2PError<FramingErrorCode>(
            'P2P_FRAME_TOO_LARGE',
            `frame of ${value} bytes exceeds the cap of ${this.maxFrameBytes}`,
            {
              details: { length: value, max: this.maxFrameBytes },
            },
          )
        }
        return { length: value, headerBytes: i + 1 }
      }
      factor *= 0x80
    }
    if (this.buffer.length >= MAX_VARINT_BYTES) {
      throw new P2PError<FramingErrorCode>(
        'P2P_FRAME_BAD_LENGTH',
        'frame length varint is too long',
      )
    }
    return undefined
  }
}
