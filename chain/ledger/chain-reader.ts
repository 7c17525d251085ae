/**
 * The ledger's read side: what the rest of the node may know about the chain. RPC, sync,
 * metrics and the pool's state adapter depend on this interface (or on a `Pick` of it),
 * never on the Ledger class, so a reader cannot reach the executor or write a block.
 *
 * Who needs more than reads, and takes the Ledger (or a Pick of it) for that:
 * - the block producer: `nextHeaderFields` and `startBuild` (it holds the executor while it
 *   fills a block);
 * - block gossip and range sync (chain/sync): `importBlock`;
 * - the validator drivers (chain/validator): `validateBlock`, `importBlock`, `speculate`,
 *   `buildBlock`;
 * - the composition root (chain/node.ts): `open` and `waitIdle`.
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { MerkleStateManager } from '@ethereumjs/statemanager'
import type { Account, Address } from '@ethereumjs/util'
import type { Genesis } from '../../genesis/schema.ts'
import type { ConsensusExtraData } from '../consensus/extra-data.ts'
import type { ConsensusRules } from '../consensus/rules.ts'
import type { StoredReceipt } from '../execution/receipts.ts'

export interface ImportedBlock {
  block: Block
  receipts: StoredReceipt[]
  extra: ConsensusExtraData
}

/** The commit that finalized a block: q seals over (block hash, round). */
export interface BlockCommit {
  round: number
  seals: Uint8Array[]
}

export interface TxLocation {
  blockHash: Uint8Array
  blockNumber: bigint
  index: number
}

export interface ChainReader {
  readonly common: Common
  readonly chainId: bigint
  readonly genesis: Genesis
  readonly genesisHash: Uint8Array
  /** The consensus rules blocks are checked with (validator set per height). */
  readonly rules: ConsensusRules
  /** The newest imported block; every block is final, so this is also safe and finalized. */
  readonly head: BlockHeader
  /** The commit (round and seals) finalizing the head block; empty for genesis. */
  readonly headCommit: BlockCommit
  /** Seals finalizing the head block (empty for genesis). */
  readonly headSeals: readonly Uint8Array[]

  getCanonicalHash(number: bigint): Promise<Uint8Array | undefined>
  getHeader(hash: Uint8Array): Promise<BlockHeader | undefined>
  getBlock(hash: Uint8Array): Promise<Block | undefined>
  getBlockByNumber(number: bigint): Promise<Block | undefined>
  getReceipts(hash: Uint8Array): Promise<StoredReceipt[] | undefined>
  getTxLocation(txHash: Uint8Array): Promise<TxLocation | undefined>
  /** The commit that finalizes block `hash`: beside the tip, or in the child's header. */
  getCommit(hash: Uint8Array): Promise<BlockCommit | undefined>
  getSeals(hash: Uint8Array): Promise<Uint8Array[] | undefined>
  /**
   * The block with this hash if it is the one built or validated last: gossip of a block
   * this node has executed then needs no decoding of its transactions.
   */
  executedBlock(hash: Uint8Array): Block | undefined

  /** A state view at `stateRoot` (any imported block); writes stay in a private overlay. */
  stateAt(stateRoot: Uint8Array): MerkleStateManager
  /** stateAt with caches, for executions that read the same slots many times. */
  cachedStateAt(stateRoot: Uint8Array): MerkleStateManager
  /** Shared read-only state at the head, with caches; rebuilt when the head moves. */
  headState(): MerkleStateManager
  /** An account at the head (undefined: it does not exist); a copy. */
  headAccount(address: Address): Promise<Account | undefined>

  /** Emitted after each import, once the block is written. */
  on(event: 'head', listener: (imported: ImportedBlock) => void): unknown
  off(event: 'head', listener: (imported: ImportedBlock) => void): unknown
}
