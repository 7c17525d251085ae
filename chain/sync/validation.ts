/**
 * Rules for blocks that arrive from the network (gossip and range responses): the block
 * message codec and the ACCEPT / IGNORE / REJECT decision for a gossiped finalized block.
 *
 * Block message (gossip payload and blocks-by-range chunk):
 *   rlp([blockRlp, commitRound, [seal, ...]])
 * where the seals are the commit seals that finalize the block itself, signed over
 * (block hash, commitRound); the commit round can be later than the block's proposal round.
 *
 * Gossip decision (a block is ACCEPTed, i.e. forwarded, only once it is imported):
 * - not decodable, oversized parts                          -> REJECT
 * - timestamp too far ahead of our clock                     -> IGNORE (our clock may be off)
 * - height <= head: seals invalid for that height             -> REJECT; same hash as ours
 *   -> IGNORE (duplicate); other hash -> IGNORE, logged loudly by the caller (two finalized
 *   blocks at one height means the validators equivocated). Judged by the header and seals
 *   alone: the transactions of a past block are not decoded (see decodeGossipBlock), so a
 *   known header relayed with a body that does not decode is IGNOREd, not REJECTed
 * - height = head + 1: imported with its seals (the ledger checks header, parent seals,
 *   own seals strictly, execution): ok -> ACCEPT; invalid -> REJECT; parent is not our
 *   head -> REJECT if its seals are bad, else IGNORE (unknown parent, sync decides). A block
 *   byte for byte the one this node built or validated last is not decoded again: that
 *   block object is imported (every validator publishes the block it imports, so the
 *   others get it while they import it themselves)
 * - height > head + 1 (future): seals that cannot be signatures at all -> REJECT; seals
 *   valid for the validator set we know -> IGNORE (the caller buffers it and syncs the gap);
 *   otherwise IGNORE too: votes may change the set before that height, so it is not
 *   decidable yet and an honest peer ahead of us must not be penalized.
 */
import { type Block, type BlockHeader, createBlockFromRLP } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { type CodecErrorCode, decodeBlock } from '../codec/decode-block.ts'
import { MAX_EXTRA_VALIDATORS, SEAL_LENGTH } from '../consensus/extra-data.ts'
import type { ConsensusRules } from '../consensus/rules.ts'
import type { ChainReader, ImportedBlock } from '../ledger/chain-reader.ts'
import { ERROR_CODES, type ErrorCodeOf } from '../lib/error-codes.ts'
import { type ErrorCode, errorMessage, isSidechainError } from '../lib/errors.ts'
import { GossipValidationError } from '../p2p/gossip-errors.ts'

/** Verdicts on gossiped blocks; BLOCK_MALFORMED is the codec's (decode-block.ts). */
export type BlockGossipErrorCode = ErrorCodeOf<'sync'> | CodecErrorCode

export interface BlockMessage {
  block: Block
  /** Round the seals were signed in. */
  round: number
  seals: Uint8Array[]
}

/** The commit finalizing a block (the ledger's BlockCommit). */
export interface BlockCommitLike {
  round: number
  seals: readonly Uint8Array[]
}

export class BlockGossipError extends GossipValidationError<BlockGossipErrorCode> {
  override readonly name: string = 'BlockGossipError'
  /** The decoded message, when decoding got that far (future blocks are buffered). */
  decoded: BlockMessage | undefined
}

function blockError(
  action: 'IGNORE' | 'REJECT',
  code: BlockGossipErrorCode,
  message: string,
  extra: { msg?: BlockMessage; cause?: unknown; details?: Record<string, unknown> } = {},
): BlockGossipError {
  const err = new BlockGossipError(action, code, message, {
    cause: extra.cause,
    details: extra.details,
  })
  err.decoded = extra.msg
  return err
}

// ------------------------------------------------------------------ codec

export function encodeBlockMessage(block: Block, commit: BlockCommitLike): Uint8Array {
  return RLP.encode([block.serialize(), commit.round, [...commit.seals]])
}

/** Decodes a block message; throws a REJECT error on anything malformed. */
export function decodeBlockMessage(data: Uint8Array, common: Common): BlockMessage {
  const { blockBytes, round, seals } = splitBlockMessage(data)
  return { block: decodeMessageBlock(blockBytes, common), round, seals }
}

/** The message's parts, checked, with the block still encoded. */
function splitBlockMessage(data: Uint8Array): {
  blockBytes: Uint8Array
  round: number
  seals: Uint8Array[]
} {
  let decoded: unknown
  try {
    decoded = RLP.decode(data)
  } catch (cause) {
    throw blockError('REJECT', 'BLOCK_MALFORMED', 'block message is not RLP', { cause })
  }
  if (!Array.isArray(decoded) || decoded.length !== 3) {
    throw blockError('REJECT', 'BLOCK_MALFORMED', 'block message must be [block, round, seals]')
  }
  const [blockBytes, roundBytes, seals] = decoded as unknown[]
  if (!(blockBytes instanceof Uint8Array))
    throw blockError('REJECT', 'BLOCK_MALFORMED', 'block must be bytes')
  if (
    !(roundBytes instanceof Uint8Array) ||
    roundBytes.length > 4 ||
    (roundBytes.length > 0 && roundBytes[0] === 0)
  ) {
    throw blockError(
      'REJECT',
      'BLOCK_MALFORMED',
      'round must be a minimal integer of at most 4 bytes',
    )
  }
  if (!Array.isArray(seals) || seals.length > MAX_EXTRA_VALIDATORS) {
    throw blockError('REJECT', 'BLOCK_MALFORMED', 'seals must be a list of at most 1000 items')
  }
  for (const seal of seals) {
    if (!(seal instanceof Uint8Array) || seal.length !== SEAL_LENGTH) {
      throw blockError('REJECT', 'BLOCK_MALFORMED', 'seal must be 65 bytes')
    }
  }
  const round =
    roundBytes.length === 0 ? 0 : Number.parseInt(Buffer.from(roundBytes).toString('hex'), 16)
  return { blockBytes, round, seals: seals as Uint8Array[] }
}

function decodeMessageBlock(blockBytes: Uint8Array, common: Common): Block {
  try {
    return createBlockFromRLP(blockBytes, { common, skipConsensusFormatValidation: true })
  } catch (cause) {
    throw blockError('REJECT', 'BLOCK_MALFORMED', `block does not decode: ${errorMessage(cause)}`, {
      cause,
    })
  }
}

/**
 * The block of a gossiped message. A block at or below the head comes back without its
 * transactions (header, uncles and withdrawals only): it is judged by its header and seals
 * alone (known, or a conflict), and validators receive every block they have just imported
 * themselves, whose transaction objects cost ~1.5% of a validator's CPU under load to build.
 * The next block, if it is byte for byte the one the chain executed last, is that block
 * object: building its transactions again (10-35 ms under load) would delay the import
 * of the same block by consensus, which is under way. Anything else is decoded in full, as
 * proposals are (codec/decode-block.ts), with REJECT for what does not decode.
 */
function decodeGossipBlock(
  blockBytes: Uint8Array,
  chain: BlockValidationChain,
  head: bigint,
): Block {
  let executed: Block | undefined
  const isExecuted = (header: BlockHeader) => {
    const candidate = chain.executedBlock(header.hash())
    // Only the very bytes: the message is forwarded as it came once the block is imported.
    if (candidate !== undefined && equalsBytes(candidate.serialize(), blockBytes))
      executed = candidate
    return executed !== undefined
  }
  try {
    const shell = decodeBlock(
      blockBytes,
      chain.common,
      undefined,
      (header) => header.number <= head || (header.number === head + 1n && isExecuted(header)),
    )
    return executed ?? shell
  } catch (cause) {
    throw blockError('REJECT', 'BLOCK_MALFORMED', errorMessage(cause), { cause })
  }
}

// ------------------------------------------------------------------ import errors

export type ImportOutcome = 'known' | 'not-next' | 'invalid' | 'internal'

/** Import refusals that prove the block (so the peer that sent it) wrong. */
const INVALID_BLOCK_CODES = new Set<ErrorCode>([
  'LEDGER_INVALID_HEADER',
  'LEDGER_INVALID_BODY',
  'EXEC_STATE_ROOT_MISMATCH',
  'EXEC_RECEIPTS_ROOT_MISMATCH',
  'EXEC_GAS_USED_MISMATCH',
  'EXEC_BLOOM_MISMATCH',
  'EXEC_TX_ROOT_MISMATCH',
  'EXEC_INVALID_TX',
  ...ERROR_CODES.consensus,
])

/**
 * What a failed `importBlock` means for the peer that sent the block: the ledger's codes
 * LEDGER_KNOWN_BLOCK (duplicate), LEDGER_NOT_NEXT_BLOCK (gap or unknown parent), the codes
 * of INVALID_BLOCK_CODES (invalid), anything else (our problem: missing state, a closed
 * ledger, a build used after it ended; never the peer's fault).
 */
export function classifyImportError(err: unknown): ImportOutcome {
  if (!isSidechainError(err)) return 'internal'
  if (err.code === 'LEDGER_KNOWN_BLOCK') return 'known'
  if (err.code === 'LEDGER_NOT_NEXT_BLOCK') return 'not-next'
  if (INVALID_BLOCK_CODES.has(err.code)) return 'invalid'
  return 'internal'
}

// ------------------------------------------------------------------ gossip rule

/** The chain as block validation sees it. */
export type BlockValidationChain = Pick<
  ChainReader,
  'common' | 'head' | 'rules' | 'getCanonicalHash' | 'executedBlock'
>

export type BlockImporter = (block: Block, commit: BlockCommitLike) => Promise<ImportedBlock>

export interface BlockRuleOptions {
  nowMs: number
  /** How far a block timestamp may be ahead of our clock (the ledger allows 15 s). */
  maxFutureSeconds: number
}

/** Seal failures that no validator set can make valid: junk signatures, repeated signers. */
const ALWAYS_INVALID_SEALS = new Set(['SEAL_INVALID_SIGNATURE', 'SEAL_DUPLICATE_SIGNER'])

/**
 * Checks the block's own seals against the validator set of its height. `decidable` says
 * whether we know that set for sure (heights up to head + 1); if not, only seals that are
 * invalid under any set are rejected, the rest is IGNOREd as not decidable yet.
 */
export function checkOwnSeals(msg: BlockMessage, rules: ConsensusRules, decidable: boolean): void {
  const { header } = msg.block
  try {
    rules.verifySeals(header, msg.round, msg.seals)
  } catch (cause) {
    const sealCode = (cause as { cause?: { code?: unknown } }).cause?.code
    if (!decidable && !(typeof sealCode === 'string' && ALWAYS_INVALID_SEALS.has(sealCode))) {
      throw blockError(
        'IGNORE',
        'BLOCK_NOT_DECIDABLE',
        `seals of future block ${header.number} do not match the validator set we know`,
        { cause, msg },
      )
    }
    throw blockError(
      'REJECT',
      'BLOCK_BAD_SEALS',
      `block ${header.number}: ${errorMessage(cause)}`,
      { cause, msg },
    )
  }
}

/**
 * Validates (and, for the next block, imports) a gossiped block. Returns the import
 * result on ACCEPT; throws BlockGossipError with IGNORE/REJECT otherwise.
 */
export async function validateGossipBlock(
  data: Uint8Array,
  chain: BlockValidationChain,
  importer: BlockImporter,
  options: BlockRuleOptions,
): Promise<{ msg: BlockMessage; imported: ImportedBlock }> {
  const { blockBytes, round, seals } = splitBlockMessage(data)
  const head = chain.head.number
  const msg: BlockMessage = { block: decodeGossipBlock(blockBytes, chain, head), round, seals }
  const { header } = msg.block
  const maxTimestamp = BigInt(Math.floor(options.nowMs / 1000) + options.maxFutureSeconds)
  if (header.timestamp > maxTimestamp) {
    throw blockError('IGNORE', 'BLOCK_FUTURE_TIMESTAMP', 'block timestamp is ahead of our clock', {
      msg,
    })
  }
  if (header.number <= head) return rejectOrIgnorePast(msg, chain)
  if (header.number > head + 1n) {
    checkOwnSeals(msg, chain.rules, false)
    throw blockError(
      'IGNORE',
      'BLOCK_FUTURE',
      `block ${header.number} is ahead of our head ${head}`,
      { msg },
    )
  }
  try {
    const imported = await importer(msg.block, msg)
    return { msg, imported }
  } catch (err) {
    const outcome = classifyImportError(err)
    if (outcome === 'known') return rejectOrIgnorePast(msg, chain)
    if (outcome === 'invalid') {
      throw blockError('REJECT', 'BLOCK_INVALID', errorMessage(err), {
        cause: err,
        msg,
        details: { number: header.number },
      })
    }
    if (outcome === 'not-next') {
      // The head moved while we waited (now known or conflicting), or the parent is not ours.
      if (header.number <= chain.head.number) return rejectOrIgnorePast(msg, chain)
      checkOwnSeals(msg, chain.rules, header.number === chain.head.number + 1n)
      throw blockError('IGNORE', 'BLOCK_UNKNOWN_PARENT', 'parent is not our head', { msg })
    }
    throw blockError('IGNORE', 'BLOCK_NOT_DECIDABLE', `import failed: ${errorMessage(err)}`, {
      cause: err,
      msg,
    })
  }
}

async function rejectOrIgnorePast(msg: BlockMessage, chain: BlockValidationChain): Promise<never> {
  const { header } = msg.block
  const ours = await chain.getCanonicalHash(header.number)
  // Seals are checked on duplicates too: validators may relay different valid seal sets of
  // one block, but a relayed block with invalid seals is provably bad.
  checkOwnSeals(msg, chain.rules, true)
  if (ours !== undefined && equalsBytes(ours, header.hash())) {
    throw blockError('IGNORE', 'BLOCK_KNOWN', 'block already imported', { msg })
  }
  throw blockError(
    'IGNORE',
    'BLOCK_CONFLICT',
    'a different finalized block exists at this height',
    {
      msg,
      details: {
        number: header.number,
        ours: ours === undefined ? undefined : bytesToHex(ours),
        theirs: bytesToHex(header.hash()),
      },
    },
  )
}
