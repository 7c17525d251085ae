/**
 * Execution for eth_call, eth_estimateGas and the debug tracers: a fresh VM over a scratch
 * view of the state at the requested block (Ledger.stateAt: writes never reach the chain),
 * state and block overrides applied on top, and an unsigned transaction whose sender is
 * whoever the caller says (geth semantics: nonce not checked, no base fee when no fee
 * fields are given, balance checked only for what the call really spends).
 *
 * A wall-clock deadline bounds every run. The ethereumjs interpreter awaits each step on
 * the microtask queue, so a timer cannot interrupt it; instead JUMP and JUMPI (every loop
 * goes through one of them) are wrapped to check the clock every 1024 jumps.
 */
import { Block, type BlockHeader, createBlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { MerkleStateManager } from '@ethereumjs/statemanager'
import { createTx, type TypedTransaction } from '@ethereumjs/tx'
import {
  Account,
  bytesToHex,
  createZeroAddress,
  equalsBytes,
  KECCAK256_NULL,
} from '@ethereumjs/util'
import { createVM, type RunTxResult, runTx, type VM } from '@ethereumjs/vm'
import { applyUpstreamPatches, upstreamHandlers } from '../execution/upstream/index.ts'
import type { ChainView } from './chain-view.ts'
import {
  executionReverted,
  invalidParams,
  limitExceeded,
  RPC_ERROR,
  RpcError,
  serverError,
} from './errors.ts'
import type { BlockOverrides, CallRequest, StateOverrides } from './params.ts'

export interface EvmRunnerOptions {
  /** Gas for calls without a gas field, and the most any call/estimate may use. */
  gasCap: bigint
  /** Wall-clock limit of one eth_call / eth_estimateGas (all its runs). */
  timeoutMs: number
  /**
   * Executions (calls, estimates, traces) running at once; more wait in line. JavaScript
   * runs one at a time anyway, so this bounds memory (one VM and state view each), not speed.
   */
  maxConcurrent?: number
  /** Executions allowed to wait; beyond, requests are refused with -32005. */
  maxQueued?: number
}

/** Thrown from inside the EVM when the deadline passes (not an EVMError, so it aborts the run). */
export class ExecutionTimeout extends Error {
  override readonly name = 'ExecutionTimeout'
}

export interface Deadline {
  readonly at: number
  readonly ms: number
}

export function deadlineIn(ms: number): Deadline {
  return { at: Date.now() + ms, ms }
}

export function timeoutError(deadline: Deadline): RpcError {
  return serverError(`execution aborted (timeout = ${formatDuration(deadline.ms)})`)
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

type OpcodeHandler = (runState: unknown, common: Common) => unknown

/** How long an execution may hold the event loop before it lets other work (consensus timers, other requests) run. */
const YIELD_EVERY_MS = 10

/** Per-VM execution clock: the deadline of the current run and when it last yielded. */
interface ExecutionClock {
  current: Deadline
  lastYield: number
}

/**
 * JUMP/JUMPI that, every 1024 jumps, check the deadline and yield to the event loop when
 * the run has held it for YIELD_EVERY_MS (the interpreter otherwise never gives it back:
 * a long eth_call would stall block production). Otherwise the stock implementations.
 */
function deadlineOpcodes(
  common: Common,
  originals: ReadonlyMap<number, OpcodeHandler>,
  clock: ExecutionClock,
) {
  let jumps = 0
  const wrap = (code: number, name: string) => {
    const original = originals.get(code)!
    return {
      opcode: code,
      opcodeName: name,
      baseFee: Number(common.param(`${name.toLowerCase()}Gas`)),
      logicFunction: (runState: unknown, c: Common) => {
        if ((++jumps & 1023) === 0) {
          const now = Date.now()
          if (now > clock.current.at) throw new ExecutionTimeout('deadline passed')
          if (now - clock.lastYield >= YIELD_EVERY_MS) {
            return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
              clock.lastYield = Date.now()
              return original(runState, c)
            })
          }
        }
        return original(runState, c)
      },
    }
  }
  return [wrap(0x56, 'JUMP'), wrap(0x57, 'JUMPI')]
}

/** What a finished (not aborted) run produced. */
export interface CallOutcome {
  returnValue: Uint8Array
  /** Gas the transaction would be charged (after refunds, EIP-7623 floor). */
  gasUsed: bigint
  /** Refund counter (for the estimator's optimistic guess). */
  gasRefund: bigint
  /** Undefined on success. */
  failure?: { kind: 'revert'; data: Uint8Array } | { kind: 'halt'; message: string }
}

const PANIC_REASONS: Record<number, string> = {
  0: 'generic panic',
  1: 'assert(false)',
  17: 'arithmetic underflow or overflow',
  18: 'division or modulo by zero',
  33: 'enum overflow',
  34: 'invalid encoded storage byte array accessed',
  49: 'out-of-bounds array access; popping on an empty array',
  50: 'out-of-bounds access of an array or bytesN',
  65: 'out of memory',
  81: 'uninitialized function',
}

/** geth's UnpackRevert: Error(string) and Panic(uint256) become a readable reason. */
export function decodeRevertReason(data: Uint8Array): string | undefined {
  if (data.length < 4) return undefined
  const selector = bytesToHex(data.subarray(0, 4))
  if (selector === '0x08c379a0' && data.length >= 68) {
    const offset = Number(BigInt(bytesToHex(data.subarray(4, 36))))
    if (offset + 32 > data.length - 4 || offset > 1 << 20) return undefined
    const start = 4 + offset
    const length = Number(BigInt(bytesToHex(data.subarray(start, start + 32))))
    if (start + 32 + length > data.length) return undefined
    return Buffer.from(data.subarray(start + 32, start + 32 + length)).toString('utf8')
  }
  if (selector === '0x4e487b71' && data.length === 36) {
    const code = BigInt(bytesToHex(data.subarray(4)))
    return PANIC_REASONS[Number(code)] ?? `unknown panic code: 0x${code.toString(16)}`
  }
  return undefined
}

const HALT_MESSAGES: Record<string, string> = {
  'out of gas': 'out of gas',
  'code store out of gas': 'contract creation code storage out of gas',
  'code size to deposit exceeds maximum code size': 'max code size exceeded',
  'stack underflow': 'stack underflow',
  'stack overflow': 'stack limit reached 1024',
  'invalid JUMP': 'invalid jump destination',
  'invalid opcode': 'invalid opcode',
  'value out of range': 'return data out of bounds',
  'static state change': 'write protection',
  'create collision': 'contract address collision',
  'insufficient balance': 'insufficient balance for transfer',
  'invalid bytecode deployed': 'invalid code: must not begin with 0xef',
  'initcode exceeds max initcode size': 'max initcode size exceeded',
  'value overflow': 'gas uint64 overflow',
}

/** geth wording for an EVM halt reason. */
export function haltMessage(evmError: string): string {
  return HALT_MESSAGES[evmError] ?? evmError
}

/** Turns a pre-execution refusal from runTx into the geth message tools know. */
export function preExecutionError(err: unknown): RpcError {
  if (err instanceof RpcError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (/enough funds/.test(message)) return serverError('insufficient funds for gas * price + value')
  if (/INTRINSIC_GAS_TOO_LOW|intrinsic gas|lower than the minimum gas limit/.test(message))
    return serverError('intrinsic gas too low')
  if (/is less than the block's baseFeePerGas/.test(message))
    return serverError('max fee per gas less than block base fee')
  if (/EIP-7825|exceeds the maximum allowed/.test(message))
    return serverError('transaction gas limit too high (cap: 16777216)')
  if (/initcode|init code/i.test(message)) return serverError('max initcode size exceeded')
  if (/not EOA/.test(message)) return serverError('sender not an eoa')
  return serverError(message.split(' (')[0]!.slice(0, 200))
}

export interface PreparedVm {
  vm: VM
  block: Block
  stateManager: MerkleStateManager
  deadline: Deadline
  /** The call's sender has code (not a 7702 delegation): run as a message, see runFromContract. */
  senderIsContract?: boolean
  /** Hands a clean VM back for reuse (no-op for VMs with overrides or left dirty). */
  release(): void
  /** Set when a run was aborted midway: the VM's journal may be inconsistent. */
  dirty?: boolean
}

/** A VM over a cached state view, reusable while its state stays pristine. */
interface PooledVm {
  vm: VM
  stateManager: MerkleStateManager
  clock: ExecutionClock
}

/** VMs kept per state root (only the head's): building one costs about as much as a small call. */
const POOL_SIZE = 2

export class EvmRunner {
  readonly options: EvmRunnerOptions
  private readonly chain: ChainView
  private pool: { root: string; idle: PooledVm[] } | undefined
  /** ethereumjs' opcode handlers: the deadline wraps its jumps, the fast paths replace some. */
  private upstreamHandlers: ReadonlyMap<number, OpcodeHandler> | undefined
  private running = 0
  private readonly queue: Array<() => void> = []

  constructor(options: EvmRunnerOptions, modules: { chain: ChainView }) {
    this.options = options
    this.chain = modules.chain
  }

  private get common(): Common {
    return this.chain.ledger.common
  }

  /** Runs `fn` when an execution slot is free (see maxConcurrent). */
  async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    const max = this.options.maxConcurrent ?? 8
    if (this.running >= max) {
      if (this.queue.length >= (this.options.maxQueued ?? 256)) {
        throw limitExceeded(
          'too many executions in progress (eth_call, eth_estimateGas, debug_trace*); retry later',
        )
      }
      await new Promise<void>((resolve) => this.queue.push(resolve))
    } else {
      this.running++
    }
    try {
      return await fn()
    } finally {
      const next = this.queue.shift()
      // The slot passes straight to the next waiter; otherwise it is freed.
      if (next !== undefined) next()
      else this.running--
    }
  }

  /** Highest gas a call may use: the configured cap, and EIP-7825's per-tx cap when active. */
  get maxCallGas(): bigint {
    const common = this.common
    if (common.isActivatedEIP(7825)) {
      const txCap = BigInt(common.param('maxTransactionGasLimit'))
      if (txCap < this.options.gasCap) return txCap
    }
    return this.options.gasCap
  }

  /**
   * A VM on the state of `header` (or of its parent, for replaying a block), with the
   * given block context. `blockHeader` is the header whose fields the EVM sees.
   */
  async prepare(params: {
    stateRoot: Uint8Array
    blockHeader: BlockHeader
    blockOverrides?: BlockOverrides
    stateOverrides?: StateOverrides
    /** Execute without base fee (calls that specify no fees). */
    noBaseFee?: boolean
    deadline: Deadline
    /** The caller leaves the state as it found it (checkpoint/revert): the VM may be reused. */
    reusable?: boolean
  }): Promise<PreparedVm> {
    const reusable = params.reusable === true && params.stateOverrides === undefined
    const key = bytesToHex(params.stateRoot)
    let pooled = reusable && this.pool?.root === key ? this.pool.idle.pop() : undefined
    if (pooled === undefined) {
      pooled = await this.createVm(params.stateRoot, params.deadline)
      if (params.stateOverrides !== undefined)
        await applyStateOverrides(pooled.stateManager, params.stateOverrides)
    }
    pooled.clock.current = params.deadline
    pooled.clock.lastYield = Date.now()
    const entry = pooled
    const block = this.contextBlock(
      params.blockHeader,
      params.blockOverrides,
      params.noBaseFee === true,
      entry.vm.common,
    )
    const prepared: PreparedVm = {
      vm: entry.vm,
      block,
      stateManager: entry.stateManager,
      deadline: params.deadline,
      release: () => {
        if (!reusable || prepared.dirty === true) return
        // Only the head's state is worth keeping warm.
        if (key !== bytesToHex(this.chain.ledger.head.stateRoot)) return
        if (this.pool?.root !== key) this.pool = { root: key, idle: [] }
        if (this.pool.idle.length < POOL_SIZE) this.pool.idle.push(entry)
      },
    }
    return prepared
  }

  private async createVm(stateRoot: Uint8Array, deadline: Deadline): Promise<PooledVm> {
    const common = this.common.copy()
    const stateManager = this.chain.ledger.cachedStateAt(stateRoot)
    const ledger = this.chain.ledger
    const blockchain = {
      async getBlock(number: number) {
        const hash = (await ledger.getCanonicalHash(BigInt(number))) ?? new Uint8Array(32)
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
    // The block executor's ethereumjs patches, faster MSTORE/SLOAD/LOG handlers among them
    // (the deadline's jumps stay).
    await applyUpstreamPatches({ vm, upstreamHandlers: this.upstreamHandlers })
    return { vm, stateManager, clock }
  }

  private contextBlock(
    header: BlockHeader,
    overrides: BlockOverrides | undefined,
    noBaseFee: boolean,
    common: Common,
  ): Block {
    const o = overrides ?? {}
    const baseFee = o.baseFeePerGas ?? (noBaseFee ? 0n : (header.baseFeePerGas ?? 0n))
    const contextHeader = createBlockHeader(
      {
        parentHash: header.parentHash,
        coinbase: o.feeRecipient ?? header.coinbase,
        stateRoot: header.stateRoot,
        number: o.number ?? header.number,
        timestamp: o.time ?? header.timestamp,
        gasLimit: o.gasLimit ?? header.gasLimit,
        baseFeePerGas: baseFee,
        mixHash: o.prevRandao ?? header.mixHash,
        difficulty: header.difficulty,
        extraData: header.extraData,
        withdrawalsRoot: header.withdrawalsRoot,
        blobGasUsed: header.blobGasUsed,
        excessBlobGas: header.excessBlobGas,
        parentBeaconBlockRoot: header.parentBeaconBlockRoot,
        requestsHash: header.requestsHash,
      },
      { common, skipConsensusFormatValidation: true },
    )
    return new Block(contextHeader, [], [], [], { common })
  }

  /** An unsigned transaction from `request` whose sender is `request.from` (zero address by default). */
  buildTx(request: CallRequest, gasLimit: bigint, common: Common): TypedTransaction {
    if (request.chainId !== undefined && request.chainId !== common.chainId()) {
      throw invalidParams(
        `invalid chain id ${request.chainId} for this chain (${common.chainId()})`,
      )
    }
    const from = request.from ?? createZeroAddress()
    let maxFeePerGas: bigint
    let maxPriorityFeePerGas: bigint
    if (request.gasPrice !== undefined) {
      maxFeePerGas = request.gasPrice
      maxPriorityFeePerGas = request.gasPrice
    } else {
      maxFeePerGas = request.maxFeePerGas ?? 0n
      maxPriorityFeePerGas = request.maxPriorityFeePerGas ?? 0n
      if (maxPriorityFeePerGas > maxFeePerGas) maxFeePerGas = maxPriorityFeePerGas
    }
    const base = {
      chainId: common.chainId(),
      nonce: request.nonce ?? 0n,
      gasLimit,
      maxFeePerGas,
      maxPriorityFeePerGas,
      to: request.to,
      value: request.value ?? 0n,
      data: request.data ?? new Uint8Array(0),
      accessList: (request.accessList ?? []).map(
        (e) => [e.address, e.storageKeys] as [Uint8Array, Uint8Array[]],
      ),
    }
    let tx: TypedTransaction
    try {
      if (request.authorizationList !== undefined && request.authorizationList.length > 0) {
        if (request.to === undefined)
          throw invalidParams('invalid argument 0 (transaction): a set-code transaction needs "to"')
        tx = createTx(
          {
            ...base,
            type: 4,
            authorizationList: request.authorizationList.map((a) => ({
              chainId: `0x${a.chainId.toString(16)}`,
              address: bytesToHex(a.address),
              nonce: `0x${a.nonce.toString(16)}`,
              yParity: `0x${a.yParity.toString(16)}`,
              r: `0x${a.r.toString(16)}`,
              s: `0x${a.s.toString(16)}`,
            })),
          } as never,
          { common, freeze: false },
        )
      } else {
        tx = createTx({ ...base, type: 2 } as never, { common, freeze: false })
      }
    } catch (err) {
      throw preExecutionError(err)
    }
    // Impersonation: runTx asks the transaction who sent it.
    Object.defineProperty(tx, 'getSenderAddress', { value: () => from })
    return tx
  }

  /** Gas limit of a call: requested, else the cap; never above the cap. */
  callGas(request: CallRequest): bigint {
    const max = this.maxCallGas
    return request.gas === undefined || request.gas > max ? max : request.gas
  }

  /**
   * Runs `tx` on the prepared state and rolls the state back afterwards, so every run of
   * an estimate starts from the same state. Throws RpcError for refusals before execution
   * and for timeouts.
   */
  async runOnce(prepared: PreparedVm, tx: TypedTransaction): Promise<CallOutcome> {
    const { vm, block, deadline, stateManager } = prepared
    if (Date.now() > deadline.at) throw timeoutError(deadline)
    await stateManager.checkpoint()
    try {
      if (prepared.senderIsContract === true) return await this.runFromContract(prepared, tx)
      const result = await runTx(vm, {
        tx,
        block,
        skipNonce: true,
        skipBlockGasLimitValidation: true,
        skipHardForkValidation: true,
      })
      return outcomeOf(result)
    } catch (err) {
      if (err instanceof ExecutionTimeout) {
        prepared.dirty = true
        throw timeoutError(deadline)
      }
      throw preExecutionError(err)
    } finally {
      await stateManager.revert()
    }
  }

  /**
   * A call whose sender has code. On chain that transaction is invalid (EIP-3607) and
   * ethereumjs' runTx refuses it, but simulating a call from a contract is a normal
   * eth_call (geth allows it), so run the message directly: intrinsic gas is added,
   * refunds are not applied (gas figures are an upper bound).
   */
  private async runFromContract(prepared: PreparedVm, tx: TypedTransaction): Promise<CallOutcome> {
    const { vm, block } = prepared
    const from = tx.getSenderAddress()
    const intrinsic = tx.getIntrinsicGas()
    if (tx.gasLimit < intrinsic) throw serverError('intrinsic gas too low')
    const journal = vm.evm.journal
    await journal.cleanup()
    journal.addAlwaysWarmAddress(from.toString())
    if (tx.to !== undefined) journal.addAlwaysWarmAddress(tx.to.toString())
    const result = await vm.evm.runCall({
      block,
      caller: from,
      origin: from,
      to: tx.to,
      value: tx.value,
      data: tx.data,
      gasLimit: tx.gasLimit - intrinsic,
      gasPrice: 'maxFeePerGas' in tx ? (tx.maxFeePerGas as bigint) : 0n,
    })
    const error = result.execResult.exceptionError
    const outcome: CallOutcome = {
      returnValue: result.execResult.returnValue,
      gasUsed: intrinsic + result.execResult.executionGasUsed,
      gasRefund: result.execResult.gasRefund ?? 0n,
    }
    if (error !== undefined) {
      outcome.failure =
        error.error === 'revert'
          ? { kind: 'revert', data: result.execResult.returnValue }
          : { kind: 'halt', message: haltMessage(error.error) }
    }
    return outcome
  }

  /** eth_call. Reverts become code 3 with the revert data; other failures -32000. */
  async call(
    request: CallRequest,
    header: BlockHeader,
    overrides: { state?: StateOverrides; block?: BlockOverrides } = {},
  ): Promise<Uint8Array> {
    const outcome = await this.simulate(request, header, overrides)
    if (outcome.failure?.kind === 'revert') {
      throw executionReverted(
        decodeRevertReason(outcome.failure.data),
        bytesToHex(outcome.failure.data) as `0x${string}`,
      )
    }
    if (outcome.failure?.kind === 'halt') throw serverError(outcome.failure.message)
    return outcome.returnValue
  }

  async simulate(
    request: CallRequest,
    header: BlockHeader,
    overrides: { state?: StateOverrides; block?: BlockOverrides } = {},
  ): Promise<CallOutcome> {
    return this.withSlot(async () => {
      const prepared = await this.prepareCall(request, header, overrides)
      try {
        const tx = this.buildTx(request, this.callGas(request), prepared.vm.common)
        return await this.runOnce(prepared, tx)
      } finally {
        prepared.release()
      }
    })
  }

  /** VM for a call: state and block context of `header`, overrides, sender kind. */
  async prepareCall(
    request: CallRequest,
    header: BlockHeader,
    overrides: { state?: StateOverrides; block?: BlockOverrides },
    deadline = deadlineIn(this.options.timeoutMs),
    reusable = true,
  ): Promise<PreparedVm> {
    const prepared = await this.prepare({
      stateRoot: header.stateRoot,
      blockHeader: header,
      blockOverrides: overrides.block,
      stateOverrides: overrides.state,
      noBaseFee: noFees(request),
      deadline,
      reusable,
    })
    if (request.from !== undefined) {
      const account = await prepared.stateManager.getAccount(request.from)
      if (account !== undefined && !equalsBytes(account.codeHash, KECCAK256_NULL)) {
        const code = await prepared.stateManager.getCode(request.from)
        // EIP-7702 delegated EOAs may send transactions.
        prepared.senderIsContract = !(
          code.length === 23 &&
          code[0] === 0xef &&
          code[1] === 0x01 &&
          code[2] === 0x00
        )
      }
    }
    return prepared
  }

  /**
   * eth_estimateGas: the smallest gas limit with which the call succeeds, found by binary
   * search (geth's algorithm: first run at the cap, an optimistic guess from the gas used,
   * then bisection). A call that fails even at the cap is reported like eth_call.
   */
  async estimateGas(
    request: CallRequest,
    header: BlockHeader,
    overrides: { state?: StateOverrides; block?: BlockOverrides } = {},
  ): Promise<bigint> {
    return this.withSlot(async () => {
      const prepared = await this.prepareCall(request, header, overrides)
      try {
        return await this.estimateOn(prepared, request)
      } finally {
        prepared.release()
      }
    })
  }

  private async estimateOn(prepared: PreparedVm, request: CallRequest): Promise<bigint> {
    const common = prepared.vm.common
    let hi =
      request.gas !== undefined && request.gas >= 21_000n
        ? request.gas
        : prepared.block.header.gasLimit
    if (hi > this.maxCallGas) hi = this.maxCallGas
    // The sender cannot pay for more gas than its balance allows at the given price.
    const feeCap = request.gasPrice ?? request.maxFeePerGas ?? 0n
    if (feeCap > 0n) {
      const from = request.from ?? createZeroAddress()
      const balance = (await prepared.stateManager.getAccount(from))?.balance ?? 0n
      const value = request.value ?? 0n
      if (value > balance) throw serverError('insufficient funds for transfer')
      const allowance = (balance - value) / feeCap
      if (hi > allowance) hi = allowance
    }
    const attempt = async (gas: bigint): Promise<CallOutcome | undefined> => {
      let tx: TypedTransaction
      try {
        tx = this.buildTx(request, gas, common)
      } catch (err) {
        if (err instanceof RpcError && /intrinsic|too high/.test(err.message)) return undefined
        throw err
      }
      try {
        return await this.runOnce(prepared, tx)
      } catch (err) {
        if (err instanceof RpcError && err.message === 'intrinsic gas too low') return undefined
        throw err
      }
    }
    // Plain transfers to accounts without code cost exactly 21000.
    if (
      request.to !== undefined &&
      (request.data === undefined || request.data.length === 0) &&
      request.authorizationList === undefined
    ) {
      const code = await prepared.stateManager.getCode(request.to)
      if (code.length === 0 && hi >= 21_000n) {
        const outcome = await attempt(21_000n)
        if (outcome !== undefined && outcome.failure === undefined) return 21_000n
      }
    }
    const top = await attempt(hi)
    if (top === undefined) throw serverError(`gas required exceeds allowance (${hi})`)
    if (top.failure?.kind === 'revert') {
      throw executionReverted(
        decodeRevertReason(top.failure.data),
        bytesToHex(top.failure.data) as `0x${string}`,
      )
    }
    if (top.failure?.kind === 'halt') {
      if (top.failure.message === 'out of gas')
        throw serverError(`gas required exceeds allowance (${hi})`)
      throw serverError(top.failure.message)
    }
    let lo = top.gasUsed - 1n
    const optimistic = ((top.gasUsed + top.gasRefund + 2300n) * 64n) / 63n
    if (optimistic < hi) {
      const outcome = await attempt(optimistic)
      if (outcome !== undefined && outcome.failure === undefined) hi = optimistic
      else lo = optimistic
    }
    while (lo + 1n < hi) {
      let mid = (hi + lo) / 2n
      if (mid > lo * 2n) mid = lo * 2n
      const outcome = await attempt(mid)
      if (outcome === undefined || outcome.failure !== undefined) lo = mid
      else hi = mid
    }
    return hi
  }
}

function noFees(request: CallRequest): boolean {
  return (
    (request.gasPrice ?? 0n) === 0n &&
    (request.maxFeePerGas ?? 0n) === 0n &&
    (request.maxPriorityFeePerGas ?? 0n) === 0n
  )
}

export function outcomeOf(result: RunTxResult): CallOutcome {
  const error = result.execResult.exceptionError
  const outcome: CallOutcome = {
    returnValue: result.execResult.returnValue,
    gasUsed: result.totalGasSpent,
    gasRefund: result.gasRefund ?? 0n,
  }
  if (error !== undefined) {
    outcome.failure =
      error.error === 'revert'
        ? { kind: 'revert', data: result.execResult.returnValue }
        : { kind: 'halt', message: haltMessage(error.error) }
  }
  return outcome
}

/** Applies geth-style state overrides to a scratch state. */
export async function applyStateOverrides(
  sm: MerkleStateManager,
  overrides: StateOverrides,
): Promise<void> {
  for (const [address, o] of overrides) {
    const account = (await sm.getAccount(address)) ?? new Account()
    if (o.balance !== undefined) account.balance = o.balance
    if (o.nonce !== undefined) account.nonce = o.nonce
    await sm.putAccount(address, account)
    if (o.code !== undefined) await sm.putCode(address, o.code)
    if (o.state !== undefined) await sm.clearStorage(address)
    for (const [slot, value] of o.state ?? o.stateDiff ?? []) {
      await sm.putStorage(address, slot, stripZeros(value))
    }
  }
}

function stripZeros(value: Uint8Array): Uint8Array {
  let i = 0
  while (i < value.length && value[i] === 0) i++
  return value.subarray(i)
}

export { RPC_ERROR }
