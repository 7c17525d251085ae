/**
 * RLP encoding of byte strings and nested lists into one buffer: the sizes are measured
 * first, then everything is written once. `RLP.encode` from @ethereumjs/rlp concatenates
 * the encoding of every list into its parent's, so a block's receipts (list of receipts,
 * of logs, of topics) are copied once per level; that concatenation was most of the cost
 * of encoding receipts and trie nodes. The output is byte for byte RLP.encode's (tested).
 */

/** What this encoder takes: bytes, or lists of bytes and lists (no numbers or strings). */
export type RlpInput = Uint8Array | readonly RlpInput[]

/** Largest length an RLP header here can state (4 length bytes). */
const MAX_LENGTH = 0xffffffff

export function encodeRlp(input: RlpInput): Uint8Array {
  const listPayloads: number[] = []
  const out = new Uint8Array(measure(input, listPayloads))
  const cursor = { position: 0, list: 0 }
  write(input, out, cursor, listPayloads)
  return out
}

function lengthOfLength(length: number): number {
  if (length > MAX_LENGTH) throw new RangeError(`RLP item of ${length} bytes is too long`)
  return length < 0x100 ? 1 : length < 0x10000 ? 2 : length < 0x1000000 ? 3 : 4
}

function headerSize(length: number): number {
  return length < 56 ? 1 : 1 + lengthOfLength(length)
}

/** Encoded size of `input`; the payload size of each list goes to `listPayloads`, in pre-order. */
function measure(input: RlpInput, listPayloads: number[]): number {
  if (input instanceof Uint8Array) {
    const length = input.length
    return length === 1 && input[0]! < 0x80 ? 1 : headerSize(length) + length
  }
  if (!Array.isArray(input)) throw new TypeError('RLP input must be bytes or a list')
  const index = listPayloads.length
  listPayloads.push(0)
  let payload = 0
  for (const item of input) payload += measure(item, listPayloads)
  listPayloads[index] = payload
  return headerSize(payload) + payload
}

function writeHeader(
  out: Uint8Array,
  cursor: { position: number },
  length: number,
  offset: number,
): void {
  if (length < 56) {
    out[cursor.position++] = offset + length
    return
  }
  const bytes = lengthOfLength(length)
  out[cursor.position++] = offset + 55 + bytes
  for (let shift = 8 * (bytes - 1); shift >= 0; shift -= 8)
    out[cursor.position++] = (length >>> shift) & 0xff
}

function write(
  input: RlpInput,
  out: Uint8Array,
  cursor: { position: number; list: number },
  listPayloads: readonly number[],
): void {
  if (input instanceof Uint8Array) {
    if (input.length === 1 && input[0]! < 0x80) {
      out[cursor.position++] = input[0]!
      return
    }
    writeHeader(out, cursor, input.length, 0x80)
    out.set(input, cursor.position)
    cursor.position += input.length
    return
  }
  writeHeader(out, cursor, listPayloads[cursor.list++]!, 0xc0)
  for (const item of input) write(item, out, cursor, listPayloads)
}
