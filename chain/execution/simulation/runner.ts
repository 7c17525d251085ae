/**
 * Simulated execution for eth_call, eth_estimateGas and the debug tracers: runs an
 * unsigned call (request.ts) on a pooled VM (vm-pool.ts) under a wall-clock deadline
 * (deadline.ts), one execution slot per run (the semaphore bounds memory: JavaScript runs
 * one at a time anyway). Results are typed outcomes (outcome.ts); refusals, timeouts and
 * failed calls are SimulationErrors, which the RPC maps to JSON-RPC errors.
 */
import type { BlockHeader } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'
import { equalsBytes, KECCAK256_NULL } from '@ethereumjs/util'
import { runTx } from '@ethereumjs/vm'
import { Semaphore } from '../../util/semaphore.ts'
import { deadlineIn, ExecutionTimeout, timeoutError } from './deadline.ts'
import { preExecutionError, SimulationError } from './errors.ts'
import { estimateGasOn } from './estimate-gas.ts'
import { type CallOutcome, failureError, failureOf, outcomeOf } from './outcome.ts'
import { buildCallTx, type CallRequest, noFees, type SimulationOverrides } from './request.ts'
import { type PreparedVm, type SimulationChain, VmPool, type VmRequest } from './vm-pool.ts'

export interface CallSimulatorOptions {
  /** Gas for calls without a gas field, and the most any call/estimate may use. */
  gasCap: bigint
  /** Wall-clock limit of one eth_call / eth_estimateGas (all its runs). */
  timeoutMs: number
  /**
   * Executions (calls, estimates, traces) running at once; more wait in line. JavaScript
   * runs one at a time anyway, so this bounds memory (one VM and state view each), not speed.
   */
  maxConcurrent?: number
  /** Executions allowed to wait; beyond, requests are refused with SIM_BUSY. */
  maxQueued?: number
}

export class CallSimulator {
  readonly options: CallSimulatorOptions
  private readonly chain: SimulationChain
  private readonly vms: VmPool
  private readonly slots: Semaphore

  constructor(options: CallSimulatorOptions, modules: { chain: SimulationChain }) {
    this.options = options
    this.chain = modules.chain
    this.vms = new VmPool({ chain: modules.chain })
    this.slots = new Semaphore({
      maxConcurrent: options.maxConcurrent ?? 8,
      maxQueued: options.maxQueued ?? 256,
    })
  }

  /** Runs `fn` when an execution slot is free (see maxConcurrent); SIM_BUSY when the line is full. */
  withSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.slots.full) {
      return Promise.reject(
        new SimulationError(
          'SIM_BUSY',
          'too many executions in progress (eth_call, eth_estimateGas, debug_trace*); retry later',
        ),
      )
    }
    return this.slots.run(fn)
  }

  /** Highest gas a call may use: the configured cap, and EIP-7825's per-tx cap when active. */
  get maxCallGas(): bigint {
    const common = this.chain.common
    if (common.isActivatedEIP(7825)) {
      const txCap = BigInt(common.param('maxTransactionGasLimit'))
      if (txCap < this.options.gasCap) return txCap
    }
    return this.options.gasCap
  }

  /** Gas limit of a call: requested, else the cap; never above the cap. */
  callGas(request: CallRequest): bigint {
    const max = this.maxCallGas
    return request.gas === undefined || request.gas > max ? max : request.gas
  }

  /** A VM on a state with a block context (see VmPool.acquire). */
  prepare(request: VmRequest): Promise<PreparedVm> {
    return this.vms.acquire(request)
  }

  /** VM for a call: state and block context of `header`, overrides, sender kind. */
  async prepareCall(
    request: CallRequest,
    header: BlockHeader,
    overrides: SimulationOverrides,
    deadline = deadlineIn(this.options.timeoutMs),
    reusable = true,
  ): Promise<PreparedVm> {
    const prepared = await this.vms.acquire({
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

  /** An unsigned transaction from `request` on the prepared VM's chain (see buildCallTx). */
  buildTx(request: CallRequest, gasLimit: bigint, prepared: PreparedVm): TypedTransaction {
    return buildCallTx(request, gasLimit, prepared.vm.common)
  }

  /**
   * Runs `tx` on the prepared state and rolls the state back afterwards, so every run of
   * an estimate starts from the same state. Throws SimulationError for refusals before
   * execution and for timeouts.
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
    if (tx.gasLimit < intrinsic)
      throw new SimulationError('SIM_INTRINSIC_GAS_TOO_LOW', 'intrinsic gas too low')
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
    const outcome: CallOutcome = {
      returnValue: result.execResult.returnValue,
      gasUsed: intrinsic + result.execResult.executionGasUsed,
      gasRefund: result.execResult.gasRefund ?? 0n,
    }
    const failure = failureOf(result.execResult.exceptionError, result.execResult.returnValue)
    if (failure !== undefined) outcome.failure = failure
    return outcome
  }

  /** eth_call: the return data; a revert is SIM_REVERTED (with its data), a halt SIM_HALTED. */
  async call(
    request: CallRequest,
    header: BlockHeader,
    overrides: SimulationOverrides = {},
  ): Promise<Uint8Array> {
    const outcome = await this.simulate(request, header, overrides)
    if (outcome.failure !== undefined) throw failureError(outcome.failure)
    return outcome.returnValue
  }

  /** One run of the call at its gas limit, whatever its result. */
  simulate(
    request: CallRequest,
    header: BlockHeader,
    overrides: SimulationOverrides = {},
  ): Promise<CallOutcome> {
    return this.withSlot(async () => {
      const prepared = await this.prepareCall(request, header, overrides)
      try {
        const tx = this.buildTx(request, this.callGas(request), prepared)
        return await this.runOnce(prepared, tx)
      } finally {
        prepared.release()
      }
    })
  }

  /** eth_estimateGas (see estimate-gas.ts). */
  estimateGas(
    request: CallRequest,
    header: BlockHeader,
    overrides: SimulationOverrides = {},
  ): Promise<bigint> {
    return this.withSlot(async () => {
      const prepared = await this.prepareCall(request, header, overrides)
      try {
        return await estimateGasOn(this, prepared, request)
      } finally {
        prepared.release()
      }
    })
  }
}
