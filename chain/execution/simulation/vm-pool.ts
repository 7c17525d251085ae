/**
 * VMs for simulated runs: a fresh VM over a scratch view of the state at the requested
 * block (writes never reach the chain), with the deadline's JUMP/JUMPI and the block
 * executor's fast paths. Building one costs about as much as a small call, so a few VMs
 * on the head's state are kept for reuse while their state stays pristine.
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { MerkleStateManager } from '@ethereumjs/statemanager'
import { bytesToHex } from '@ethereumjs/util'
import { createVM, type VM } from '@ethereumjs/vm'
import { applyUpstreamPatches, upstreamHandlers } from '../upstream/index.ts'
import {
  type Deadline,
  deadlineOpcodes,
  type ExecutionClock,
  type OpcodeHandler,
} from './deadline.ts'
import { applyStateOverrides, contextBlock } from './overrides.ts'
import type { BlockOverrides, StateOverrides } from './request.ts'

/** What simulation reads from the chain (the ledger's ChainReader implements it). */
export interface SimulationChain {
  readonly common: Common
  readonly head: BlockHeader
  getCanonicalHash(number: bigint): Promise<Uint8Array | undefined>
  /** A cached scratch view of the state at `stateRoot`: writes stay private. */
  cachedStateAt(stateRoot: Uint8Array): MerkleStateManager
}

export interface PreparedVm {
  vm: VM
  block: Block
  stateManager: MerkleStateManager
  deadline: Deadline
  /** The call's sender has code (not a 7702 delegation): run as a message, see runner.ts. */
  senderIsContract?: boolean
  /** Hands a clean VM back for reuse (no-op for VMs with overrides or left dirty). */
  release(): void
  /** Set when a run was aborted midway: the VM's journal may be inconsistent. */
  dirty?: boolean
}

export interface VmRequest {
  stateRoot: Uint8Array
  /** The header whose fields the EVM sees (before overrides). */
  blockHeader: BlockHeader
  blockOverrides?: BlockOverrides
  stateOverrides?: StateOverrides
  /** Execute without base fee (calls that specify no fees). */
  noBaseFee?: boolean
  deadline: Deadline
  /** The caller leaves the state as it found it (checkpoint/revert): the VM may be reused. */
  reusable?: boolean
}

/** A VM over a cached state view, reusable while its state stays pristine. */
interface PooledVm {
  vm: VM
  stateManager: MerkleStateManager
  clock: ExecutionClock
}

/** VMs kept per state root (only the head's). */
const POOL_SIZE = 2

export class VmPool {
  private readonly chain: SimulationChain
  private pool: { root: string; idle: PooledVm[] } | undefined
  /** ethereumjs' opcode handlers: the deadline wraps its jumps, the fast paths replace some. */
  private upstreamHandlers: ReadonlyMap<number, OpcodeHandler> | undefined

  constructor(modules: { chain: SimulationChain }) {
    this.chain = modules.chain
  }

  /**
   * A VM on the state `stateRoot` (a block's, or its parent's for replaying the block),
   * with the block context of `blockHeader`.
   */
  async acquire(request: VmRequest): Promise<PreparedVm> {
    const reusable = request.reusable === true && request.stateOverrides === undefined
    const key = bytesToHex(request.stateRoot)
    let pooled = reusable && this.pool?.root === key ? this.pool.idle.pop() : undefined
    if (pooled === undefined) {
      pooled = await this.createVm(request.stateRoot, request.deadline)
      if (request.stateOverrides !== undefined)
        await applyStateOverrides(pooled.stateManager, request.stateOverrides)
    }
    pooled.clock.current = request.deadline
    pooled.clock.lastYield = Date.now()
    const entry = pooled
    const block = contextBlock(
      request.blockHeader,
      request.blockOverrides,
      request.noBaseFee === true,
      entry.vm.common,
    )
    const prepared: PreparedVm = {
      vm: entry.vm,
      block,
      stateManager: entry.stateManager,
      deadline: request.deadline,
      release: () => {
        if (!reusable || prepared.dirty === true) return
        // Only the head's state is worth keeping warm.
        if (key !== bytesToHex(this.chain.head.stateRoot)) return
        if (this.pool?.root !== key) this.pool = { root: key, idle: [] }
        if (this.pool.idle.length < POOL_SIZE) this.pool.idle.push(entry)
      },
    }
    return prepared
  }

  private async createVm(stateRoot: Uint8Array, deadline: Deadline): Promise<PooledVm> {
    const common = this.chain.common.copy()
    const stateManager = this.chain.cachedStateAt(stateRoot)
    const chain = this.chain
    const blockchain = {
      async getBlock(number: number) {
        const hash = (await chain.getCanonicalHash(BigInt(number))) ?? new Uint8Array(32)
        return { hash: () => hash }
      },
      async putBlock() {},
      shallowCopy() {
        return blockchain
      },
    }
    this.upstreamHandlers ??= upstreamHandlers(common) as ReadonlyMap<number, OpcodeHandler>
    const clock: ExecutionClock = { current: deadline, lastYield: Date.now() }
    const vm = await createVM({
      common,
      stateManager,
      blockchain: blockchain as never,
      evmOpts: { customOpcodes: deadlineOpcodes(common, this.upstreamHandlers, clock) as never },
    })
    // The block executor's ethereumjs patches, the faster MSTORE/SLOAD/LOG handlers among them (the
    // deadline's jumps stay).
    await applyUpstreamPatches({ vm, upstreamHandlers: this.upstreamHandlers })
    return { vm, stateManager, clock }
  }
}
