/**
 * QBFT messages and their canonical wire form.
 *
 * Every message is a signed payload plus unsigned attachments (the block, justifications).
 * Only the payload is signed: attachments are checked against it (the block must hash to
 * the signed digest, justifications carry their own signatures). The author is always
 * recovered from the signature, never read from the wire.
 *
 *   payload      PROPOSAL / PREPARE: [height, round, digest]
 *                COMMIT:             [height, round, digest, commitSeal]
 *                ROUND-CHANGE:       [height, round, [] | [preparedRound, preparedDigest]]
 *   signed       the payload plus a 65-byte signature over
 *                keccak(rlp(["qbft-message", chainId, code, payload]))
 *   message      PROPOSAL:     [code, payload, sig, block, [[rcPayload, sig]...], [[preparePayload, sig]...]]
 *                PREPARE:      [code, payload, sig]
 *                COMMIT:       [code, payload, sig]
 *                ROUND-CHANGE: [code, payload, sig, preparedBlock | 0x, [[preparePayload, sig]...]]
 *
 * Codes follow Besu's QBFT sub-protocol (0x12..0x15). Integers are minimal big-endian
 * (no leading zeros). Decoding is strict: the input must be exactly the canonical encoding
 * of the decoded value, so one message has one byte form (dedup by hash works).
 */
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { keccak256, recoverAddress } from '../../crypto/index.ts'
import { QbftError } from './errors.ts'

export const MESSAGE_CODES = {
  PROPOSAL: 0x12,
  PREPARE: 0x13,
  COMMIT: 0x14,
  ROUND_CHANGE: 0x15,
} as const

export type MessageKind = keyof typeof MESSAGE_CODES

export const DIGEST_LENGTH = 32
export const SIGNATURE_LENGTH = 65
export const MAX_HEIGHT = 2n ** 64n - 1n
export const MAX_ROUND = 0xffff_ffff
/** Structural cap on justification lists; the engine also caps them at the set size. */
export const MAX_JUSTIFICATION_ITEMS = 1_000
/** Domain tag of message signatures; commit seals use "qbft-commit-seal" (seals.ts). */
export const MESSAGE_SIGNING_DOMAIN = 'qbft-message'

/** A block as the engine sees it: its digest and the opaque bytes the embedder decodes. */
export interface ProposedBlock {
  hash: Uint8Array
  encoded: Uint8Array
}

export interface ProposalPayload {
  kind: 'PROPOSAL'
  height: bigint
  round: number
  digest: Uint8Array
}

export interface PreparePayload {
  kind: 'PREPARE'
  height: bigint
  round: number
  digest: Uint8Array
}

export interface CommitPayload {
  kind: 'COMMIT'
  height: bigint
  round: number
  digest: Uint8Array
  /** signature over commitSealDigest(digest, round) (seals.ts) */
  commitSeal: Uint8Array
}

export interface PreparedRef {
  round: number
  digest: Uint8Array
}

export interface RoundChangePayload {
  kind: 'ROUND_CHANGE'
  height: bigint
  /** the round the author wants to move to */
  round: number
  /** the author's latest prepared (round, digest), if any */
  prepared: PreparedRef | null
}

export type Payload = ProposalPayload | PreparePayload | CommitPayload | RoundChangePayload

export interface Signed<P extends Payload = Payload> {
  payload: P
  signature: Uint8Array
}

export interface ProposalMessage {
  kind: 'PROPOSAL'
  signed: Signed<ProposalPayload>
  /** the encoded block; the embedder's blockHash(block) must equal the signed digest */
  block: Uint8Array
  /** round > 0: the q (or more) ROUND-CHANGE payloads for this round; round 0: empty */
  roundChanges: Signed<RoundChangePayload>[]
  /** the q PREPAREs proving the highest prepared round among roundChanges, if any */
  prepares: Signed<PreparePayload>[]
}

export interface PrepareMessage {
  kind: 'PREPARE'
  signed: Signed<PreparePayload>
}

export interface CommitMessage {
  kind: 'COMMIT'
  signed: Signed<CommitPayload>
}

export interface RoundChangeMessage {
  kind: 'ROUND_CHANGE'
  signed: Signed<RoundChangePayload>
  /** the prepared block (encoded) when the payload has `prepared`, else null */
  preparedBlock: Uint8Array | null
  /** the q PREPAREs of the prepared certificate, else empty */
  prepares: Signed<PreparePayload>[]
}

export type QbftMessage = ProposalMessage | PrepareMessage | CommitMessage | RoundChangeMessage

/** What a validator key signs with. Keeps private keys out of the engine. */
export interface QbftSigner {
  address: Uint8Array
  /**
   * Signs `hash`, which is keccak256(`preimage`): 65-byte r || s || recid, low-s
   * (crypto/index.ts `sign`). A local key signs the hash; a remote signer is sent the
   * preimage (the Web3Signer eth1 endpoint hashes what it is sent).
   */
  sign(hash: Uint8Array, preimage: Uint8Array): Uint8Array
}

/**
 * A signer that may answer later (a remote signer over HTTP). The engine keeps every safety
 * rule on its side of the call: the step is reserved, and recorded as an intent, before the
 * request leaves (see QbftEngine `#sign`).
 */
export interface QbftAsyncSigner {
  address: Uint8Array
  sign(hash: Uint8Array, preimage: Uint8Array): Uint8Array | Promise<Uint8Array>
}

type RlpItem = Uint8Array | RlpItem[]

function malformed(message: string, details?: Record<string, unknown>): QbftError {
  return new QbftError('QBFT_MALFORMED', `malformed QBFT message: ${message}`, { details })
}

export function encodeUint(value: bigint | number): Uint8Array {
  const v = BigInt(value)
  if (v < 0n) throw new RangeError('negative integer')
  if (v === 0n) return new Uint8Array(0)
  const hex = v.toString(16)
  return Uint8Array.from(Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex'))
}

/**
 * A minimal big-endian integer (no leading zero) of at most `maxBytes`; `fail` makes the
 * error for anything else (each message family has its own error type).
 */
export function decodeMinimalUint(
  item: RlpItem | undefined,
  maxBytes: number,
  field: string,
  fail: (message: string) => Error,
): bigint {
  if (!(item instanceof Uint8Array)) throw fail(`${field} must be bytes`)
  if (item.length === 0) return 0n
  if (item[0] === 0) throw fail(`${field} has a leading zero`)
  if (item.length > maxBytes) throw fail(`${field} is too large`)
  return BigInt(bytesToHex(item))
}

function decodeUint(item: RlpItem | undefined, maxBytes: number, field: string): bigint {
  return decodeMinimalUint(item, maxBytes, field, malformed)
}

function decodeHeight(item: RlpItem | undefined): bigint {
  return decodeUint(item, 8, 'height')
}

function decodeRound(item: RlpItem | undefined, field = 'round'): number {
  return Number(decodeUint(item, 4, field))
}

function decodeFixed(item: RlpItem | undefined, length: number, field: string): Uint8Array {
  if (!(item instanceof Uint8Array) || item.length !== length) {
    throw malformed(`${field} must be ${length} bytes`)
  }
  return item
}

function asList(item: RlpItem | undefined, field: string): RlpItem[] {
  if (!Array.isArray(item)) throw malformed(`${field} must be a list`)
  return item
}

/** The RLP list of a payload's fields (without kind; the code carries it). */
export function payloadFields(payload: Payload): RlpItem[] {
  const head = [encodeUint(payload.height), encodeUint(payload.round)]
  switch (payload.kind) {
    case 'PROPOSAL':
    case 'PREPARE':
      return [...head, payload.digest]
    case 'COMMIT':
      return [...head, payload.digest, payload.commitSeal]
    case 'ROUND_CHANGE':
      return [
        ...head,
        payload.prepared === null
          ? []
          : [encodeUint(payload.prepared.round), payload.prepared.digest],
      ]
  }
}

function decodePayload(kind: MessageKind, item: RlpItem | undefined): Payload {
  const fields = asList(item, 'payload')
  const expected = kind === 'COMMIT' ? 4 : 3
  if (fields.length !== expected) throw malformed(`${kind} payload must have ${expected} fields`)
  const height = decodeHeight(fields[0])
  const round = decodeRound(fields[1])
  switch (kind) {
    case 'PROPOSAL':
    case 'PREPARE':
      return { kind, height, round, digest: decodeFixed(fields[2], DIGEST_LENGTH, 'digest') }
    case 'COMMIT':
      return {
        kind,
        height,
        round,
        digest: decodeFixed(fields[2], DIGEST_LENGTH, 'digest'),
        commitSeal: decodeFixed(fields[3], SIGNATURE_LENGTH, 'commit seal'),
      }
    case 'ROUND_CHANGE': {
      const prepared = asList(fields[2], 'prepared')
      if (prepared.length === 0) return { kind, height, round, prepared: null }
      if (prepared.length !== 2) throw malformed('prepared must be [round, digest]')
      return {
        kind,
        height,
        round,
        prepared: {
          round: decodeRound(prepared[0], 'prepared round'),
          digest: decodeFixed(prepared[1], DIGEST_LENGTH, 'prepared digest'),
        },
      }
    }
  }
}

function kindOfCode(item: RlpItem | undefined): MessageKind {
  if (item instanceof Uint8Array && item.length === 1) {
    for (const [kind, code] of Object.entries(MESSAGE_CODES)) {
      if (code === item[0]) return kind as MessageKind
    }
  }
  throw malformed('unknown message code')
}

function encodeSignedItem(signed: Signed): RlpItem[] {
  return [payloadFields(signed.payload), signed.signature]
}

function decodeSignedItem<K extends MessageKind>(
  kind: K,
  item: RlpItem | undefined,
  field: string,
): Signed<Extract<Payload, { kind: K }>> {
  const pair = asList(item, field)
  if (pair.length !== 2) throw malformed(`${field} must be [payload, signature]`)
  return {
    payload: decodePayload(kind, pair[0]) as Extract<Payload, { kind: K }>,
    signature: decodeFixed(pair[1], SIGNATURE_LENGTH, `${field} signature`),
  }
}

function decodeSignedList<K extends MessageKind>(
  kind: K,
  item: RlpItem | undefined,
  field: string,
): Signed<Extract<Payload, { kind: K }>>[] {
  const list = asList(item, field)
  if (list.length > MAX_JUSTIFICATION_ITEMS) throw malformed(`${field} has too many items`)
  return list.map((entry) => decodeSignedItem(kind, entry, field))
}

/** keccak(rlp(["qbft-message", chainId, code, payload])): what the author signs. */
/** What a message signature covers before hashing (domain, chain id, kind, payload). */
export function messageSigningPreimage(chainId: bigint, payload: Payload): Uint8Array {
  return RLP.encode([
    Uint8Array.from(Buffer.from(MESSAGE_SIGNING_DOMAIN)),
    encodeUint(chainId),
    Uint8Array.of(MESSAGE_CODES[payload.kind]),
    payloadFields(payload),
  ])
}

export function messageSigningHash(chainId: bigint, payload: Payload): Uint8Array {
  return keccak256(messageSigningPreimage(chainId, payload))
}

export function signPayload<P extends Payload>(
  payload: P,
  chainId: bigint,
  signer: QbftSigner,
): Signed<P> {
  const preimage = messageSigningPreimage(chainId, payload)
  return { payload, signature: signer.sign(keccak256(preimage), preimage) }
}

/** `signPayload` with a signer that may answer later: synchronous when the signer is. */
export function signPayloadWith<P extends Payload>(
  payload: P,
  chainId: bigint,
  signer: QbftAsyncSigner,
): Signed<P> | Promise<Signed<P>> {
  const preimage = messageSigningPreimage(chainId, payload)
  const signature = signer.sign(keccak256(preimage), preimage)
  return signature instanceof Promise
    ? signature.then((s) => ({ payload, signature: s }))
    : { payload, signature }
}

/** The author of a signed payload; QBFT_BAD_SIGNATURE if the signature does not recover. */
export function recoverAuthor(signed: Signed, chainId: bigint): Uint8Array {
  try {
    return recoverAddress(messageSigningHash(chainId, signed.payload), signed.signature)
  } catch (cause) {
    throw new QbftError('QBFT_BAD_SIGNATURE', `${signed.payload.kind} signature is invalid`, {
      cause,
    })
  }
}

export function encodeMessage(message: QbftMessage): Uint8Array {
  const head: RlpItem[] = [
    Uint8Array.of(MESSAGE_CODES[message.kind]),
    payloadFields(message.signed.payload),
    message.signed.signature,
  ]
  switch (message.kind) {
    case 'PROPOSAL':
      return RLP.encode([
        ...head,
        message.block,
        message.roundChanges.map(encodeSignedItem),
        message.prepares.map(encodeSignedItem),
      ])
    case 'PREPARE':
    case 'COMMIT':
      return RLP.encode(head)
    case 'ROUND_CHANGE':
      return RLP.encode([
        ...head,
        message.preparedBlock ?? new Uint8Array(0),
        message.prepares.map(encodeSignedItem),
      ])
  }
}

export interface DecodeLimits {
  /** whole-message size cap in bytes */
  maxBytes: number
}

/**
 * Strict decoding: QBFT_TOO_LARGE over the size cap, QBFT_MALFORMED for anything that is
 * not the canonical encoding of a well-formed message. Signatures are not checked here.
 */
export function decodeMessage(bytes: Uint8Array, limits: DecodeLimits): QbftMessage {
  if (bytes.length > limits.maxBytes) {
    throw new QbftError('QBFT_TOO_LARGE', 'QBFT message exceeds the size cap', {
      details: { size: bytes.length, max: limits.maxBytes },
    })
  }
  let decoded: RlpItem
  try {
    decoded = RLP.decode(bytes) as RlpItem
  } catch (cause) {
    throw new QbftError('QBFT_MALFORMED', 'malformed QBFT message: not RLP', { cause })
  }
  const top = asList(decoded, 'message')
  const kind = kindOfCode(top[0])
  const signed = decodeSignedItem(kind, [top[1] ?? [], top[2] ?? new Uint8Array(0)], 'message')
  let message: QbftMessage
  switch (kind) {
    case 'PROPOSAL': {
      if (top.length !== 6) throw malformed('PROPOSAL must have 6 items')
      const block = top[3]
      if (!(block instanceof Uint8Array) || block.length === 0) {
        throw malformed('PROPOSAL block must be non-empty bytes')
      }
      message = {
        kind,
        signed: signed as Signed<ProposalPayload>,
        block,
        roundChanges: decodeSignedList('ROUND_CHANGE', top[4], 'round changes'),
        prepares: decodeSignedList('PREPARE', top[5], 'prepares'),
      }
      break
    }
    case 'PREPARE':
      if (top.length !== 3) throw malformed('PREPARE must have 3 items')
      message = { kind, signed: signed as Signed<PreparePayload> }
      break
    case 'COMMIT':
      if (top.length !== 3) throw malformed('COMMIT must have 3 items')
      message = { kind, signed: signed as Signed<CommitPayload> }
      break
    case 'ROUND_CHANGE': {
      if (top.length !== 5) throw malformed('ROUND-CHANGE must have 5 items')
      const rc = signed as Signed<RoundChangePayload>
      const block = top[3]
      if (!(block instanceof Uint8Array)) throw malformed('ROUND-CHANGE block must be bytes')
      const prepares = decodeSignedList('PREPARE', top[4], 'prepares')
      if (rc.payload.prepared === null) {
        if (block.length !== 0 || prepares.length !== 0) {
          throw malformed('ROUND-CHANGE without a prepared round carries a block or prepares')
        }
      } else if (block.length === 0 || prepares.length === 0) {
        throw malformed('ROUND-CHANGE with a prepared round lacks its block or prepares')
      }
      message = {
        kind,
        signed: rc,
        preparedBlock: block.length === 0 ? null : block,
        prepares,
      }
      break
    }
  }
  // One message, one byte form: anything non-canonical that RLP.decode let through.
  if (!equalsBytes(encodeMessage(message), bytes)) throw malformed('not canonically encoded')
  return message
}

/** [code, payload, signature]: a signed payload on its own (equivocation evidence). */
export function encodeSignedPayload(signed: Signed): Uint8Array {
  return RLP.encode([
    Uint8Array.of(MESSAGE_CODES[signed.payload.kind]),
    payloadFields(signed.payload),
    signed.signature,
  ])
}

export function decodeSignedPayload(bytes: Uint8Array): Signed {
  let decoded: RlpItem
  try {
    decoded = RLP.decode(bytes) as RlpItem
  } catch (cause) {
    throw new QbftError('QBFT_MALFORMED', 'malformed signed payload: not RLP', { cause })
  }
  const top = asList(decoded, 'signed payload')
  if (top.length !== 3) throw malformed('signed payload must have 3 items')
  const signed = decodeSignedItem(kindOfCode(top[0]), [top[1]!, top[2]!], 'signed payload')
  if (!equalsBytes(encodeSignedPayload(signed), bytes)) throw malformed('not canonically encoded')
  return signed
}

/** Stable identity of a payload's content (without signature). */
export function payloadKey(payload: Payload): string {
  return bytesToHex(
    RLP.encode([Uint8Array.of(MESSAGE_CODES[payload.kind]), payloadFields(payload)]),
  )
}
