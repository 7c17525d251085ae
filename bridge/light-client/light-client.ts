/**
 * The relayer's light client of the sidechain: it follows the validator set from a trusted
 * checkpoint (the genesis block, or an epoch block, named by hash in the relayer config)
 * through the chain's own rules (chain/consensus: extraData, proposer, commit seals, votes),
 * so a header counts only when a quorum of the validator set of its height sealed it.
 *
 * Headers come from one JSON-RPC endpoint, which is not trusted: each header is hashed here
 * (header.ts), must name the last verified header as its parent, and must carry a quorum of
 * commit seals for that parent (a block's own seals travel in its child). So the newest header
 * whose seals are known is the head's parent: `finalized` below. Its `stateRoot` is what the
 * withdrawal proofs are checked against.
 *
 * The tally of validator votes advances only with headers whose seals were checked; the state
 * after `finalized` is kept in the relayer's datadir, so a restart does not walk from genesis
 * again. Nothing is module-level: two relayers in one process have two light clients.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Address } from '@ethereumjs/util'
import type { Hex } from 'viem'
import { decodeExtraData } from '../../chain/consensus/extra-data.ts'
import { ConsensusRules } from '../../chain/consensus/rules.ts'
import { VoteTally } from '../../chain/consensus/validator-votes.ts'
import type { Logger } from '../../chain/lib/logger.ts'
import { BridgeError } from '../core/errors.ts'
import { type LightHeader, parseRpcHeader, type RpcHeader } from './header.ts'

/** Where headers come from (one JSON-RPC endpoint, trusted for nothing). */
export interface HeaderSource {
  blockNumber(): Promise<bigint>
  header(number: bigint): Promise<RpcHeader>
}

export interface LightClientOptions {
  /** Trusted header: the genesis (number 0) or an epoch block. Absent: pin the endpoint's genesis on first use. */
  checkpoint?: { number: bigint; hash: Hex }
  epochLength: number
  /** File holding the verified state across restarts (in the relayer's datadir). */
  stateFile: string
  /** Headers fetched in parallel per batch. */
  fetchConcurrency?: number
  /** Most headers verified per `sync` call, so one call stays short on a long chain. */
  maxHeadersPerSync?: number
}

export interface LightClientModules {
  source: HeaderSource
  logger: Logger
  /** Called with the refusal's code each time a header is refused. */
  onRefusal?: (code: string) => void
  /** Called with the height of each newly finalized header. */
  onFinalized?: (number: bigint) => void
}

/** A header whose commit seals were verified (or the trusted checkpoint). */
export interface VerifiedHeader {
  number: bigint
  hash: Hex
  stateRoot: Hex
}

interface StoredState {
  version: 1
  checkpoint: { number: string; hash: Hex }
  finalized: { number: string; hash: Hex; stateRoot: Hex }
  /** VoteTally snapshot after `finalized`, base64. */
  tally: string
}

export class SidechainLightClient {
  private readonly options: LightClientOptions
  private readonly m: LightClientModules
  private checkpoint: { number: bigint; hash: Hex } | undefined
  private tally: VoteTally | undefined
  private rules: ConsensusRules | undefined
  private finalizedHeader: LightHeader | VerifiedHeader | undefined
  private finalizedSnapshot: Uint8Array | undefined
  /** Child of `finalized`: its own fields checked, its seals still to come (in its child). */
  private tip: LightHeader | undefined
  private syncing: Promise<VerifiedHeader> | undefined

  constructor(options: LightClientOptions, modules: LightClientModules) {
    this.options = options
    this.m = modules
  }

  /** The newest header with verified seals (undefined before the first sync). */
  get finalized(): VerifiedHeader | undefined {
    const f = this.finalizedHeader
    if (f === undefined) return undefined
    return { number: f.number, hash: hashOf(f), stateRoot: f.stateRoot }
  }

  /**
   * Verifies the headers the endpoint has beyond the last verified one, and returns the newest
   * header with verified seals. Concurrent callers share one run.
   */
  sync(): Promise<VerifiedHeader> {
    this.syncing ??= this.runSync().finally(() => {
      this.syncing = undefined
    })
    return this.syncing
  }

  private async runSync(): Promise<VerifiedHeader> {
    if (this.tally === undefined) await this.init()
    const head = await this.m.source.blockNumber()
    const from = (this.tip ?? this.finalizedHeader!).number + 1n
    const limit = BigInt(this.options.maxHeadersPerSync ?? 2_000)
    const to = head < from + limit - 1n ? head : from + limit - 1n
    const before = this.finalizedHeader!.number
    const batch = BigInt(this.options.fetchConcurrency ?? 16)
    try {
      for (let start = from; start <= to; start += batch) {
        const end = start + batch - 1n < to ? start + batch - 1n : to
        const numbers: bigint[] = []
        for (let n = start; n <= end; n++) numbers.push(n)
        const headers = await Promise.all(numbers.map((n) => this.m.source.header(n)))
        for (const json of headers) this.accept(json)
      }
    } catch (err) {
      // What the endpoint showed beyond `finalized` is dropped: the next sync fetches it again.
      this.rollback()
      if (err instanceof BridgeError) this.m.onRefusal?.(err.code)
      throw err
    } finally {
      if (this.finalizedHeader!.number !== before) await this.save()
    }
    return this.finalized!
  }

  /** Checks `json` as the child of the tip (or of `finalized`) and moves the chain forward. */
  private accept(json: RpcHeader): void {
    const header = parseRpcHeader(json)
    const parent = this.tip ?? this.finalizedHeader!
    const parentHash = hashOf(parent)
    if (header.number !== parent.number + 1n || header.parentHash !== parentHash) {
      throw new BridgeError(
        'RELAYER_HEADER_MISMATCH',
        `header ${header.number} does not extend the verified header ${parent.number} (${parentHash})`,
        {
          details: {
            number: header.number.toString(),
            parentHash: header.parentHash,
            verified: parentHash,
          },
        },
      )
    }
    const tally = this.tally!
    if (this.tip !== undefined) {
      // The tip's vote counts for the proposer check of its child; it is committed (or rolled
      // back) together with the tip's seals below.
      const tipExtra = decodeExtraData(this.tip.extraData)
      tally.prepareBlock(this.tip, tipExtra).apply()
    }
    try {
      // The proposer of `header`, the validator list on epoch blocks, and the commit seals of
      // its parent by a quorum of the parent's validator set.
      this.rules!.verifyHeader(header, parentView(parent))
    } catch (cause) {
      throw new BridgeError(
        'RELAYER_HEADER_UNSEALED',
        `header ${parent.number} is not sealed by a quorum of its validators, or header ${header.number} breaks the chain's rules: ${(cause as Error).message}`,
        { details: { number: parent.number.toString(), hash: parentHash }, cause },
      )
    }
    if (this.tip !== undefined) {
      // The tip's seals were just verified: it is final. Snapshot the tally through it.
      this.finalizedHeader = this.tip
      this.finalizedSnapshot = snapshotOf(tally)
      this.m.onFinalized?.(this.tip.number)
    }
    this.tip = header
  }

  private rollback(): void {
    this.tip = undefined
    this.tally!.restore(this.finalizedSnapshot!)
  }

  /** Loads the stored state, or starts at the checkpoint. */
  private async init(): Promise<void> {
    const stored = await this.load()
    const configured = this.options.checkpoint
    if (stored !== undefined) {
      const storedCheckpoint = {
        number: BigInt(stored.checkpoint.number),
        hash: stored.checkpoint.hash.toLowerCase() as Hex,
      }
      if (
        configured === undefined ||
        (configured.number === storedCheckpoint.number &&
          configured.hash.toLowerCase() === storedCheckpoint.hash)
      ) {
        this.checkpoint = storedCheckpoint
        this.tally = new VoteTally([], this.options.epochLength)
        this.finalizedSnapshot = Buffer.from(stored.tally, 'base64')
        this.tally.restore(this.finalizedSnapshot)
        this.rules = new ConsensusRules(this.tally)
        this.finalizedHeader = {
          number: BigInt(stored.finalized.number),
          hash: stored.finalized.hash,
          stateRoot: stored.finalized.stateRoot,
        }
        return
      }
      this.m.logger.warn(
        {
          stored: stored.checkpoint,
          configured: { ...configured, number: String(configured.number) },
        },
        'the configured sidechain checkpoint changed: verifying again from it',
      )
    }
    const number = configured?.number ?? 0n
    const header = parseRpcHeader(await this.m.source.header(number))
    if (configured !== undefined && header.hashHex !== configured.hash.toLowerCase()) {
      this.m.onRefusal?.('RELAYER_UNTRUSTED_CHECKPOINT')
      throw new BridgeError(
        'RELAYER_UNTRUSTED_CHECKPOINT',
        `the sidechain endpoint's block ${number} is ${header.hashHex}, the configured checkpoint is ${configured.hash}`,
        {
          details: { number: number.toString(), served: header.hashHex, trusted: configured.hash },
        },
      )
    }
    if (configured === undefined) {
      this.m.logger.warn(
        { genesis: header.hashHex },
        'no sidechain checkpoint configured: trusting the endpoint genesis on first use (set sidechain.lightClient.checkpointHash)',
      )
    }
    const extra = decodeExtraData(header.extraData)
    if (extra.validators.length === 0) {
      throw new BridgeError(
        'RELAYER_UNTRUSTED_CHECKPOINT',
        `the checkpoint block ${number} lists no validators: only the genesis or an epoch block can be a checkpoint`,
        { details: { number: number.toString() } },
      )
    }
    this.checkpoint = { number, hash: header.hashHex }
    this.tally = new VoteTally(extra.validators, this.options.epochLength)
    this.rules = new ConsensusRules(this.tally)
    this.finalizedHeader = header
    this.finalizedSnapshot = snapshotOf(this.tally)
    await this.save()
  }

  private async load(): Promise<StoredState | undefined> {
    let text: string
    try {
      text = await readFile(this.options.stateFile, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    try {
      const state = JSON.parse(text) as StoredState
      if (state.version !== 1) throw new Error(`version ${state.version}`)
      return state
    } catch (cause) {
      // A torn or foreign file costs a walk from the checkpoint, never trust.
      this.m.logger.warn(
        { file: this.options.stateFile, cause },
        'light client state unreadable; starting over',
      )
      return undefined
    }
  }

  private async save(): Promise<void> {
    const f = this.finalized!
    const state: StoredState = {
      version: 1,
      checkpoint: { number: this.checkpoint!.number.toString(), hash: this.checkpoint!.hash },
      finalized: { number: f.number.toString(), hash: f.hash, stateRoot: f.stateRoot },
      tally: Buffer.from(this.finalizedSnapshot!).toString('base64'),
    }
    const file = this.options.stateFile
    await mkdir(path.dirname(file), { recursive: true })
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(tmp, `${JSON.stringify(state)}\n`)
    await rename(tmp, file)
  }
}

function hashOf(h: LightHeader | VerifiedHeader): Hex {
  return 'hashHex' in h ? h.hashHex : h.hash
}

/** The consensus rules' view of a header; a stored (verified) header needs only number and hash. */
function parentView(h: LightHeader | VerifiedHeader): LightHeader {
  if ('hashHex' in h) return h
  const bytes = Buffer.from(h.hash.slice(2), 'hex')
  return {
    number: h.number,
    hashHex: h.hash,
    parentHash: '0x',
    stateRoot: h.stateRoot,
    // Never read for a parent: the rules check the child's proposer and the parent's seals.
    coinbase: new Address(new Uint8Array(20)),
    extraData: new Uint8Array(0),
    hash: () => Uint8Array.from(bytes),
  }
}

/**
 * The tally's current state. A block without a vote changes nothing but, on an epoch block,
 * clears the votes; number 1 is an epoch block only when every block is, and then the votes
 * are always empty anyway.
 */
function snapshotOf(tally: VoteTally): Uint8Array {
  const noVote = {
    vanity: new Uint8Array(32),
    round: 0,
    vote: null,
    validators: [],
    parentCommitRound: 0,
    parentCommitSeals: [],
  }
  return tally.prepareBlock({ number: 1n, coinbase: new Address(new Uint8Array(20)) }, noVote)
    .snapshot
}
