/**
 * The execution core: one VM over the node's head state. It executes a block on top of the
 * current state (import) or builds one from candidate transactions (production), and
 * leaves the state at the block's post-state until the ledger either commits the trie
 * nodes (`takeStateNodes`) or rolls back (`resetTo`). Performance choices:
 *  - one state checkpoint per block: the MerkleStateManager caches absorb the block and the
 *    trie is written once, at its commit (not once per tx), in one batched update that
 *    hashes each touched node once (upstream/batched-state-manager.ts);
 *  - native ecrecover and WebAssembly keccak via Common.customCrypto; senders cached on
 *    the tx objects;
 *  - faster MSTORE/SLOAD/LOG handlers in the EVM's opcode table (upstream/evm-fast-paths.ts);
 *  - a contract's jump and PUSH analysis kept across calls (upstream/code-analysis-cache.ts);
 *    these and the state manager are ethereumjs patches, applied and reported by
 *    upstream/index.ts (`upstreamPatches`);
 *  - blocks are assembled with `new Block(...)` from the very tx objects we executed
 *    (ethereumjs' createBlock would rebuild them and lose their cached senders).
 */
import { Block, type BlockHeader, createBlockHeader, genRequestsRoot } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager'
import type { TypedTransaction } from '@ethereumjs/tx'
import {
  Account,
  Address,
  bytesToHex,
  equalsBytes,
  hexToBytes,
  KECCAK256_RLP,
  setLengthLeft,
  ValueEncoding,
} from '@ethereumjs/util'
import { Bloom, createVM, runTx, type VM } from '@ethereumjs/vm'
import type { AllocAccount } from '../../genesis/schema.ts'
import { sha256 } from '../crypto/index.ts'
import { ExecutionError, type ExecutionErrorCode } from './errors.ts'
import { orderedTrieRoot } from './ordered-trie.ts'
import { consensusReceiptBytes, type StoredReceipt } from './receipts.ts'
import type { StateStore } from './state-store.ts'
import {
  applyUpstreamPatches,
  BatchedMerkleStateManager,
  type UpstreamPatchReport,
} from './upstream/index.ts'

/** QBFT's well-known mixHash ("Istanbul BFT"), so PREVRANDAO is a fixed, documented value. */
export const BFT_MIX_HASH = hexToBytes(
  '0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365',
)
export const EMPTY_REQUESTS_HASH = genRequestsRoot([], sha256)
export const ZERO_HASH = new Uint8Array(32)

/**
 * How long a block's transactions run before the executor lets the event loop in. A
 * ~250-transaction block takes 200-450 ms on a shared core; without a break, the node's
 * transaction gossip, RPC and consensus messages wait that long, and transactions sent
 * hundreds of milliseconds before a slot reached its proposer after it (network bench).
 */
const EXECUTION_SLICE_MS = 10

/** Lets pending I/O callbacks and timers run (setImmediate: after the poll phase). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

export interface BlockExecution {
  blockHash: Uint8Array
  stateRoot: Uint8Array
  receipts: StoredReceipt[]
  gasUsed: bigint
  logsBloom: Uint8Array
  receiptsRoot: Uint8Array
  /**
   * The accounts the block wrote (unprefixed address hex to RLP, null when deleted), for the
   * ledger's accounts at the head; undefined when not known.
   */
  changedAccounts?: ReadonlyMap<string, Uint8Array | null>
}

/** Lookup of canonical hashes for the BLOCKHASH opcode. */
export interface BlockHashSource {
  getCanonicalHash(number: bigint): Promise<Uint8Array | undefined>
}

export interface HeaderFields {
  parent: BlockHeader
  coinbase: Uint8Array
  timestamp: bigint
  gasLimit: bigint
  baseFeePerGas: bigint
  extraData: Uint8Array
}

export interface BuildResult {
  block: Block
  execution: BlockExecution
  /** Transactions left out, with the reason (invalid now: nonce, balance, fee...). */
  rejected: Array<{ tx: TypedTransaction; error: unknown }>
}

export interface BuildOptions {
  /**
   * Stop adding transactions once the build has spent this many ms running transactions,
   * over all its passes (keeps the block's validation time, hence the period). Time the
   * executor spends yielding to the event loop does not count.
   */
  executionBudgetMs?: number
  /** Clock the execution time is measured with (default `performance.now`). */
  now?: () => number
  /**
   * Also stop once running transactions took this many ms of wall time over all passes.
   * With a CPU clock as `now`, waits are not counted (trie nodes read from disk on other
   * threads), so this bounds what validators, who wait in wall time, may have to run.
   */
  wallBudgetMs?: number
  /** Called for each candidate before execution; return false to skip it (e.g. sender already failed). */
  accept?: (tx: TypedTransaction) => boolean
  onRejected?: (tx: TypedTransaction, error: unknown) => void
}

/**
 * A block being assembled on the executor's state, filled in one or more passes and then
 * sealed (or aborted, which puts the state back on the parent). Until it is sealed or
 * aborted the executor must not be used for anything else.
 */
export interface PendingBuild {
  /** Transactions included so far, in block order. */
  readonly included: readonly TypedTransaction[]
  /** Transactions left out so far, with the reason. */
  readonly rejected: BuildResult['rejected']
  /** Time spent running transactions so far, over all passes (see executionBudgetMs). */
  readonly executionMs: number
  /** Runs `candidates` in order after those already included, skipping any invalid now. */
  add(candidates: Iterable<TypedTransaction>, options?: BuildOptions): Promise<void>
  /** Takes the state root and assembles the block; the state stays at its post-state. */
  seal(): Promise<BuildResult>
  /** Discards the transactions run so far; the state is the parent's again. No-op once closed. */
  abort(): Promise<void>
}

/**
 * A block being executed before it is known in full (see BlockExecutor.startExecution).
 * Until it is finished or aborted the executor must not be used for anything else.
 */
export interface PendingExecution {
  /** The execution environment (its commitments are placeholders). */
  readonly header: BlockHeader
  /** Transactions executed so far, in order. */
  readonly executed: readonly TypedTransaction[]
  readonly open: boolean
  /** Runs `txs` after those executed; all must apply (else it throws and is aborted). */
  add(txs: readonly TypedTransaction[]): Promise<void>
  /** True if `block` has this environment and starts with the transactions executed. */
  continuedBy(block: Block): boolean
  /**
   * Finishes as `block`, which must hold exactly the executed transactions in the same
   * environment, and checks its commitments (typed errors as `execute`). On any failure the
   * state is the parent's again.
   */
  finish(block: Block): Promise<BlockExecution>
  /** Discards it; the state is the parent's again. No-op once closed. */
  abort(): Promise<void>
}

/** What a build collects while it runs (import passes none: every tx must apply). */
interface BuildingState {
  included: TypedTransaction[]
  rejected: BuildResult['rejected']
  options: BuildOptions
  /** Execution time of the build so far (by `options.now`, and wall time), as txs run. */
  spent: { executionMs: number; wallMs: number }
}

/** Per-block running totals of the transactions executed so far, across passes. */
interface BlockTotals {
  bloom: Bloom
  receipts: StoredReceipt[]
  encodedReceipts: Uint8Array[]
  gasUsed: bigint
  cumulativeGasUsed: bigint
}

function execError(
  code: ExecutionErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
) {
  return new ExecutionError(code, message, { details, cause })
}

/** Throws a typed error for the first header commitment the execution does not match. */
function checkCommitments(header: BlockHeader, execution: BlockExecution): void {
  if (execution.gasUsed !== header.gasUsed) {
    throw execError('EXEC_GAS_USED_MISMATCH', 'gasUsed in header does not match execution', {
      header: header.gasUsed,
      executed: execution.gasUsed,
    })
  }
  if (!equalsBytes(execution.receiptsRoot, header.receiptTrie)) {
    throw execError('EXEC_RECEIPTS_ROOT_MISMATCH', 'receipts root does not match execution')
  }
  if (!equalsBytes(execution.logsBloom, header.logsBloom)) {
    throw execError('EXEC_BLOOM_MISMATCH', 'logs bloom does not match execution')
  }
  if (!equalsBytes(execution.stateRoot, header.stateRoot)) {
    throw execError('EXEC_STATE_ROOT_MISMATCH', 'state root does not match execution', {
      header: bytesToHex(header.stateRoot),
      executed: bytesToHex(execution.stateRoot),
    })
  }
}

/**
 * Header fields a block's execution results depend on: all of them except the results
 * themselves (state, transactions and receipts roots, bloom, gas used) and extraData,
 * which no opcode reads. Indexes into `BlockHeader.raw()`.
 */
const NOT_EXECUTION_ENVIRONMENT = new Set([3, 4, 5, 6, 10, 12])

/** True if two headers give their transactions the same execution environment. */
export function sameExecutionEnvironment(a: BlockHeader, b: BlockHeader): boolean {
  const [x, y] = [a.raw(), b.raw()]
  if (x.length !== y.length) return false
  return x.every((field, i) => NOT_EXECUTION_ENVIRONMENT.has(i) || equalsBytes(field, y[i]!))
}

/** Creates the MPT over the node's state store, at `root`. */
export function createStateTrie(
  common: Common,
  store: StateStore,
  root?: Uint8Array,
): MerklePatriciaTrie {
  return new MerklePatriciaTrie({
    db: store,
    useKeyHashing: true,
    common,
    valueEncoding: ValueEncoding.Bytes,
    ...(root === undefined ? {} : { root }),
  })
}

/** A fresh state manager reading `root` (RPC queries, eth_call): writes stay in a scratch overlay. */
export function createStateManagerAt(
  common: Common,
  store: StateStore,
  root: Uint8Array,
): MerkleStateManager {
  return new MerkleStateManager({
    common,
    trie: createStateTrie(common, store.scratchView(), root),
  })
}

/** Writes the genesis alloc into `stateManager` and returns the state root. */
export async function applyAlloc(
  stateManager: MerkleStateManager,
  alloc: Record<string, AllocAccount>,
): Promise<Uint8Array> {
  for (const [addressHex, account] of Object.entries(alloc)) {
    const address = new Address(hexToBytes(addressHex as `0x${string}`))
    await stateManager.putAccount(address, new Account(account.nonce, account.balance))
    if (account.code !== undefined && account.code !== '0x') {
      await stateManager.putCode(address, hexToBytes(account.code as `0x${string}`))
    }
    for (const [slot, value] of Object.entries(account.storage ?? {})) {
      await stateManager.putStorage(
        address,
        setLengthLeft(hexToBytes(slot as `0x${string}`), 32),
        hexToBytes(value as `0x${string}`),
      )
    }
  }
  return stateManager.getStateRoot()
}

export class BlockExecutor {
  readonly common: Common
  readonly vm: VM
  private readonly store: StateStore
  /** Which ethereumjs patches are in effect on this executor's VM (see upstream/index.ts). */
  readonly upstreamPatches: UpstreamPatchReport
  private readonly stateManager: BatchedMerkleStateManager
  private currentRoot: Uint8Array

  private constructor(
    common: Common,
    vm: VM,
    store: StateStore,
    stateManager: BatchedMerkleStateManager,
    root: Uint8Array,
    upstreamPatches: UpstreamPatchReport,
  ) {
    this.common = common
    this.vm = vm
    this.store = store
    this.stateManager = stateManager
    this.currentRoot = root
    this.upstreamPatches = upstreamPatches
  }

  static async create(params: {
    common: Common
    store: StateStore
    stateRoot: Uint8Array
    hashes: BlockHashSource
  }): Promise<BlockExecutor> {
    const { common, store, stateRoot, hashes } = params
    const stateManager = new BatchedMerkleStateManager({
      common,
      trie: createStateTrie(common, store),
      caches: new Caches({
        account: { size: 200_000 },
        storage: { size: 200_000 },
        code: { size: 20_000 },
      }),
    })
    if (!equalsBytes(stateRoot, KECCAK256_RLP)) {
      try {
        await stateManager.setStateRoot(stateRoot)
      } catch (cause) {
        throw execError(
          'EXEC_PARENT_STATE_MISSING',
          'state for the head block is missing',
          { stateRoot: bytesToHex(stateRoot) },
          cause,
        )
      }
    }
    const blockchain = {
      async getBlock(number: number) {
        const hash = (await hashes.getCanonicalHash(BigInt(number))) ?? ZERO_HASH
        return { hash: () => hash }
      },
      async putBlock() {},
      shallowCopy() {
        return blockchain
      },
    }
    const vm = await createVM({ common, stateManager, blockchain: blockchain as never })
    const upstreamPatches = await applyUpstreamPatches({ vm })
    return new BlockExecutor(common, vm, store, stateManager, stateRoot, upstreamPatches)
  }

  /** Transactions root of a block body (header `transactionsTrie`). */
  transactionsRoot(txs: readonly TypedTransaction[]): Uint8Array {
    return orderedTrieRoot(
      txs.map((tx) => tx.serialize()),
      this.keccak256,
    )
  }

  private get keccak256(): (data: Uint8Array) => Uint8Array {
    return this.common.customCrypto.keccak256!
  }

  /** The state root the executor currently sits on. */
  get stateRoot(): Uint8Array {
    return this.currentRoot
  }

  /** Rolls the working state back to a committed root (failed import, discarded proposal). */
  async resetTo(stateRoot: Uint8Array): Promise<void> {
    await this.stateManager.setStateRoot(stateRoot, true)
    this.store.discardPending()
    this.currentRoot = stateRoot
  }

  /** Trie nodes written since the last take, for the ledger's atomic block batch. */
  takeStateNodes(): Array<[string, Uint8Array]> {
    return this.store.takePending()
  }

  /** Header for a new block on `parent`; roots and gasUsed are filled in after execution. */
  headerTemplate(
    fields: HeaderFields,
    computed?: Partial<{
      stateRoot: Uint8Array
      transactionsTrie: Uint8Array
      receiptTrie: Uint8Array
      logsBloom: Uint8Array
      gasUsed: bigint
    }>,
  ): BlockHeader {
    return createBlockHeader(
      {
        parentHash: fields.parent.hash(),
        coinbase: fields.coinbase,
        number: fields.parent.number + 1n,
        timestamp: fields.timestamp,
        gasLimit: fields.gasLimit,
        baseFeePerGas: fields.baseFeePerGas,
        extraData: fields.extraData,
        difficulty: 1n,
        nonce: new Uint8Array(8),
        mixHash: BFT_MIX_HASH,
        withdrawalsRoot: KECCAK256_RLP,
        blobGasUsed: 0n,
        excessBlobGas: 0n,
        parentBeaconBlockRoot: ZERO_HASH,
        requestsHash: EMPTY_REQUESTS_HASH,
        ...computed,
      },
      { common: this.common, skipConsensusFormatValidation: true },
    )
  }

  /**
   * Executes `block` on the current state, which must be its parent's post-state, and
   * checks the header's commitments. On failure the state is rolled back and a typed
   * error says which commitment did not match.
   */
  async execute(block: Block): Promise<BlockExecution> {
    return this.settleAs(block, this.currentRoot, () => this.runBlock(block))
  }

  /**
   * Takes the execution `run` gives as `block`'s if the header's commitments match (the
   * executor then sits on its post-state); on a mismatch or any failure, puts the state back
   * on `preRoot` and throws.
   */
  private async settleAs(
    block: Block,
    preRoot: Uint8Array,
    run: () => Promise<BlockExecution>,
  ): Promise<BlockExecution> {
    try {
      const execution = await run()
      checkCommitments(block.header, execution)
      execution.blockHash = block.hash()
      this.currentRoot = execution.stateRoot
      return execution
    } catch (err) {
      await this.resetTo(preRoot)
      throw err
    }
  }

  /**
   * Starts executing a block whose transactions arrive in parts, before the block itself:
   * a validator runs the transactions its proposer announced while it builds (see
   * validator/speculation.ts), and finishes when the proposal arrives. `header` gives the
   * execution environment (number, timestamp, coinbase, gas limit, base fee...); the block
   * passed to `finish` must have the same one, and exactly the transactions added.
   * Every transaction must apply, as in `execute`; the first that does not aborts it.
   */
  async startExecution(header: BlockHeader): Promise<PendingExecution> {
    const { preRoot, journal, abort, isOpen, close } = await this.openBlockCheckpoint()
    const template = new Block(header, [], [], [], { common: this.common })
    const executed: TypedTransaction[] = []
    const totals = this.emptyTotals()
    const closed = () =>
      execError('EXEC_EXECUTION_CLOSED', 'the execution was already finished or aborted')
    const continuedBy = (block: Block) =>
      executed.length <= block.transactions.length &&
      executed.every((tx, i) => equalsBytes(tx.hash(), block.transactions[i]!.hash())) &&
      sameExecutionEnvironment(header, block.header)
    return {
      header,
      executed,
      continuedBy,
      get open() {
        return isOpen()
      },
      add: async (txs) => {
        if (!isOpen()) throw closed()
        try {
          await this.executeTransactions(template, txs, totals, undefined)
        } catch (err) {
          await abort()
          throw err
        }
        executed.push(...txs)
      },
      finish: async (block) => {
        if (!isOpen()) throw closed()
        if (block.transactions.length !== executed.length || !continuedBy(block)) {
          await abort()
          throw execError(
            'EXEC_NOT_THE_EXECUTED_BLOCK',
            'the block is not the one executed (transactions or environment differ)',
          )
        }
        close()
        return this.settleAs(block, preRoot, async () => {
          await journal.commit()
          return this.totalsToExecution(totals)
        })
      },
      abort,
    }
  }

  /**
   * Builds a block on the current state (the parent's post-state) from `candidates` in the
   * order given, skipping those that are invalid now. The state is left at the new block's
   * post-state.
   */
  async build(
    fields: HeaderFields,
    candidates: Iterable<TypedTransaction>,
    options: BuildOptions = {},
  ): Promise<BuildResult> {
    const pending = await this.startBuild(fields)
    await pending.add(candidates, options)
    return pending.seal()
  }

  /**
   * Opens a block on the current state (the parent's post-state) that transactions can be
   * added to in several passes, so a proposer can run the pool's transactions while it
   * waits for its slot and add late arrivals just before sealing. The whole block runs in
   * one state checkpoint, as `execute` does, so the result is the same as one pass.
   */
  async startBuild(fields: HeaderFields): Promise<PendingBuild> {
    const { preRoot, journal, abort, isOpen, close } = await this.openBlockCheckpoint()
    const template = new Block(this.headerTemplate(fields), [], [], [], { common: this.common })
    const included: TypedTransaction[] = []
    const rejected: BuildResult['rejected'] = []
    const totals = this.emptyTotals()
    const spent = { executionMs: 0, wallMs: 0 }
    const closed = () =>
      execError('EXEC_BUILD_CLOSED', 'the block build was already sealed or aborted')
    return {
      included,
      rejected,
      get executionMs() {
        return spent.executionMs
      },
      add: async (candidates, options = {}) => {
        if (!isOpen()) throw closed()
        try {
          await this.executeTransactions(template, candidates, totals, {
            included,
            rejected,
            options,
            spent,
          })
        } catch (err) {
          await abort()
          throw err
        }
      },
      seal: async () => {
        if (!isOpen()) throw closed()
        close()
        try {
          await journal.commit()
          const execution = await this.totalsToExecution(totals)
          const header = this.headerTemplate(fields, {
            stateRoot: execution.stateRoot,
            transactionsTrie: this.transactionsRoot(included),
            receiptTrie: execution.receiptsRoot,
            logsBloom: execution.logsBloom,
            gasUsed: execution.gasUsed,
          })
          const block = new Block(header, included, [], [], { common: this.common })
          execution.blockHash = block.hash()
          this.currentRoot = execution.stateRoot
          return { block, execution, rejected }
        } catch (err) {
          await this.resetTo(preRoot)
          throw err
        }
      },
      abort,
    }
  }

  /**
   * The state checkpoint every block runs in, whole or in parts. The flushed-accounts list
   * starts empty with it, so the execution reports the block's own writes only (see
   * totalsToExecution).
   */
  private async beginBlockCheckpoint() {
    const journal = this.vm.evm.journal
    await journal.checkpoint()
    this.stateManager.takeFlushedAccounts()
    return journal
  }

  /**
   * Opens the state checkpoint a block runs in when it is run in parts (a build, a
   * speculative execution): `abort` reverts it and puts the state back on `preRoot`,
   * `close` marks it finished; both only once.
   */
  private async openBlockCheckpoint() {
    const preRoot = this.currentRoot
    const journal = await this.beginBlockCheckpoint()
    let open = true
    const abort = async () => {
      if (!open) return
      open = false
      try {
        await journal.revert()
      } finally {
        // Even if the revert failed: the caches must not keep the discarded changes.
        await this.resetTo(preRoot)
      }
    }
    return {
      preRoot,
      journal,
      abort,
      isOpen: () => open,
      close: () => {
        open = false
      },
    }
  }

  /**
   * Runs a block's transactions (all must apply) in one checkpoint. At depth 0 every tx's
   * commit would flush its accounts and slots into the trie (rehashing the path of each,
   * and the coinbase and a token's storage trie once per tx); inside it the caches absorb
   * the block and the trie is written once, at the commit below, as ethereumjs' runBlock
   * does. runTx still clears the original-storage cache per tx, so SSTORE gas is unchanged.
   */
  private async runBlock(block: Block): Promise<BlockExecution> {
    const journal = await this.beginBlockCheckpoint()
    const totals = this.emptyTotals()
    try {
      await this.executeTransactions(block, block.transactions, totals, undefined)
    } catch (err) {
      await journal.revert()
      throw err
    }
    await journal.commit()
    return this.totalsToExecution(totals)
  }

  private emptyTotals(): BlockTotals {
    return {
      bloom: new Bloom(undefined, this.common),
      receipts: [],
      encodedReceipts: [],
      gasUsed: 0n,
      cumulativeGasUsed: 0n,
    }
  }

  /** Execution results from the totals, once the block's checkpoint is committed. */
  private async totalsToExecution(totals: BlockTotals): Promise<BlockExecution> {
    // The root flushes the block's writes to the trie; the accounts among them go along.
    const stateRoot = await this.stateManager.getStateRoot()
    return {
      blockHash: ZERO_HASH,
      stateRoot,
      changedAccounts: this.stateManager.takeFlushedAccounts(),
      receipts: totals.receipts,
      gasUsed: totals.gasUsed,
      logsBloom: totals.bloom.bitvector,
      receiptsRoot: orderedTrieRoot(totals.encodedReceipts, this.keccak256),
    }
  }

  /**
   * Runs `txs` in order on the current state, adding to `totals`; the caller holds the
   * block's checkpoint.
   */
  private async executeTransactions(
    block: Block,
    txs: Iterable<TypedTransaction>,
    totals: BlockTotals,
    building: BuildingState | undefined,
  ): Promise<void> {
    const gasLimit = block.header.gasLimit
    const now = building?.options.now ?? (() => performance.now())
    const budget = building?.options.executionBudgetMs ?? Number.POSITIVE_INFINITY
    const wallBudget = building?.options.wallBudgetMs ?? Number.POSITIVE_INFINITY
    // Wall time on purpose: the slice bounds how long this process is deaf, whatever clock
    // the build budget uses.
    let sliceStarted = performance.now()
    for (const tx of txs) {
      if (performance.now() - sliceStarted >= EXECUTION_SLICE_MS) {
        await yieldToEventLoop()
        sliceStarted = performance.now()
      }
      const txStarted = building === undefined ? 0 : now()
      const txWallStarted = building === undefined ? 0 : performance.now()
      if (building !== undefined) {
        if (gasLimit - totals.gasUsed < 21_000n) break
        if (building.spent.executionMs >= budget) break
        if (building.spent.wallMs >= wallBudget) break
        if (tx.gasLimit > gasLimit - totals.gasUsed) continue
        if (building.options.accept !== undefined && !building.options.accept(tx)) continue
      } else if (tx.gasLimit > gasLimit - totals.gasUsed) {
        throw execError(
          'EXEC_INVALID_TX',
          'transaction gas limit exceeds the gas left in the block',
          {
            tx: bytesToHex(tx.hash()),
          },
        )
      }
      let result: Awaited<ReturnType<typeof runTx>>
      try {
        result = await runTx(this.vm, {
          tx,
          block,
          blockGasUsed: totals.cumulativeGasUsed,
          skipHardForkValidation: true,
        })
      } catch (error) {
        if (building === undefined) {
          throw execError(
            'EXEC_INVALID_TX',
            `invalid transaction in block: ${(error as Error).message}`,
            {
              tx: bytesToHex(tx.hash()),
            },
            error,
          )
        }
        building.rejected.push({ tx, error })
        building.options.onRejected?.(tx, error)
        building.spent.executionMs += now() - txStarted
        building.spent.wallMs += performance.now() - txWallStarted
        continue
      }
      if (building !== undefined) {
        building.included.push(tx)
        building.spent.executionMs += now() - txStarted
        building.spent.wallMs += performance.now() - txWallStarted
      }
      totals.gasUsed += result.blockGasSpent
      totals.cumulativeGasUsed += result.totalGasSpent
      totals.bloom.or(result.bloom)
      const receipt: StoredReceipt = {
        txType: tx.type,
        status: (result.receipt as { status?: 0 | 1 }).status ?? 1,
        cumulativeGasUsed: totals.cumulativeGasUsed,
        gasUsed: result.totalGasSpent,
        logsBloom: result.receipt.bitvector,
        logs: result.receipt.logs,
        contractAddress: result.createdAddress?.bytes,
      }
      totals.receipts.push(receipt)
      totals.encodedReceipts.push(consensusReceiptBytes(receipt))
    }
  }
}
