/**
 * Speculative validation: validators execute the next block while its proposer builds it.
 *
 * The round-0 proposer of the next height fills its block before its slot, in passes that
 * append transactions (early building, qbft-service.ts). After each pass it announces the
 * block's transactions so far, in block order, in a signed PREVIEW. A validator that holds
 * them in its pool executes them on its head (Ledger.speculate) in the environment the
 * proposer builds in (its address as coinbase, its timestamp). Each preview lists the
 * transactions from the first, so a validator that missed the first previews (still
 * importing the parent, or a lost message) joins at the next one. When the proposal
 * arrives, the ledger checks that the block continues the speculation (same environment,
 * the executed transactions first) and executes only the rest; any other block is executed
 * in full. Validation then costs the transactions that arrived in the last moments before
 * the slot instead of the whole block, which is what validators otherwise wait for.
 *
 * A preview never decides anything: the block's commitments are checked as for any block,
 * and a speculation that does not fit or fails is dropped for a full execution. A lying
 * proposer can cost each validator at most one block's gas of wasted execution per height
 * (plus the full run of its real block), and at most MAX_PREVIEWS_PER_HEIGHT forwarded
 * previews.
 *
 * Wire: 0x01 || rlp([[height, parentHash, timestamp, [txHash...]], signature]); the
 * signature is over keccak(rlp(["qbft-preview", chainId, payload])). The leading byte cannot
 * start an RLP list, so previews share the consensus topic with QBFT messages.
 *
 * Gossip verdicts (PREVIEW_ERROR_ACTIONS): REJECT if malformed, badly signed, or not from
 * the round-0 proposer of the next height; IGNORE previews for another height or head, our
 * own, and those that do not strictly extend the longest one accepted for this height (so
 * each is forwarded once); ACCEPT otherwise, whether or not this validator can use it.
 * Cheap checks come first: size, shape, height and parent before the signature.
 *
 * A validator follows one block per height, the first it accepts a preview of, and executes
 * what each preview adds. A transaction missing from its pool pauses it there until the pool
 * admits that transaction (transactionArrived): a preview often outruns the transaction's
 * own gossip, since the proposer announces what it has just executed. A transaction that
 * fails ends what it can execute ahead. The proposal runs whatever is left.
 */
import { RLP } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import type { Logger } from 'pino'
import type { KnownTransactions } from '../codec/decode-block.ts'
import { decodeMinimalUint, encodeUint } from '../consensus/qbft/messages.ts'
import { keccak256, recoverAddress, sign } from '../crypto/index.ts'
import type { Ledger, LedgerSpeculation } from '../ledger/ledger.ts'
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { SidechainError } from '../lib/errors.ts'
import { localPrivateKey, type ValidatorKey } from './engine.ts'

/** First byte of a preview on the consensus topic (QBFT messages start with 0xc0-0xff). */
export const PREVIEW_TAG = 0x01
export const PREVIEW_SIGNING_DOMAIN = 'qbft-preview'
/** Transactions in one preview (30M gas, the default block gas limit, is 1428 transfers). */
export const MAX_PREVIEW_HASHES = 4_096
/** Size of a preview with MAX_PREVIEW_HASHES hashes, and some room. */
export const MAX_PREVIEW_BYTES = 4_096 * 33 + 1_024
/** Previews accepted (and forwarded) per height: an honest proposer sends 20-40 (one per refill). */
export const MAX_PREVIEWS_PER_HEIGHT = 64

export interface Preview {
  height: bigint
  parentHash: Uint8Array
  /** The block's timestamp, seconds. */
  timestamp: bigint
  /** The block's transactions so far, in order, from the first. */
  hashes: Uint8Array[]
}

export type PreviewErrorCode = ErrorCodeOf<'preview'>

/** Every error code with its gossip action (as QBFT_ERROR_ACTIONS in qbft/errors.ts). */
export const PREVIEW_ERROR_ACTIONS = {
  /** not canonical RLP, wrong shape or field sizes */
  PREVIEW_MALFORMED: 'REJECT',
  /** the signature does not recover */
  PREVIEW_BAD_SIGNATURE: 'REJECT',
  /** signed by someone other than the round-0 proposer of the next height */
  PREVIEW_WRONG_PROPOSER: 'REJECT',
  /** for another height than the next one (stale, or too far ahead to check) */
  PREVIEW_NOT_NEXT_HEIGHT: 'IGNORE',
  /** the next height's validator set is not known yet */
  PREVIEW_PROPOSER_UNKNOWN: 'IGNORE',
  /** built on another block than our head */
  PREVIEW_OTHER_PARENT: 'IGNORE',
  /** our own preview, back from the network */
  PREVIEW_OWN: 'IGNORE',
  /** does not strictly extend the longest preview accepted for this height, or too many */
  PREVIEW_NOT_EXTENDING: 'IGNORE',
} as const satisfies Record<PreviewErrorCode, 'IGNORE' | 'REJECT'>

export class PreviewError extends SidechainError<PreviewErrorCode> {
  override readonly name = 'PreviewError'
  get action(): 'IGNORE' | 'REJECT' {
    return PREVIEW_ERROR_ACTIONS[this.code]
  }
}

type RlpItem = Uint8Array | RlpItem[]

function malformed(message: string): PreviewError {
  return new PreviewError('PREVIEW_MALFORMED', `malformed preview: ${message}`)
}

function decodeUint(item: RlpItem | undefined, maxBytes: number, field: string): bigint {
  return decodeMinimalUint(item, maxBytes, field, malformed)
}

function payloadFields(preview: Preview): RlpItem[] {
  return [
    encodeUint(preview.height),
    preview.parentHash,
    encodeUint(preview.timestamp),
    preview.hashes,
  ]
}

/** keccak(rlp(["qbft-preview", chainId, payload])): what the proposer signs. */
export function previewSigningHash(chainId: bigint, preview: Preview): Uint8Array {
  return keccak256(
    RLP.encode([
      Uint8Array.from(Buffer.from(PREVIEW_SIGNING_DOMAIN)),
      encodeUint(chainId),
      payloadFields(preview),
    ]),
  )
}

export function encodePreview(
  chainId: bigint,
  preview: Preview,
  privateKey: Uint8Array,
): Uint8Array {
  const signature = sign(previewSigningHash(chainId, preview), privateKey)
  const body = RLP.encode([payloadFields(preview), signature])
  const out = new Uint8Array(body.length + 1)
  out[0] = PREVIEW_TAG
  out.set(body, 1)
  return out
}

/**
 * Decodes a preview strictly (the canonical encoding only); the signature is checked by
 * `previewAuthor`. Throws PreviewError.
 */
export function decodePreview(data: Uint8Array): { preview: Preview; signature: Uint8Array } {
  if (data[0] !== PREVIEW_TAG) throw malformed('not a preview')
  if (data.length > MAX_PREVIEW_BYTES) throw malformed(`larger than ${MAX_PREVIEW_BYTES} bytes`)
  const body = data.subarray(1)
  let decoded: RlpItem
  try {
    decoded = RLP.decode(body) as RlpItem
  } catch {
    throw malformed('not RLP')
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw malformed('must be [payload, sig]')
  const [fields, signature] = decoded
  if (!Array.isArray(fields) || fields.length !== 4) throw malformed('payload must have 4 fields')
  if (!(signature instanceof Uint8Array) || signature.length !== 65)
    throw malformed('signature must be 65 bytes')
  const [height, parentHash, timestamp, hashes] = fields
  if (!(parentHash instanceof Uint8Array) || parentHash.length !== 32)
    throw malformed('parent hash must be 32 bytes')
  if (!Array.isArray(hashes) || hashes.length > MAX_PREVIEW_HASHES)
    throw malformed(`hashes must be a list of at most ${MAX_PREVIEW_HASHES}`)
  for (const hash of hashes) {
    if (!(hash instanceof Uint8Array) || hash.length !== 32)
      throw malformed('a transaction hash must be 32 bytes')
  }
  const preview: Preview = {
    height: decodeUint(height, 8, 'height'),
    parentHash,
    timestamp: decodeUint(timestamp, 8, 'timestamp'),
    hashes: hashes as Uint8Array[],
  }
  // One byte form per preview: re-encoding must give the input back.
  if (!equalsBytes(RLP.encode([payloadFields(preview), signature]), body))
    throw malformed('not in canonical form')
  return { preview, signature }
}

/** The address that signed `preview`; PREVIEW_BAD_SIGNATURE if it does not recover. */
export function previewAuthor(
  chainId: bigint,
  preview: Preview,
  signature: Uint8Array,
): Uint8Array {
  try {
    return recoverAddress(previewSigningHash(chainId, preview), signature)
  } catch (cause) {
    throw new PreviewError('PREVIEW_BAD_SIGNATURE', 'preview signature is invalid', { cause })
  }
}

export type PreviewVerdict = 'ACCEPT' | 'IGNORE' | 'REJECT'

export interface ProposalPreviewsOptions {
  chainId: bigint
  /** previews are announced only with a key in this process (a remote signer sends none) */
  validatorKey: ValidatorKey
}

export interface ProposalPreviewsModules {
  ledger: Ledger
  /** The pool: previews name transactions by hash. */
  knownTransactions: KnownTransactions
  /** The round-0 proposer of the next height on the current head (null: set unknown). */
  nextProposer: () => Uint8Array | null
  publish: (data: Uint8Array) => void
  logger?: Logger
}

/** The block this validator follows for the next height (see header). */
interface Followed {
  height: bigint
  parentHash: Uint8Array
  timestamp: bigint
  /** The longest preview accepted: the block's transactions as announced so far. */
  accepted: Uint8Array[]
  /** Previews accepted for it. */
  previews: number
  /** The proposer (the speculation's coinbase). */
  proposer: Uint8Array
  /** How many of `accepted` are executed or queued for execution. */
  queued: number
  /** The pool lacks `accepted[queued]` (this hash, hex): paused until it arrives. */
  waitingFor: string | undefined
  /** A failed execution: nothing more to execute. */
  ended: boolean
  /** Another block is followed now (or the node stops): queued executions are skipped. */
  abandoned: boolean
  /** Opened with the first transaction to execute. */
  speculation: Promise<LedgerSpeculation | undefined> | undefined
  /** Executions run one after another. */
  work: Promise<void>
}

/** Announces our early block's transactions, and follows the next proposer's (see header). */
export class ProposalPreviews {
  private readonly options: ProposalPreviewsOptions
  private readonly modules: ProposalPreviewsModules
  private followed: Followed | undefined
  private stopped = false
  /** Previews announced, blocks followed and transactions executed ahead (tests, logs). */
  readonly stats = { announced: 0, followed: 0, executed: 0 }

  constructor(options: ProposalPreviewsOptions, modules: ProposalPreviewsModules) {
    this.options = options
    this.modules = modules
  }

  /**
   * Announces the block's transactions if it holds more than the `announced` already
   * announced; returns how many are announced now.
   */
  announce(
    block: {
      height: bigint
      parentHash: Uint8Array
      timestamp: bigint
      transactions: number
      transactionHashes(): Uint8Array[]
    },
    announced: number,
  ): number {
    if (Math.min(block.transactions, MAX_PREVIEW_HASHES) <= announced) return announced
    // Previews only speed up the next validators; a remote round trip per fill is not worth it.
    const privateKey = localPrivateKey(this.options.validatorKey)
    if (privateKey === undefined) return announced
    const hashes = block.transactionHashes().slice(0, MAX_PREVIEW_HASHES)
    const preview: Preview = {
      height: block.height,
      parentHash: block.parentHash,
      timestamp: block.timestamp,
      hashes,
    }
    this.modules.publish(encodePreview(this.options.chainId, preview, privateKey))
    this.stats.announced++
    return hashes.length
  }

  /** A preview from the consensus topic: the verdict now, the execution in the background. */
  onMessage(data: Uint8Array): PreviewVerdict {
    try {
      const { preview, author } = this.validate(data)
      this.follow(preview, author)
      return 'ACCEPT'
    } catch (err) {
      if (err instanceof PreviewError) return err.action
      throw err
    }
  }

  /** The gossip rules (see header); throws PreviewError. */
  validate(data: Uint8Array): { preview: Preview; author: Uint8Array } {
    const { preview, signature } = decodePreview(data)
    const { head } = this.modules.ledger
    const fail = (code: PreviewErrorCode, message: string) => new PreviewError(code, message)
    if (preview.height !== head.number + 1n) {
      throw fail('PREVIEW_NOT_NEXT_HEIGHT', `preview for height ${preview.height}`)
    }
    if (!equalsBytes(preview.parentHash, head.hash())) {
      throw fail('PREVIEW_OTHER_PARENT', 'preview builds on another block than the head')
    }
    const proposer = this.modules.nextProposer()
    if (proposer === null) throw fail('PREVIEW_PROPOSER_UNKNOWN', 'next proposer not known')
    const author = previewAuthor(this.options.chainId, preview, signature)
    if (!equalsBytes(author, proposer)) {
      throw fail('PREVIEW_WRONG_PROPOSER', 'preview not from the next round-0 proposer')
    }
    if (equalsBytes(author, this.options.validatorKey.address)) {
      throw fail('PREVIEW_OWN', 'own preview')
    }
    const followed = this.followedFor(preview)
    if (followed !== undefined) {
      const { accepted } = followed
      const extendsAccepted =
        followed.timestamp === preview.timestamp &&
        preview.hashes.length > accepted.length &&
        accepted.every((hash, i) => equalsBytes(hash, preview.hashes[i]!))
      if (!extendsAccepted || followed.previews >= MAX_PREVIEWS_PER_HEIGHT) {
        throw fail('PREVIEW_NOT_EXTENDING', 'preview does not extend the one accepted')
      }
    }
    return { preview, author }
  }

  /** Drops the block followed; previews are ignored from now on (the node stops). */
  async stop(): Promise<void> {
    this.stopped = true
    const followed = this.followed
    this.followed = undefined
    if (followed === undefined) return
    followed.abandoned = true
    await followed.work
    await (await followed.speculation)?.abort()
  }

  /** The block followed, if `preview` is for it (same height and parent). */
  private followedFor(preview: Preview): Followed | undefined {
    const followed = this.followed
    if (followed === undefined || followed.height !== preview.height) return undefined
    return equalsBytes(followed.parentHash, preview.parentHash) ? followed : undefined
  }

  /**
   * The pool admitted a transaction: if the block followed waits for it, executes it and
   * what follows it in the previews (up to the next one the pool lacks).
   */
  transactionArrived(hash: string): void {
    const followed = this.followed
    if (followed === undefined || followed.waitingFor !== hash || followed.abandoned) return
    this.executeKnown(followed)
  }

  /** Takes an accepted preview: runs the transactions it adds, if this node has them. */
  private follow(preview: Preview, proposer: Uint8Array): void {
    if (this.stopped) return
    let followed = this.followedFor(preview)
    if (followed === undefined) {
      this.abandonFollowed()
      followed = {
        height: preview.height,
        parentHash: preview.parentHash,
        timestamp: preview.timestamp,
        accepted: [],
        previews: 0,
        proposer,
        queued: 0,
        waitingFor: undefined,
        ended: false,
        abandoned: false,
        speculation: undefined,
        work: Promise.resolve(),
      }
      this.followed = followed
      this.stats.followed++
    }
    followed.accepted = preview.hashes
    followed.previews++
    this.executeKnown(followed)
  }

  /** Queues the accepted transactions not queued yet, up to the first the pool lacks. */
  private executeKnown(followed: Followed): void {
    if (followed.ended) return
    const txs: TypedTransaction[] = []
    followed.waitingFor = undefined
    for (const hash of followed.accepted.slice(followed.queued)) {
      const key = bytesToHex(hash)
      const known = this.modules.knownTransactions.get(key)
      if (known === undefined) {
        followed.waitingFor = key
        break
      }
      txs.push(known.tx)
    }
    if (txs.length === 0) return
    followed.queued += txs.length
    followed.speculation ??= this.modules.ledger
      .speculate({
        parentHash: followed.parentHash,
        coinbase: followed.proposer,
        timestamp: followed.timestamp,
      })
      .catch((err) => {
        this.modules.logger?.debug({ err }, 'speculation not started')
        return undefined
      })
    const stream = followed
    const speculation = followed.speculation
    stream.work = stream.work.then(async () => {
      if (stream.abandoned) return
      const ledgerSpeculation = await speculation
      if (ledgerSpeculation === undefined || !ledgerSpeculation.open) {
        stream.ended = true
        return
      }
      try {
        await ledgerSpeculation.add(txs)
        this.stats.executed += txs.length
      } catch (err) {
        stream.ended = true
        this.modules.logger?.debug({ height: Number(stream.height), err }, 'speculation ended')
      }
    })
  }

  /** Stops executing for the block followed (another height or head came). */
  private abandonFollowed(): void {
    const previous = this.followed
    if (previous !== undefined) previous.abandoned = true
  }
}
