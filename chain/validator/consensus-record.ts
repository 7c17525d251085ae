/**
 * The consensus record: a validator's write-ahead log of what it signed (CometBFT's WAL and
 * priv_validator_state in one file). The QBFT engine hands it every message it signs; the
 * message leaves the process only after `append` returned, and `append` returns only after
 * fdatasync. A restarted validator restores its engine from it (QbftEngine.restore), so it
 * keeps its lock and never signs a second digest for a (height, round, kind): without this,
 * crash faults alone can finalize two blocks at one height (docs/consensus-record.md).
 *
 * File: `<datadir>/consensus-record`, a sequence of frames
 *   [u32 BE length][u32 BE crc32(length bytes ++ payload)][payload]
 * whose payloads are RLP lists tagged by their first item:
 *   HEADER   [1, version, validator address]              (always the first frame)
 *   SIGNED   [2, height, round, kind, digest, message, prepared certificate or []]
 *   EVIDENCE [3, author, height, round, kind, first, second, detectedAt, fromPeer]
 * A frame that is cut short or fails its checksum at the end of the file is a torn append
 * (a crash during the write, never acknowledged, so never sent): it is cut off at open. A bad
 * frame with valid data after it is corruption: the record is refused, never guessed at.
 *
 * Pruning: entries of heights at or below the stored head are dead (the block is final and
 * written). They are dropped from memory at once; the file is rewritten without them
 * (temporary file, fdatasync, rename, directory fsync) once they make up `compactAtBytes`.
 * Equivocation evidence stays (the newest `maxEvidence` records).
 *
 * The I/O is synchronous on purpose: the engine's state transitions are synchronous sections
 * and the record must be durable before the section that signed the message sends it.
 * A validator signs a handful of messages per height, one fdatasync each.
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { z } from 'zod'
import {
  decodeMinimalUint,
  decodeSignedPayload,
  type EquivocationEvidence,
  encodeSignedPayload,
  encodeUint,
  MESSAGE_CODES,
  type MessageKind,
  type PreparePayload,
  type QbftPreparedCertificate,
  type QbftRecordEntry,
  type Signed,
} from '../consensus/qbft/index.ts'
import { SidechainError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'

export type ConsensusRecordErrorCode =
  /** the record names another validator: this datadir belongs to another key */
  | 'CONSENSUS_RECORD_WRONG_KEY'
  /** a bad frame before the end, an unknown version, or a frame that does not decode */
  | 'CONSENSUS_RECORD_CORRUPT'
  /** a write or sync failed: the entry is not durable (the message must not be sent) */
  | 'CONSENSUS_RECORD_IO'
  | 'CONSENSUS_RECORD_CLOSED'

export class ConsensusRecordError extends SidechainError<ConsensusRecordErrorCode> {
  override readonly name: string = 'ConsensusRecordError'
}

export const CONSENSUS_RECORD_FILE = 'consensus-record'
const VERSION = 1
const TAG = { HEADER: 1, SIGNED: 2, EVIDENCE: 3 } as const
const FRAME_HEADER_BYTES = 8

export const consensusRecordOptionsSchema = z.object({
  /** the record file (the node puts it at `<datadir>/consensus-record`) */
  path: z.string().min(1),
  /** the validator whose record this is (20 bytes) */
  validator: z.custom<Uint8Array>(
    (value) => value instanceof Uint8Array && value.length === 20,
    'a 20-byte address',
  ),
  /** evidence records kept across restarts (oldest dropped first) */
  maxEvidence: z.number().int().positive().default(1_000),
  /** dead bytes (entries of final heights) that trigger a rewrite of the file */
  compactAtBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
})
export type ConsensusRecordOptionsInput = z.input<typeof consensusRecordOptionsSchema>
export type ConsensusRecordOptions = z.output<typeof consensusRecordOptionsSchema>

/** The file operations the record uses (node:fs); tests wrap them to see the order of calls. */
export type RecordFileSystem = Pick<
  typeof nodeFs,
  | 'openSync'
  | 'closeSync'
  | 'readFileSync'
  | 'writeSync'
  | 'fdatasyncSync'
  | 'fsyncSync'
  | 'ftruncateSync'
  | 'renameSync'
  | 'rmSync'
>

export interface ConsensusRecordModules {
  fs?: RecordFileSystem
  logger?: Logger
}

interface Frame {
  /** null for evidence (kept across heights) */
  height: bigint | null
  bytes: Uint8Array
}

export class ConsensusRecord {
  readonly options: ConsensusRecordOptions
  readonly #fs: RecordFileSystem
  readonly #logger: Logger | undefined
  #fd: number | null
  /** bytes in the file */
  #size = 0
  readonly #signed: { entry: QbftRecordEntry; frame: Frame }[] = []
  readonly #evidence: { evidence: EquivocationEvidence; frame: Frame }[] = []
  #deadBytes = 0
  /** A compaction renamed the file but its directory entry is not synced yet. */
  #renameUnsynced = false

  /**
   * Opens (or creates) the record. Throws CONSENSUS_RECORD_WRONG_KEY when it belongs to
   * another validator, CONSENSUS_RECORD_CORRUPT when it cannot be read back faithfully.
   */
  static open(
    options: ConsensusRecordOptionsInput,
    modules: ConsensusRecordModules = {},
  ): ConsensusRecord {
    return new ConsensusRecord(consensusRecordOptionsSchema.parse(options), modules)
  }

  private constructor(options: ConsensusRecordOptions, modules: ConsensusRecordModules) {
    this.options = options
    this.#fs = modules.fs ?? nodeFs
    this.#logger = modules.logger
    // A compaction that crashed before its rename left this behind; the record is intact.
    this.#fs.rmSync(`${options.path}.tmp`, { force: true })
    let bytes: Uint8Array
    try {
      bytes = this.#fs.readFileSync(options.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('read', err)
      bytes = new Uint8Array(0)
    }
    const { payloads, validLength } = readFrames(bytes, options.path)
    this.#fd = this.#fs.openSync(options.path, bytes.length === 0 ? 'w+' : 'r+')
    try {
      if (validLength < bytes.length) {
        // A torn last append: it was never acknowledged, so its message never left.
        this.#logger?.warn(
          { path: options.path, dropped: bytes.length - validLength },
          'consensus record: torn last entry dropped',
        )
        this.#fs.ftruncateSync(this.#fd, validLength)
        this.#fs.fdatasyncSync(this.#fd)
      }
      this.#size = validLength
      if (payloads.length === 0) {
        this.#write(encodeFrame(encodeHeader(options.validator)))
        // The new file's name must survive a power cut as well as its content.
        if (bytes.length === 0) this.#syncDirectory()
      } else {
        this.#load(payloads)
      }
    } catch (err) {
      this.close()
      throw err
    }
  }

  #load(payloads: Uint8Array[]): void {
    const [header, ...rest] = payloads
    const owner = decodeHeader(header!, this.options.path)
    if (!equalsBytes(owner, this.options.validator)) {
      throw new ConsensusRecordError(
        'CONSENSUS_RECORD_WRONG_KEY',
        `the consensus record ${this.options.path} belongs to validator ${bytesToHex(owner)}, not ${bytesToHex(this.options.validator)}: one datadir per validator key`,
        { details: { path: this.options.path, owner: bytesToHex(owner) } },
      )
    }
    for (const payload of rest) {
      const frame = { bytes: encodeFrame(payload) }
      const decoded = decodePayload(payload, this.options.path)
      if ('evidence' in decoded) this.#pushEvidence(decoded.evidence, { ...frame, height: null })
      else
        this.#signed.push({
          entry: decoded.entry,
          frame: { ...frame, height: decoded.entry.height },
        })
    }
  }

  /** What this validator signed, in signing order (heights above the last prune). */
  entries(): QbftRecordEntry[] {
    return this.#signed.map((s) => s.entry)
  }

  /** Equivocation evidence kept so far, oldest first. */
  evidence(): EquivocationEvidence[] {
    return this.#evidence.map((e) => e.evidence)
  }

  /** Bytes in the file. */
  get sizeBytes(): number {
    return this.#size
  }

  /** Durable on return (fdatasync): only then may the message be sent. */
  append(entry: QbftRecordEntry): void {
    const bytes = encodeFrame(encodeSignedEntry(entry))
    this.#write(bytes)
    this.#signed.push({ entry, frame: { height: entry.height, bytes } })
  }

  addEvidence(evidence: EquivocationEvidence): void {
    const bytes = encodeFrame(encodeEvidence(evidence))
    this.#write(bytes)
    this.#pushEvidence(evidence, { height: null, bytes })
    if (this.#deadBytes >= this.options.compactAtBytes) this.#compact()
  }

  /** Drops the entries of heights at or below `head` (final and written). */
  prune(head: bigint): void {
    let kept = 0
    for (const item of this.#signed) {
      if (item.entry.height <= head) this.#deadBytes += item.frame.bytes.length
      else this.#signed[kept++] = item
    }
    this.#signed.length = kept
    if (this.#deadBytes >= this.options.compactAtBytes) this.#compact()
  }

  close(): void {
    if (this.#fd === null) return
    this.#fs.closeSync(this.#fd)
    this.#fd = null
  }

  #pushEvidence(evidence: EquivocationEvidence, frame: Frame): void {
    this.#evidence.push({ evidence, frame })
    while (this.#evidence.length > this.options.maxEvidence) {
      this.#deadBytes += this.#evidence.shift()!.frame.bytes.length
    }
  }

  #write(bytes: Uint8Array): void {
    const fd = this.#fd
    if (fd === null) throw new ConsensusRecordError('CONSENSUS_RECORD_CLOSED', 'record is closed')
    if (this.#renameUnsynced) {
      // An entry in the renamed file is only durable once the rename is: until then nothing
      // signed may leave (the validator misses rounds rather than risk forgetting).
      try {
        this.#syncDirectory()
      } catch (err) {
        throw ioError('directory sync', err)
      }
      this.#renameUnsynced = false
    }
    try {
      writeFully(this.#fs, fd, bytes, this.#size)
      this.#fs.fdatasyncSync(fd)
    } catch (err) {
      // Cut a partial frame off so the next append starts on a frame boundary.
      try {
        this.#fs.ftruncateSync(fd, this.#size)
      } catch {}
      throw ioError('append', err)
    }
    this.#size += bytes.length
  }

  #syncDirectory(): void {
    const dir = this.#fs.openSync(path.dirname(this.options.path), 'r')
    try {
      this.#fs.fsyncSync(dir)
    } finally {
      this.#fs.closeSync(dir)
    }
  }

  /** Rewrites the file with the live frames: old or new file whole, whatever the crash. */
  #compact(): void {
    const fd = this.#fd
    if (fd === null) throw new ConsensusRecordError('CONSENSUS_RECORD_CLOSED', 'record is closed')
    const target = this.options.path
    const temporary = `${target}.tmp`
    const frames = [
      encodeFrame(encodeHeader(this.options.validator)),
      ...this.#evidence.map((e) => e.frame.bytes),
      ...this.#signed.map((s) => s.frame.bytes),
    ]
    let size = 0
    try {
      const out = this.#fs.openSync(temporary, 'w')
      try {
        for (const frame of frames) {
          writeFully(this.#fs, out, frame, size)
          size += frame.length
        }
        this.#fs.fdatasyncSync(out)
      } finally {
        this.#fs.closeSync(out)
      }
      this.#fs.renameSync(temporary, target)
    } catch (err) {
      // The old file is still whole; the dead entries stay until the next try.
      this.#logger?.warn({ err, path: target }, 'consensus record compaction failed')
      this.#fs.rmSync(temporary, { force: true })
      return
    }
    // Once renamed, the new file is the record: appends must go to it from now on, whatever
    // happens next (an append to the replaced file would be lost at a restart). Open the new
    // one before closing the old, so the descriptor never points at nothing.
    this.#fd = this.#fs.openSync(target, 'r+')
    this.#size = size
    this.#deadBytes = 0
    this.#fs.closeSync(fd)
    try {
      this.#syncDirectory()
    } catch (err) {
      // A power cut now may restore the old file, which still holds every live entry; but an
      // entry appended to the new one would be lost, so appends sync the directory first.
      this.#renameUnsynced = true
      this.#logger?.warn({ err, path: target }, 'consensus record directory sync failed')
    }
  }
}

function ioError(what: string, cause: unknown): ConsensusRecordError {
  return new ConsensusRecordError('CONSENSUS_RECORD_IO', `consensus record ${what} failed`, {
    cause,
  })
}

function writeFully(fs: RecordFileSystem, fd: number, bytes: Uint8Array, position: number): void {
  let done = 0
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done)
  }
}

// ------------------------------------------------------------------------------- frames

function frameChecksum(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes))
}

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length)
  const view = new DataView(frame.buffer)
  view.setUint32(0, payload.length)
  view.setUint32(4, frameChecksum(frame.subarray(0, 4), payload))
  frame.set(payload, FRAME_HEADER_BYTES)
  return frame
}

/**
 * The payloads of the whole frames, and the length they cover. A bad frame that reaches the
 * end of the file is a torn append (cut off); one with more data after it is corruption.
 */
export function readFrames(
  bytes: Uint8Array,
  file = 'consensus record',
): { payloads: Uint8Array[]; validLength: number } {
  const payloads: Uint8Array[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  while (offset < bytes.length) {
    if (bytes.length - offset < FRAME_HEADER_BYTES) break
    const length = view.getUint32(offset)
    const end = offset + FRAME_HEADER_BYTES + length
    if (end > bytes.length) break
    const payload = bytes.subarray(offset + FRAME_HEADER_BYTES, end)
    if (frameChecksum(bytes.subarray(offset, offset + 4), payload) !== view.getUint32(offset + 4)) {
      // A write torn at the end, or a file extended with zeros by a crash: all that follows
      // is this frame. Anything else after it means the middle of the record changed.
      if (end === bytes.length || bytes.subarray(offset).every((b) => b === 0)) break
      throw new ConsensusRecordError(
        'CONSENSUS_RECORD_CORRUPT',
        `${file}: checksum mismatch at byte ${offset} with entries after it`,
        { details: { offset } },
      )
    }
    payloads.push(payload)
    offset = end
  }
  return { payloads, validLength: offset }
}

// ----------------------------------------------------------------------------- payloads

type Item = Uint8Array | Item[]

const KIND_OF_CODE = new Map<number, MessageKind>(
  Object.entries(MESSAGE_CODES).map(([kind, code]) => [code, kind as MessageKind]),
)

function toBigInt(item: Item | undefined): bigint {
  return decodeMinimalUint(item, 32, 'integer', (message) => new Error(message))
}

function toBytes(item: Item | undefined): Uint8Array {
  if (!(item instanceof Uint8Array)) throw new Error('expected bytes')
  return item
}

function toList(item: Item | undefined): Item[] {
  if (!Array.isArray(item)) throw new Error('expected a list')
  return item
}

function kindOf(item: Item | undefined): MessageKind {
  const kind = KIND_OF_CODE.get(Number(toBigInt(item)))
  if (kind === undefined) throw new Error('unknown message kind')
  return kind
}

function encodeHeader(validator: Uint8Array): Uint8Array {
  return RLP.encode([encodeUint(TAG.HEADER), encodeUint(VERSION), validator])
}

function decodeHeader(payload: Uint8Array, file: string): Uint8Array {
  try {
    const items = toList(RLP.decode(payload) as Item)
    if (Number(toBigInt(items[0])) !== TAG.HEADER) throw new Error('first entry is no header')
    const version = Number(toBigInt(items[1]))
    if (version !== VERSION) throw new Error(`unknown record version ${version}`)
    const address = toBytes(items[2])
    if (address.length !== 20) throw new Error('bad validator address')
    return address
  } catch (cause) {
    throw new ConsensusRecordError('CONSENSUS_RECORD_CORRUPT', `${file}: bad header`, { cause })
  }
}

export function encodeSignedEntry(entry: QbftRecordEntry): Uint8Array {
  const prepared = entry.prepared
  return RLP.encode([
    encodeUint(TAG.SIGNED),
    encodeUint(entry.height),
    encodeUint(entry.round),
    encodeUint(MESSAGE_CODES[entry.kind]),
    entry.digest ?? new Uint8Array(0),
    entry.message,
    prepared === null
      ? []
      : [
          encodeUint(prepared.round),
          prepared.block.hash,
          prepared.block.encoded,
          prepared.prepares.map((p) => encodeSignedPayload(p)),
        ],
  ])
}

function decodePayload(
  payload: Uint8Array,
  file: string,
): { entry: QbftRecordEntry } | { evidence: EquivocationEvidence } {
  try {
    const items = toList(RLP.decode(payload) as Item)
    const tag = Number(toBigInt(items[0]))
    if (tag === TAG.SIGNED) {
      const digest = toBytes(items[4])
      const prepared = toList(items[6])
      let certificate: QbftPreparedCertificate | null = null
      if (prepared.length > 0) {
        certificate = {
          round: Number(toBigInt(prepared[0])),
          block: { hash: toBytes(prepared[1]), encoded: toBytes(prepared[2]) },
          prepares: toList(prepared[3]).map(
            (p) => decodeSignedPayload(toBytes(p)) as Signed<PreparePayload>,
          ),
        }
      }
      return {
        entry: {
          height: toBigInt(items[1]),
          round: Number(toBigInt(items[2])),
          kind: kindOf(items[3]),
          digest: digest.length === 0 ? null : digest,
          message: toBytes(items[5]),
          prepared: certificate,
        },
      }
    }
    if (tag === TAG.EVIDENCE) {
      const fromPeer = new TextDecoder().decode(toBytes(items[8]))
      return {
        evidence: {
          author: toBytes(items[1]),
          height: toBigInt(items[2]),
          round: Number(toBigInt(items[3])),
          kind: kindOf(items[4]),
          messages: [toBytes(items[5]), toBytes(items[6])],
          detectedAt: Number(toBigInt(items[7])),
          ...(fromPeer === '' ? {} : { fromPeer }),
        },
      }
    }
    throw new Error(`unknown entry tag ${tag}`)
  } catch (cause) {
    throw new ConsensusRecordError(
      'CONSENSUS_RECORD_CORRUPT',
      `${file}: an entry does not decode`,
      {
        cause,
      },
    )
  }
}

function encodeEvidence(evidence: EquivocationEvidence): Uint8Array {
  return RLP.encode([
    encodeUint(TAG.EVIDENCE),
    evidence.author,
    encodeUint(evidence.height),
    encodeUint(evidence.round),
    encodeUint(MESSAGE_CODES[evidence.kind]),
    evidence.messages[0],
    evidence.messages[1],
    encodeUint(Math.max(0, Math.floor(evidence.detectedAt))),
    new TextEncoder().encode(evidence.fromPeer ?? ''),
  ])
}
