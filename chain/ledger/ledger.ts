/**
 * The ledger: the only writer of blocks. It owns the chain database and the block executor,
 * validates every block against its parent and the consensus rules, executes it (or reuses
 * the execution done while building/validating it) and writes it in one atomic batch.
 * Every imported block is final (BFT), so there are no forks and no reorgs: a block must
 * extend the head.
 *
 * Readers (RPC, txpool, sync, p2p, metrics) see it through ChainReader (chain-reader.ts):
 * the read methods and the 'head' event.
 */
import { EventEmitter } from 'node:events'
import {
  Block,
  type BlockHeader,
  createBlockFromBytesArray,
  createBlockHeader,
  createBlockHeaderFromRLP,
} from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import type { MerkleStateManager } from '@ethereumjs/statemanager'
import { Caches, MerkleStateManager as StateManagerClass } from '@ethereumjs/statemanager'
import type { TypedTransaction } from '@ethereumjs/tx'
import {
  type Account,
  type Address,
  bytesToBigInt,
  bytesToHex,
  bytesToInt,
  bytesToUnprefixedHex,
  equalsBytes,
  intToBytes,
  KECCAK256_RLP,
  KECCAK256_RLP_ARRAY,
} from '@ethereumjs/util'
import type { Genesis } from '../../genesis/schema.ts'
import {
  type ConsensusExtraData,
  decodeExtraData,
  emptyVanity,
  encodeExtraData,
} from '../consensus/extra-data.ts'
import type { ConsensusRules } from '../consensus/rules.ts'
import { keccak256 } from '../crypto/index.ts'
import {
  applyAlloc,
  BFT_MIX_HASH,
  type BlockExecution,
  BlockExecutor,
  type BuildOptions,
  type BuildResult,
  createStateManagerAt,
  createStateTrie,
  EMPTY_REQUESTS_HASH,
  type HeaderFields,
  type PendingBuild,
  type PendingExecution,
  ZERO_HASH,
} from '../execution/block-executor.ts'
import { createChainCommon } from '../execution/common.ts'
import { orderedTrieRoot } from '../execution/ordered-trie.ts'
import {
  decodeStoredReceipts,
  encodeStoredReceipts,
  type StoredReceipt,
} from '../execution/receipts.ts'
import { StateStore } from '../execution/state-store.ts'
import type { UpstreamPatchReport } from '../execution/upstream/index.ts'
import { errorMessage } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import type { LedgerMetrics } from '../metrics/events.ts'
import {
  type ChainDb,
  META_KEYS,
  STORAGE_SCHEMA_VERSION,
  StorageError,
} from '../storage/chain-db.ts'
import { setRecent } from '../util/recent-map.ts'
import { nextBaseFee } from './base-fee.ts'
import type { BlockCommit, ChainReader, ImportedBlock, TxLocation } from './chain-reader.ts'
import { LedgerError, type LedgerErrorCode } from './errors.ts'
import { HeadAccounts } from './head-accounts.ts'

export interface ImportOptions {
  /** Seals finalizing this block; verified and stored beside it. */
  seals?: readonly Uint8Array[]
  /** Round the seals were signed in (default: the round in the block's extraData). */
  sealRound?: number
  /** Execution already done on the executor's current state for exactly this block. */
  execution?: BlockExecution
  /** Trust the caller for seals (own block produced by a single validator that just sealed it). */
  sealsVerified?: boolean
}

/**
 * A block being built on the head in several passes (a proposer filling its block while it
 * waits for its slot). It holds the executor: any other build, validation or import first
 * abandons it, after which its methods throw LEDGER_BUILD_ABANDONED.
 */
export interface LedgerBuild {
  /** Hash of the head it builds on. */
  readonly parentHash: Uint8Array
  /** Transactions included so far, in block order. */
  readonly included: readonly TypedTransaction[]
  /** False once sealed, aborted or abandoned. */
  readonly open: boolean
  /** Time spent running transactions so far, over all passes. */
  readonly executionMs: number
  /** Runs more candidates after those already included (invalid ones are left out). */
  add(
    candidates: Iterable<TypedTransaction>,
    options?: BuildOptions,
  ): Promise<BuildResult['rejected']>
  /** Finishes the block; the executor stays on its post-state, as after buildBlock. */
  seal(): Promise<BuildResult>
  /** Gives the executor back (state rewound to the head). No-op once closed. */
  abort(): Promise<void>
}

/**
 * The next block executed ahead of its proposal (see Ledger.speculate). Methods throw
 * LEDGER_SPECULATION_ENDED once its block was validated or anything else took the executor.
 */
export interface LedgerSpeculation {
  /** The execution environment. */
  readonly header: BlockHeader
  /** How many transactions were executed so far. */
  readonly executed: number
  readonly open: boolean
  /** Runs more transactions; all must apply, else it throws and the speculation ends. */
  add(txs: readonly TypedTransaction[]): Promise<void>
  abort(): Promise<void>
}

function encodeCommit(commit: BlockCommit): Uint8Array {
  return RLP.encode([intToBytes(commit.round), commit.seals])
}

function decodeCommit(raw: Uint8Array): BlockCommit {
  const [round, seals] = RLP.decode(raw) as [Uint8Array, Uint8Array[]]
  return { round: Number(bytesToBigInt(round)), seals }
}

export interface LedgerOptions {
  genesis: Genesis
  /** Maximum seconds a block timestamp may be ahead of our clock. */
  maxFutureSeconds?: number
  /** Recent decoded blocks kept in memory for RPC and sync. */
  blockCacheSize?: number
  /**
   * Accounts at the head kept for the pool (see head-accounts.ts). Each holds its RLP or a
   * decoded account, plus the executor's decoding of those bytes while they live.
   */
  headAccountsSize?: number
  /** Newest blocks checked at open (hashes, links, records present); see checkNewestBlocks. */
  checkedBlocksAtOpen?: number
}

export interface LedgerModules {
  db: ChainDb
  rules: ConsensusRules
  clock?: { now(): number }
  /** Import and validation times, as they happen; null or absent: not measured. */
  metrics?: LedgerMetrics | null
  /** Warnings about this node's environment (a clock behind the validators'). */
  logger?: Logger
}

interface LedgerEvents {
  head: [ImportedBlock]
}

function ledgerError(
  code: LedgerErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
) {
  return new LedgerError(code, message, { details, cause })
}

export class Ledger extends EventEmitter<LedgerEvents> implements ChainReader {
  readonly common: Common
  readonly genesis: Genesis
  readonly rules: ConsensusRules
  private readonly db: ChainDb
  private readonly clock: { now(): number }
  private readonly metrics: LedgerMetrics | null
  private readonly maxFutureSeconds: number
  private readonly logger: Logger | undefined
  private clockWarnedAt = Number.NEGATIVE_INFINITY
  private readonly store: StateStore
  private executor!: BlockExecutor
  private headHeader!: BlockHeader
  private genesisHeader!: BlockHeader
  private readonly blockCache = new Map<string, Block>()
  private readonly blockCacheSize: number
  private writeQueue: Promise<unknown> = Promise.resolve()
  private headStateManager: { root: Uint8Array; sm: MerkleStateManager } | undefined
  /** Accounts at the head for the pool, kept across heads (see head-accounts.ts). */
  private readonly headAccounts: HeadAccounts
  /** Seals of the tip block, until its child carries them. */
  private tipCommit: BlockCommit = { round: 0, seals: [] }
  /**
   * The block built or validated last and its execution (see importLocked): the object
   * whose body was checked or built here.
   */
  private lastExecuted: { block: Block; execution: BlockExecution } | undefined
  /** The multi-pass build holding the executor, if any (see startBuild). */
  private pendingBuild: PendingBuild | undefined
  /** The next block's transactions executed ahead of its proposal, if any (see speculate). */
  private speculation: PendingExecution | undefined
  /**
   * Validations that finished on a speculation, and validations that found one but could
   * not use it (the block did not continue it, or finishing it failed) and executed the
   * block in full. Speculations given up for a build or an import count in neither.
   */
  readonly speculativeValidations = { used: 0, fellBack: 0 }
  /**
   * Blocks that could not be written (storage failed): in all, and in a row since the last
   * block written. Health and metrics read them; a block is retried by whoever imports it.
   */
  readonly writeFailures: { total: number; consecutive: number; lastError: string | undefined } = {
    total: 0,
    consecutive: 0,
    lastError: undefined,
  }
  private readonly checkedBlocksAtOpen: number

  constructor(options: LedgerOptions, modules: LedgerModules) {
    super()
    this.genesis = options.genesis
    this.common = createChainCommon(options.genesis.config)
    this.db = modules.db
    this.rules = modules.rules
    this.clock = modules.clock ?? { now: () => Date.now() }
    this.metrics = modules.metrics ?? null
    this.maxFutureSeconds = options.maxFutureSeconds ?? 15
    this.logger = modules.logger
    this.blockCacheSize = options.blockCacheSize ?? 512
    this.headAccounts = new HeadAccounts(options.headAccountsSize ?? 100_000)
    this.checkedBlocksAtOpen = options.checkedBlocksAtOpen ?? 64
    this.store = new StateStore(this.db)
  }

  /**
   * Opens the chain: writes genesis on an empty database, else checks the schema version,
   * the genesis and the newest blocks, and loads the head. A database that fails a check is
   * refused (STORAGE_SCHEMA_UNSUPPORTED, STORAGE_CORRUPT), never served.
   */
  async open(): Promise<void> {
    const genesisBlock = await this.buildGenesis()
    const storedGenesis = await this.db.getMeta(META_KEYS.genesis)
    if (storedGenesis === undefined) {
      // One batch: a database that has a genesis always has its schema version.
      await this.db.write({
        hash: genesisBlock.hash(),
        number: 0n,
        header: genesisBlock.header.serialize(),
        body: RLP.encode([[], [], []]),
        receipts: encodeStoredReceipts([]),
        txLookups: [],
        stateNodes: this.store.takePending(),
        meta: [
          [META_KEYS.genesis, genesisBlock.hash()],
          [META_KEYS.schema, intToBytes(STORAGE_SCHEMA_VERSION)],
        ],
        setHead: true,
      })
    } else {
      await this.checkSchema(equalsBytes(storedGenesis, genesisBlock.hash()))
    }
    if (storedGenesis !== undefined && !equalsBytes(storedGenesis, genesisBlock.hash())) {
      throw ledgerError(
        'LEDGER_GENESIS_MISMATCH',
        'the datadir holds a different chain than this genesis file',
        {
          datadir: this.db.path,
          stored: bytesToHex(storedGenesis),
          genesis: bytesToHex(genesisBlock.hash()),
        },
      )
    } else {
      this.store.discardPending()
    }
    this.genesisHeader = genesisBlock.header
    const headHash = (await this.db.getMeta(META_KEYS.head)) ?? genesisBlock.hash()
    this.headHeader = await this.checkNewestBlocks(headHash)
    const tally = await this.db.getMeta(META_KEYS.validatorTally)
    if (tally !== undefined) this.rules.validatorSet.restore?.(tally)
    const commit = await this.db.getSeals(headHash)
    try {
      this.tipCommit = commit === undefined ? { round: 0, seals: [] } : decodeCommit(commit)
    } catch (cause) {
      throw this.corrupt('the seals of the head block do not decode', this.headHeader.number, cause)
    }
    this.executor = await BlockExecutor.create({
      common: this.common,
      store: this.store,
      stateRoot: this.headHeader.stateRoot,
      hashes: { getCanonicalHash: (n) => this.getCanonicalHash(n) },
    })
  }

  /**
   * Refuses a layout this code does not read. Databases of the first layout written by an
   * older build could miss the version (it was written after genesis, in its own write):
   * their genesis matched, so they are of this layout and get the version now.
   */
  private async checkSchema(genesisMatches: boolean): Promise<void> {
    const stored = await this.db.getMeta(META_KEYS.schema)
    if (stored === undefined) {
      if (genesisMatches)
        await this.db.putMeta(META_KEYS.schema, intToBytes(STORAGE_SCHEMA_VERSION))
      return
    }
    const version = stored.length === 0 || stored.length > 6 ? Number.NaN : bytesToInt(stored)
    if (version === STORAGE_SCHEMA_VERSION) return
    const newer = version > STORAGE_SCHEMA_VERSION
    throw new StorageError(
      'STORAGE_SCHEMA_UNSUPPORTED',
      newer
        ? `the datadir was written by a newer version (storage schema ${version}, this node reads ${STORAGE_SCHEMA_VERSION}): run that version, or use an empty datadir`
        : `the datadir has storage schema ${Number.isNaN(version) ? bytesToHex(stored) : version}, which this node (schema ${STORAGE_SCHEMA_VERSION}) cannot read: use an empty datadir and sync`,
      {
        details: {
          datadir: this.db.path,
          stored: Number.isNaN(version) ? bytesToHex(stored) : version,
          supported: STORAGE_SCHEMA_VERSION,
        },
      },
    )
  }

  private corrupt(problem: string, number: bigint | undefined, cause?: unknown): StorageError {
    return new StorageError(
      'STORAGE_CORRUPT',
      `the database at ${this.db.path} is corrupt: ${problem}${number === undefined ? '' : ` (block ${number})`}; restore it from a backup or use an empty datadir and sync`,
      {
        details: { datadir: this.db.path, number: number?.toString(), problem },
        cause,
      },
    )
  }

  /**
   * Walks back from the head over the newest blocks: each header hashes to its key, is the
   * canonical block of its number and links to its parent; bodies match their header's
   * transactions root and receipts are present; the head's state root is stored. LevelDB
   * checksums only what it reads with paranoid checks (off by default), and a block served
   * from a flipped byte would get this node banned by its peers or mislead its clients.
   * Returns the head header.
   */
  private async checkNewestBlocks(headHash: Uint8Array): Promise<BlockHeader> {
    let hash = headHash
    let expected: bigint | undefined
    let head: BlockHeader | undefined
    for (let checked = 0; checked < this.checkedBlocksAtOpen; checked++) {
      const raw = await this.db.getHeader(hash)
      const which = `${expected === undefined ? 'the head header' : 'header'} ${bytesToHex(hash)}`
      if (raw === undefined) throw this.corrupt(`${which} is missing`, expected)
      if (!equalsBytes(keccak256(raw), hash))
        throw this.corrupt(`${which} does not hash to its key`, expected)
      let header: BlockHeader
      try {
        header = createBlockHeaderFromRLP(raw, {
          common: this.common,
          skipConsensusFormatValidation: true,
        })
      } catch (cause) {
        throw this.corrupt(`${which} does not decode`, expected, cause)
      }
      const { number } = header
      if (expected !== undefined && number !== expected)
        throw this.corrupt(`the parent of block ${expected + 1n} has number ${number}`, expected)
      const canonical = await this.db.getCanonicalHash(number)
      if (canonical === undefined || !equalsBytes(canonical, hash))
        throw this.corrupt('the canonical index does not point at the block', number)
      if (head === undefined) {
        head = header
        const root = header.stateRoot
        if (
          !equalsBytes(root, KECCAK256_RLP) &&
          (await this.store.get(bytesToUnprefixedHex(root))) === undefined
        )
          throw this.corrupt('the state root of the head block is missing', number)
      }
      const [body, receipts] = await Promise.all([this.db.getBody(hash), this.db.getReceipts(hash)])
      if (body === undefined) throw this.corrupt('a block body is missing', number)
      if (receipts === undefined) throw this.corrupt('a block receipts record is missing', number)
      try {
        // From the stored bytes: decoding every transaction would cost more than the check.
        const [txs, uncles, withdrawals] = RLP.decode(body) as unknown as [
          Array<Uint8Array | Uint8Array[]>,
          unknown[],
          unknown[],
        ]
        const encoded = txs.map((tx) => (tx instanceof Uint8Array ? tx : RLP.encode(tx)))
        if (
          uncles.length !== 0 ||
          (withdrawals?.length ?? 0) !== 0 ||
          !equalsBytes(orderedTrieRoot(encoded, keccak256), header.transactionsTrie)
        )
          throw new Error('transactions root mismatch')
        decodeStoredReceipts(receipts)
      } catch (cause) {
        throw this.corrupt(
          `the body or receipts of block ${number} do not match its header`,
          number,
          cause,
        )
      }
      if (number === 0n) {
        if (!equalsBytes(hash, this.genesisHeader.hash()))
          throw this.corrupt('block 0 is not the genesis block', 0n)
        break
      }
      hash = header.parentHash
      expected = number - 1n
    }
    return head!
  }

  private async buildGenesis(): Promise<Block> {
    const { genesis } = this
    const sm = new StateManagerClass({
      common: this.common,
      trie: createStateTrie(this.common, this.store),
    })
    const stateRoot = await applyAlloc(sm, genesis.alloc)
    const header = createBlockHeader(
      {
        number: 0n,
        parentHash: ZERO_HASH,
        timestamp: genesis.timestamp,
        gasLimit: genesis.config.gasLimit,
        baseFeePerGas: genesis.config.initialBaseFee,
        extraData: encodeExtraData({
          vanity: emptyVanity(),
          round: 0,
          vote: null,
          validators: this.rules.validatorSet.validatorsAt(0n),
          parentCommitRound: 0,
          parentCommitSeals: [],
        }),
        difficulty: 1n,
        nonce: new Uint8Array(8),
        mixHash: BFT_MIX_HASH,
        stateRoot,
        withdrawalsRoot: KECCAK256_RLP,
        blobGasUsed: 0n,
        excessBlobGas: 0n,
        parentBeaconBlockRoot: ZERO_HASH,
        requestsHash: EMPTY_REQUESTS_HASH,
      },
      { common: this.common, skipConsensusFormatValidation: true },
    )
    return new Block(header, [], [], [], { common: this.common })
  }

  /** Which ethereumjs patches are in effect on the executor (after `open`). */
  get upstreamPatches(): UpstreamPatchReport {
    return this.executor.upstreamPatches
  }

  get head(): BlockHeader {
    return this.headHeader
  }

  get genesisHash(): Uint8Array {
    return this.genesisHeader.hash()
  }

  get chainId(): bigint {
    return this.common.chainId()
  }

  /** Seals finalizing the head block (empty for genesis). */
  get headSeals(): readonly Uint8Array[] {
    return this.tipCommit.seals
  }

  /**
   * The block with this hash if it is the one built or validated last (before or after its
   * import): gossip of a block this node has executed then needs no decoding of its
   * transactions (sync/validation.ts).
   */
  executedBlock(hash: Uint8Array): Block | undefined {
    const block = this.lastExecuted?.block
    return block !== undefined && equalsBytes(block.hash(), hash) ? block : undefined
  }

  /** The commit (round and seals) finalizing the head block; empty for genesis. */
  get headCommit(): BlockCommit {
    return this.tipCommit
  }

  // ---------------------------------------------------------------- writes

  /** Serializes writers: builds and imports never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(fn, fn)
    this.writeQueue = run.catch(() => undefined)
    return run
  }

  /**
   * Called (inside `exclusive`) right before the executor is used for anything but the
   * pending multi-pass build or speculation: it is abandoned, since consensus and sync come
   * before a block we were filling early or running ahead. Checks that fail first (a known
   * or non-extending block) leave it be.
   */
  private async claimExecutor(): Promise<void> {
    const speculation = this.speculation
    this.speculation = undefined
    await speculation?.abort()
    if (this.pendingBuild === undefined) return
    const abandoned = this.pendingBuild
    this.pendingBuild = undefined
    await abandoned.abort()
  }

  /** Checks that `fields` build on the head and puts the executor there (inside `exclusive`). */
  private async prepareBuildOnHead(fields: HeaderFields): Promise<void> {
    if (!equalsBytes(fields.parent.hash(), this.headHeader.hash())) {
      throw ledgerError('LEDGER_NOT_NEXT_BLOCK', 'can only build on the head')
    }
    await this.claimExecutor()
    await this.rewindExecutor()
  }

  /** Resolves when no build or import is in progress (clean shutdown). */
  async waitIdle(): Promise<void> {
    await this.writeQueue
  }

  /** Header fields of the next block for a proposer. */
  nextHeaderFields(coinbase: Uint8Array, extraData: Uint8Array, nowMs: number): HeaderFields {
    const parent = this.headHeader
    const minTimestamp = parent.timestamp + (this.genesis.config.blockPeriodMs >= 1000 ? 1n : 0n)
    const nowSeconds = BigInt(Math.floor(nowMs / 1000))
    return {
      parent,
      coinbase,
      timestamp: nowSeconds > minTimestamp ? nowSeconds : minTimestamp,
      gasLimit: this.genesis.config.gasLimit,
      baseFeePerGas: nextBaseFee(parent, this.genesis.config.baseFeeFloor),
      extraData,
    }
  }

  /**
   * Builds a block on the head from candidate transactions. The executor is left at the
   * block's post-state so that importing this exact block does not execute it again.
   */
  buildBlock(
    fields: HeaderFields,
    candidates: Iterable<TypedTransaction>,
    options?: BuildOptions,
  ): Promise<BuildResult> {
    return this.exclusive(async () => {
      await this.prepareBuildOnHead(fields)
      const built = await this.executor.build(fields, candidates, options)
      this.lastExecuted = { block: built.block, execution: built.execution }
      return built
    })
  }

  /**
   * Opens a block on the head that can be filled in several passes and sealed later (see
   * LedgerBuild). Only one is open at a time; starting another abandons the previous one.
   */
  startBuild(fields: HeaderFields): Promise<LedgerBuild> {
    return this.exclusive(async () => {
      await this.prepareBuildOnHead(fields)
      const pending = await this.executor.startBuild(fields)
      this.pendingBuild = pending
      const abandoned = () =>
        ledgerError(
          'LEDGER_BUILD_ABANDONED',
          'the block build was abandoned (another block was built, validated or imported)',
        )
      const mine = <T>(fn: () => Promise<T>) =>
        this.exclusive(async () => {
          if (this.pendingBuild !== pending) throw abandoned()
          return fn()
        })
      const ledger = this
      return {
        parentHash: fields.parent.hash(),
        get included() {
          return pending.included
        },
        get open() {
          return ledger.pendingBuild === pending
        },
        get executionMs() {
          return pending.executionMs
        },
        add: (candidates, options) =>
          mine(async () => {
            const before = pending.rejected.length
            try {
              await pending.add(candidates, options)
            } catch (err) {
              this.pendingBuild = undefined
              throw err
            }
            return pending.rejected.slice(before)
          }),
        seal: () =>
          mine(async () => {
            this.pendingBuild = undefined
            const built = await pending.seal()
            this.lastExecuted = { block: built.block, execution: built.execution }
            return built
          }),
        abort: async () => {
          await this.exclusive(async () => {
            if (this.pendingBuild !== pending) return
            this.pendingBuild = undefined
            await pending.abort()
          })
        },
      }
    })
  }

  /**
   * Validates a proposed block (header rules + execution) without importing it; its
   * execution is kept so the following import of the same block is cheap.
   */
  validateBlock(block: Block): Promise<BlockExecution> {
    return this.exclusive(async () => {
      const started = performance.now()
      const extra = this.verifyHeaderAgainstHead(block, { finalized: false })
      void extra
      await this.verifyBody(block)
      const speculated = this.speculation?.open === true
      const ahead = this.takeSpeculation(block)
      if (speculated && ahead === undefined) this.speculativeValidations.fellBack++
      if (ahead !== undefined) {
        try {
          await ahead.add(block.transactions.slice(ahead.executed.length))
          const execution = await ahead.finish(block)
          this.speculativeValidations.used++
          this.lastExecuted = { block, execution }
          this.metrics?.blockValidated((performance.now() - started) / 1000)
          return execution
        } catch {
          // The state is the parent's again. Run the block in full: if it is invalid, that
          // gives the error; a speculation never decides a block's fate on its own.
          this.speculativeValidations.fellBack++
        }
      }
      await this.claimExecutor()
      await this.rewindExecutor()
      const execution = await this.executor.execute(block)
      this.lastExecuted = { block, execution }
      this.metrics?.blockValidated((performance.now() - started) / 1000)
      return execution
    })
  }

  /**
   * The open speculation if `block` continues it: same execution environment (hence the
   * same parent) and its first transactions are exactly those executed so far.
   */
  private takeSpeculation(block: Block): PendingExecution | undefined {
    const speculation = this.speculation
    if (speculation === undefined || !speculation.open || !speculation.continuedBy(block))
      return undefined
    this.speculation = undefined
    return speculation
  }

  /**
   * Starts executing the next block before it is proposed, from transactions its proposer
   * announces while building it (validator/speculation.ts), in the environment it builds
   * in: its address as coinbase, its timestamp (seconds). The executor is held until the
   * proposal is validated (which continues it if the block fits, see validateBlock) or
   * anything else needs it.
   */
  speculate(proposal: {
    parentHash: Uint8Array
    coinbase: Uint8Array
    timestamp: bigint
  }): Promise<LedgerSpeculation> {
    return this.exclusive(async () => {
      if (!equalsBytes(proposal.parentHash, this.headHeader.hash())) {
        throw ledgerError('LEDGER_NOT_NEXT_BLOCK', 'can only speculate on the head')
      }
      // A proposal validated meanwhile sits on the executor, for its import: keep it.
      const validated = this.lastExecuted?.execution
      if (
        validated !== undefined &&
        equalsBytes(this.executor.stateRoot, validated.stateRoot) &&
        !equalsBytes(validated.stateRoot, this.headHeader.stateRoot)
      ) {
        throw ledgerError('LEDGER_NEXT_BLOCK_VALIDATED', 'the next block is already validated')
      }
      // Our own block being built (a later round's proposal) comes first: a speculation,
      // which a preview or a pool arrival can start at any time, must not cancel it.
      if (this.pendingBuild !== undefined) {
        throw ledgerError('LEDGER_BUILDING', 'a block of ours is being built on the executor')
      }
      // The proposer's extraData is not known here; no opcode reads it (see
      // sameExecutionEnvironment), so the environment is the same without it.
      const fields = this.nextHeaderFields(
        proposal.coinbase,
        new Uint8Array(0),
        Number(proposal.timestamp) * 1000,
      )
      const header = this.executor.headerTemplate(fields)
      await this.claimExecutor()
      await this.rewindExecutor()
      const pending = await this.executor.startExecution(header)
      this.speculation = pending
      const abandoned = () =>
        ledgerError(
          'LEDGER_SPECULATION_ENDED',
          'the speculation ended (its block was validated, or the executor was needed)',
        )
      const ledger = this
      return {
        header,
        get executed() {
          return pending.executed.length
        },
        get open() {
          return ledger.speculation === pending && pending.open
        },
        add: (txs) =>
          this.exclusive(async () => {
            if (this.speculation !== pending || !pending.open) throw abandoned()
            try {
              await pending.add(txs)
            } catch (err) {
              this.speculation = undefined
              throw err
            }
          }),
        abort: () =>
          this.exclusive(async () => {
            if (this.speculation !== pending) return
            this.speculation = undefined
            await pending.abort()
          }),
      }
    })
  }

  /** Imports a finalized block extending the head. The only way blocks are written. */
  importBlock(block: Block, options: ImportOptions = {}): Promise<ImportedBlock> {
    return this.exclusive(() => this.importLocked(block, options))
  }

  private async importLocked(block: Block, options: ImportOptions): Promise<ImportedBlock> {
    const started = performance.now()
    const { header } = block
    if (header.number <= this.headHeader.number) {
      const known = await this.db.getCanonicalHash(header.number)
      if (known !== undefined && equalsBytes(known, header.hash())) {
        throw ledgerError('LEDGER_KNOWN_BLOCK', 'block is already imported', {
          number: header.number,
        })
      }
    }
    // A block with a quorum of commit seals is final whatever our clock says: refusing it
    // would only keep a node whose clock lags from following the chain (and blame its peers).
    const extra = this.verifyHeaderAgainstHead(block, { finalized: options.seals !== undefined })
    const seals = options.seals ?? []
    const sealRound = options.sealRound ?? extra.round
    if (options.seals !== undefined && options.sealsVerified !== true) {
      this.rules.verifySeals(header, sealRound, seals)
    }
    await this.claimExecutor()
    // Reuse the execution of the block built or validated last (consensus validated it,
    // then gossip or the engine imports it): the executor still sits on its post-state.
    const last = this.lastExecuted
    let execution =
      options.execution ??
      (last !== undefined && equalsBytes(last.execution.blockHash, header.hash())
        ? last.execution
        : undefined)
    if (
      execution === undefined ||
      !equalsBytes(execution.blockHash, header.hash()) ||
      !equalsBytes(this.executor.stateRoot, header.stateRoot)
    ) {
      await this.verifyBody(block)
      await this.rewindExecutor()
      execution = await this.executor.execute(block)
    } else if (block !== last?.block) {
      // Same header (so the same transactions root), but not the body that was checked or
      // built with it: a block from the network must not pair other transactions with the
      // validated state.
      await this.verifyBody(block)
    }
    const hash = header.hash()
    const txLookups: Array<[Uint8Array, Uint8Array]> = block.transactions.map((tx, index) => [
      tx.hash(),
      RLP.encode([hash, intToBytes(index)]),
    ])
    const nextSet = this.rules.validatorSet.prepareBlock?.(header, extra)
    try {
      await this.db.write({
        hash,
        number: header.number,
        header: header.serialize(),
        body: RLP.encode(block.raw().slice(1)),
        receipts: encodeStoredReceipts(execution.receipts),
        txLookups,
        seals: seals.length > 0 ? encodeCommit({ round: sealRound, seals: [...seals] }) : undefined,
        stateNodes: this.executor.takeStateNodes(),
        meta: nextSet === undefined ? [] : [[META_KEYS.validatorTally, nextSet.snapshot]],
        setHead: true,
      })
    } catch (cause) {
      this.writeFailures.total++
      this.writeFailures.consecutive++
      this.writeFailures.lastError = errorMessage(cause)
      await this.executor.resetTo(this.headHeader.stateRoot)
      throw cause
    }
    this.writeFailures.consecutive = 0
    this.writeFailures.lastError = undefined
    // Everything below announces the block (head, 'head' listeners: gossip, RPC and
    // subscriptions, the next height): the write above resolved only once it was synced.
    this.headHeader = header
    this.headAccounts.applyBlock(execution.changedAccounts)
    this.tipCommit = { round: sealRound, seals: [...seals] }
    this.rememberBlock(block)
    nextSet?.apply()
    this.rules.validatorSet.onBlockImported?.(header, extra)
    const imported: ImportedBlock = { block, receipts: execution.receipts, extra }
    this.metrics?.blockImported((performance.now() - started) / 1000, block.transactions.length)
    this.emit('head', imported)
    return imported
  }

  /** Puts the executor back on the head state if a build/validation left it elsewhere. */
  private async rewindExecutor(): Promise<void> {
    if (!equalsBytes(this.executor.stateRoot, this.headHeader.stateRoot)) {
      await this.executor.resetTo(this.headHeader.stateRoot)
    }
  }

  /** At most one warning a minute: a lagging clock shows on every block. */
  private warnClockBehind(timestamp: bigint): void {
    const now = this.clock.now()
    if (now - this.clockWarnedAt < 60_000) return
    this.clockWarnedAt = now
    this.logger?.warn(
      {
        aheadSeconds: Number(timestamp) - Math.floor(now / 1000),
        blockTimestamp: Number(timestamp),
      },
      "a final block's timestamp is ahead of this node's clock: the clock is behind the validators' (check NTP); imported anyway, since its commit seals make it final",
    )
  }

  /**
   * Header rules against the head. The future-timestamp bound applies to blocks not yet
   * final (a proposal): validators must not let a proposer push time forward. A block that
   * arrives with its commit seals (verified before execution) is final, and one whose
   * timestamp is ahead of our clock says our clock is behind: it is imported, with a warning.
   */
  private verifyHeaderAgainstHead(
    block: Block,
    { finalized }: { finalized: boolean },
  ): ConsensusExtraData {
    const { header } = block
    const parent = this.headHeader
    const fail = (message: string, details?: Record<string, unknown>) =>
      ledgerError('LEDGER_INVALID_HEADER', `invalid block ${header.number}: ${message}`, details)
    if (header.number !== parent.number + 1n || !equalsBytes(header.parentHash, parent.hash())) {
      throw ledgerError('LEDGER_NOT_NEXT_BLOCK', 'block does not extend the head', {
        number: header.number,
        head: parent.number,
      })
    }
    const minTimestamp = parent.timestamp + (this.genesis.config.blockPeriodMs >= 1000 ? 1n : 0n)
    if (header.timestamp < minTimestamp) throw fail('timestamp is before its parent')
    const maxTimestamp = BigInt(Math.floor(this.clock.now() / 1000) + this.maxFutureSeconds)
    if (header.timestamp > maxTimestamp && finalized) {
      this.warnClockBehind(header.timestamp)
    } else if (header.timestamp > maxTimestamp) {
      throw ledgerError(
        'LEDGER_FUTURE_TIMESTAMP',
        `invalid block ${header.number}: timestamp is too far in the future`,
        { timestamp: header.timestamp, maxTimestamp },
      )
    }
    if (header.gasLimit !== this.genesis.config.gasLimit)
      throw fail('gas limit differs from the genesis gas limit')
    if (header.baseFeePerGas !== nextBaseFee(parent, this.genesis.config.baseFeeFloor))
      throw fail('wrong base fee')
    if (header.difficulty !== 1n) throw fail('difficulty must be 1')
    if (!equalsBytes(header.nonce, new Uint8Array(8))) throw fail('nonce must be zero')
    if (!equalsBytes(header.mixHash, BFT_MIX_HASH)) throw fail('mixHash must be the BFT constant')
    if (!equalsBytes(header.uncleHash, KECCAK256_RLP_ARRAY)) throw fail('blocks have no uncles')
    if (header.withdrawalsRoot === undefined || !equalsBytes(header.withdrawalsRoot, KECCAK256_RLP))
      throw fail('blocks have no withdrawals')
    if (header.blobGasUsed !== 0n || header.excessBlobGas !== 0n)
      throw fail('blob transactions are not supported')
    if (
      header.parentBeaconBlockRoot === undefined ||
      !equalsBytes(header.parentBeaconBlockRoot, ZERO_HASH)
    )
      throw fail('parentBeaconBlockRoot must be zero')
    if (header.requestsHash === undefined || !equalsBytes(header.requestsHash, EMPTY_REQUESTS_HASH))
      throw fail('blocks carry no execution requests')
    try {
      return this.rules.verifyHeader(header, parent)
    } catch (cause) {
      throw ledgerError(
        'LEDGER_INVALID_HEADER',
        `invalid block ${header.number}: ${(cause as Error).message}`,
        undefined,
        cause,
      )
    }
  }

  private async verifyBody(block: Block): Promise<void> {
    if (block.uncleHeaders.length !== 0 || (block.withdrawals?.length ?? 0) !== 0) {
      throw ledgerError('LEDGER_INVALID_BODY', 'block body carries uncles or withdrawals')
    }
    const root = this.executor.transactionsRoot(block.transactions)
    if (!equalsBytes(root, block.header.transactionsTrie)) {
      throw ledgerError(
        'LEDGER_INVALID_BODY',
        'transactions do not match the header transactions root',
      )
    }
    for (const tx of block.transactions) {
      if (tx.type === 3)
        throw ledgerError('LEDGER_INVALID_BODY', 'blob transactions are not supported')
    }
  }

  // ---------------------------------------------------------------- reads

  private rememberBlock(block: Block): void {
    setRecent(this.blockCache, bytesToHex(block.hash()), block, this.blockCacheSize)
  }

  async getCanonicalHash(number: bigint): Promise<Uint8Array | undefined> {
    if (number > this.headHeader.number || number < 0n) return undefined
    if (number === this.headHeader.number) return this.headHeader.hash()
    return this.db.getCanonicalHash(number)
  }

  async getHeader(hash: Uint8Array): Promise<BlockHeader | undefined> {
    const cached = this.blockCache.get(bytesToHex(hash))
    if (cached !== undefined) return cached.header
    const raw = await this.db.getHeader(hash)
    if (raw === undefined) return undefined
    return createBlockHeaderFromRLP(raw, {
      common: this.common,
      skipConsensusFormatValidation: true,
    })
  }

  async getBlock(hash: Uint8Array): Promise<Block | undefined> {
    const cached = this.blockCache.get(bytesToHex(hash))
    if (cached !== undefined) return cached
    const [header, body] = await Promise.all([this.db.getHeader(hash), this.db.getBody(hash)])
    if (header === undefined || body === undefined) return undefined
    const block = createBlockFromBytesArray(
      [RLP.decode(header) as never, ...(RLP.decode(body) as never[])] as never,
      {
        common: this.common,
        skipConsensusFormatValidation: true,
      },
    )
    this.rememberBlock(block)
    return block
  }

  async getBlockByNumber(number: bigint): Promise<Block | undefined> {
    const hash = await this.getCanonicalHash(number)
    return hash === undefined ? undefined : this.getBlock(hash)
  }

  async getReceipts(hash: Uint8Array): Promise<StoredReceipt[] | undefined> {
    const raw = await this.db.getReceipts(hash)
    return raw === undefined ? undefined : decodeStoredReceipts(raw)
  }

  async getTxLocation(txHash: Uint8Array): Promise<TxLocation | undefined> {
    const raw = await this.db.getTxLookup(txHash)
    if (raw === undefined) return undefined
    const [blockHash, index] = RLP.decode(raw) as [Uint8Array, Uint8Array]
    const header = await this.getHeader(blockHash)
    if (header === undefined) return undefined
    return { blockHash, blockNumber: header.number, index: Number(bytesToBigInt(index)) }
  }

  /** The commit (round and seals) that finalizes block `hash`: beside the tip, or in the child's header. */
  async getCommit(hash: Uint8Array): Promise<BlockCommit | undefined> {
    const raw = await this.db.getSeals(hash)
    if (raw !== undefined) return decodeCommit(raw)
    const header = await this.getHeader(hash)
    if (header === undefined) return undefined
    const child = await this.getBlockByNumber(header.number + 1n)
    if (child === undefined) return undefined
    const extra = decodeExtraData(child.header.extraData)
    return { round: extra.parentCommitRound, seals: extra.parentCommitSeals }
  }

  /** Seals that finalize block `hash` (see getCommit for their round). */
  async getSeals(hash: Uint8Array): Promise<Uint8Array[] | undefined> {
    return (await this.getCommit(hash))?.seals
  }

  /**
   * A state view at `stateRoot` (any imported block). Writes stay in a private overlay, so
   * eth_call and estimateGas can run on it freely.
   */
  stateAt(stateRoot: Uint8Array): MerkleStateManager {
    return createStateManagerAt(this.common, this.store, stateRoot)
  }

  /**
   * stateAt with account/storage/code caches, for executions that read the same slots many
   * times (eth_call, estimateGas, traces: without caches every SLOAD walks the trie).
   */
  cachedStateAt(stateRoot: Uint8Array): MerkleStateManager {
    return new StateManagerClass({
      common: this.common,
      // A scratch view: anything a query writes stays out of the node's state store.
      trie: createStateTrie(this.common, this.store.scratchView(), stateRoot),
      caches: new Caches({
        account: { size: 10_000 },
        storage: { size: 50_000 },
        code: { size: 1_000 },
      }),
    })
  }

  /**
   * Shared read-only state at the head, with caches (the pool reads every sender's account
   * on admission and block building); rebuilt when the head moves. Do not write to it.
   */
  headState(): MerkleStateManager {
    const root = this.headHeader.stateRoot
    if (this.headStateManager === undefined || !equalsBytes(this.headStateManager.root, root)) {
      this.headStateManager = { root, sm: this.cachedStateAt(root) }
    }
    return this.headStateManager.sm
  }

  /**
   * An account at the head (undefined: it does not exist), from the accounts kept across
   * heads, else read from `headState()`. Returns a copy.
   */
  async headAccount(address: Address): Promise<Account | undefined> {
    const key = bytesToUnprefixedHex(address.bytes)
    const known = this.headAccounts.get(key)
    if (known !== undefined) return known ?? undefined
    const head = this.headHeader
    const account = await this.headState().getAccount(address)
    // An import while we read may have changed it: keep only a read of the current head.
    if (this.headHeader === head) this.headAccounts.set(key, account)
    return account
  }
}
