/**
 * The `debug_` namespace: transaction and call tracing with geth's default struct logger
 * and its `callTracer` (what Hardhat, Foundry tooling and block explorers consume).
 *
 * A mined transaction is traced by re-executing its block up to it: a scratch VM on the
 * parent's state runs the preceding transactions, then the traced one with the EVM's
 * step/message hooks attached.
 */
import type { Block } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { type Deadline, deadlineIn } from '../execution/simulation/deadline.ts'
import type { CallOutcome } from '../execution/simulation/outcome.ts'
import { decodeRevertReason, haltMessage } from '../execution/simulation/revert.ts'
import type { CallSimulator } from '../execution/simulation/runner.ts'
import {
  replayTransaction,
  runTraced,
  type TraceEvents,
  type TraceMessage,
  type TraceMessageResult,
  type TraceStep,
} from '../execution/simulation/trace.ts'
import type { PreparedVm } from '../execution/simulation/vm-pool.ts'
import type { ChainView } from './chain-view.ts'
import { limitExceeded, RPC_ERROR, RpcError, serverError } from './errors.ts'
import { address, type Hex, hex, quantity } from './format.ts'
import { defineMethod, type RpcModule } from './handler.ts'
import { type BlockId, p, type TraceConfig, withDefault } from './params.ts'

export interface TraceLimits {
  /** Default wall-clock limit of one trace (a `timeout` in the config may lower or raise it up to maxTimeoutMs). */
  timeoutMs: number
  maxTimeoutMs: number
  /** Most struct log entries one trace may produce. */
  maxStructLogs: number
}

interface Tracer {
  attach(events: TraceEvents): void
  result(tx: TypedTransaction, outcome: CallOutcome): unknown
}

const word = (value: bigint) => value.toString(16).padStart(64, '0')

// ------------------------------------------------------------------ struct logger

interface StructLog {
  pc: number
  op: string
  gas: number
  gasCost: number
  depth: number
  stack?: Hex[]
  memory?: string[]
  storage?: Record<string, string>
  refund?: number
  error?: string
}

class StructLogger implements Tracer {
  private readonly config: TraceConfig
  private readonly maxLogs: number
  private readonly logs: StructLog[] = []
  private readonly storage = new Map<string, Map<string, string>>()
  private pendingLoad: { log: StructLog; contract: string; key: string } | undefined

  constructor(config: TraceConfig, maxLogs: number) {
    this.config = config
    this.maxLogs = config.limit > 0 ? Math.min(config.limit, maxLogs) : maxLogs
    if (config.limit === 0 && maxLogs <= 0) throw new Error('maxLogs must be positive')
  }

  attach(events: TraceEvents): void {
    events.on('step', (step) => this.onStep(step))
    events.on('afterMessage', (result) => {
      const error = result.execResult.exceptionError?.error
      if (error === undefined || error === 'revert') return
      const last = this.logs[this.logs.length - 1]
      if (last !== undefined && last.error === undefined) last.error = haltMessage(error)
    })
  }

  private onStep(step: TraceStep): void {
    // The value an SLOAD read is on top of the stack at the next step.
    if (this.pendingLoad !== undefined) {
      const { log, contract, key } = this.pendingLoad
      this.pendingLoad = undefined
      const value = step.stack[step.stack.length - 1]
      if (value !== undefined) {
        this.slots(contract).set(key, word(value))
        if (log.storage !== undefined) log.storage[key] = word(value)
      }
    }
    if (this.logs.length >= this.maxLogs) {
      if (this.config.limit > 0) return
      throw limitExceeded(
        `trace has more than ${this.maxLogs} steps; use callTracer or a smaller transaction`,
      )
    }
    const op = step.opcode.name
    const log: StructLog = {
      pc: step.pc,
      op,
      gas: Number(step.gasLeft),
      gasCost: Number(step.opcode.dynamicFee ?? BigInt(step.opcode.fee)),
      depth: step.depth + 1,
    }
    if (!this.config.disableStack) log.stack = step.stack.map((v) => quantity(v))
    if (this.config.enableMemory) {
      const memory: string[] = []
      for (let i = 0; i < step.memory.length; i += 32)
        memory.push(
          Buffer.from(step.memory.subarray(i, i + 32))
            .toString('hex')
            .padEnd(64, '0'),
        )
      log.memory = memory
    }
    if (step.gasRefund > 0n) log.refund = Number(step.gasRefund)
    if (!this.config.disableStorage && (op === 'SLOAD' || op === 'SSTORE')) {
      const contract = step.address.toString()
      const stack = step.stack
      const key = stack[stack.length - 1]
      if (key !== undefined) {
        const slots = this.slots(contract)
        if (op === 'SSTORE' && stack.length >= 2)
          slots.set(word(key), word(stack[stack.length - 2]!))
        log.storage = Object.fromEntries(slots)
        if (op === 'SLOAD') this.pendingLoad = { log, contract, key: word(key) }
      }
    }
    this.logs.push(log)
  }

  private slots(contract: string): Map<string, string> {
    let slots = this.storage.get(contract)
    if (slots === undefined) {
      slots = new Map()
      this.storage.set(contract, slots)
    }
    return slots
  }

  result(_tx: TypedTransaction, outcome: CallOutcome): unknown {
    return {
      gas: Number(outcome.gasUsed),
      failed: outcome.failure !== undefined,
      returnValue: hex(outcome.returnValue),
      structLogs: this.logs,
    }
  }
}

// ------------------------------------------------------------------ call tracer

interface CallFrame {
  type: string
  from: Hex
  to?: Hex
  value?: Hex
  gas: Hex
  gasUsed: Hex
  input: Hex
  output?: Hex
  error?: string
  revertReason?: string
  logs?: Array<{ address: Hex; topics: Hex[]; data: Hex; position: Hex }>
  calls?: CallFrame[]
}

const CALL_OPS = new Set(['CALL', 'CALLCODE', 'DELEGATECALL', 'STATICCALL', 'CREATE', 'CREATE2'])

class CallTracer implements Tracer {
  private readonly config: TraceConfig
  private readonly stack: CallFrame[] = []
  private readonly lastOp = new Map<number, string>()
  private root: CallFrame | undefined

  constructor(config: TraceConfig) {
    this.config = config
  }

  attach(events: TraceEvents): void {
    events.on('step', (step) => {
      const op = step.opcode.name
      if (CALL_OPS.has(op)) this.lastOp.set(step.depth, op)
      else if (this.config.withLog && op.startsWith('LOG')) this.onLog(step)
    })
    events.on('beforeMessage', (message) => this.onEnter(message))
    events.on('afterMessage', (result) => this.onExit(result))
  }

  private onEnter(message: TraceMessage): void {
    const depth = message.depth
    let type: string
    if (depth === 0) type = message.to === undefined ? 'CREATE' : 'CALL'
    else type = this.lastOp.get(depth - 1) ?? (message.to === undefined ? 'CREATE' : 'CALL')
    const frame: CallFrame = {
      type,
      from: address(message.caller.bytes),
      gas: quantity(message.gasLimit),
      gasUsed: '0x0',
      input: hex(message.data),
    }
    if (message.to !== undefined) frame.to = address(message.to.bytes)
    if (type !== 'DELEGATECALL' && type !== 'STATICCALL') frame.value = quantity(message.value)
    this.stack.push(frame)
  }

  private onExit(result: TraceMessageResult): void {
    const frame = this.stack.pop()
    if (frame === undefined) return
    const exec = result.execResult
    frame.gasUsed = quantity(exec.executionGasUsed)
    if (result.createdAddress !== undefined && frame.to === undefined)
      frame.to = address(result.createdAddress.bytes)
    if (exec.returnValue.length > 0) frame.output = hex(exec.returnValue)
    const error = exec.exceptionError?.error
    if (error !== undefined) {
      frame.error = error === 'revert' ? 'execution reverted' : haltMessage(error)
      if (error === 'revert') {
        const reason = decodeRevertReason(exec.returnValue)
        if (reason !== undefined) frame.revertReason = reason
      } else {
        delete frame.output
      }
      clearLogs(frame)
    }
    const parent = this.stack[this.stack.length - 1]
    if (parent === undefined) this.root = frame
    else if (!this.config.onlyTopCall) {
      parent.calls ??= []
      parent.calls.push(frame)
    }
  }

  private onLog(step: TraceStep): void {
    const frame = this.stack[this.stack.length - 1]
    if (frame === undefined) return
    const stack = step.stack
    const n = Number(step.opcode.name.slice(3))
    if (stack.length < 2 + n) return
    const offset = Number(stack[stack.length - 1]!)
    const size = Number(stack[stack.length - 2]!)
    const topics: Hex[] = []
    for (let i = 0; i < n; i++) topics.push(`0x${word(stack[stack.length - 3 - i]!)}` as Hex)
    const data = new Uint8Array(Math.min(size, 1 << 20))
    data.set(step.memory.subarray(offset, offset + data.length))
    frame.logs ??= []
    frame.logs.push({
      address: address(step.address.bytes),
      topics,
      data: hex(data),
      position: quantity(frame.calls?.length ?? 0),
    })
  }

  result(tx: TypedTransaction, outcome: CallOutcome): unknown {
    const root = this.root
    if (root === undefined) throw serverError('call tracer saw no call')
    root.gas = quantity(tx.gasLimit)
    root.gasUsed = quantity(outcome.gasUsed)
    return root
  }
}

function clearLogs(frame: CallFrame): void {
  delete frame.logs
  for (const child of frame.calls ?? []) clearLogs(child)
}

// ------------------------------------------------------------------ runs

function createTracer(config: TraceConfig, limits: TraceLimits): Tracer {
  return config.tracer === 'callTracer'
    ? new CallTracer(config)
    : new StructLogger(config, limits.maxStructLogs)
}

function traceDeadline(config: TraceConfig, limits: TraceLimits): Deadline {
  const ms =
    config.timeoutMs === undefined
      ? limits.timeoutMs
      : Math.min(config.timeoutMs, limits.maxTimeoutMs)
  return deadlineIn(ms)
}

/** Runs `tx` with `tracer` attached and returns what the tracer made of it. */
async function traceTransaction(
  prepared: PreparedVm,
  block: Block,
  tx: TypedTransaction,
  tracer: Tracer,
  isCall: boolean,
): Promise<unknown> {
  const outcome = await runTraced(prepared, block, tx, tracer, isCall)
  return tracer.result(tx, outcome)
}

export interface DebugModuleDeps {
  chain: ChainView
  simulator: CallSimulator
  limits: TraceLimits
}

export function debugModule(deps: DebugModuleDeps): RpcModule {
  const { chain, simulator, limits } = deps
  const ledger = chain.ledger

  /** Traces transactions `indices` of `block` (re-executing the ones before them). */
  const traceInBlock = async (
    block: Block,
    indices: number[],
    config: TraceConfig,
  ): Promise<unknown[]> => {
    const parent = await ledger.getHeader(block.header.parentHash)
    if (parent === undefined) throw serverError('parent block not found')
    const deadline = traceDeadline(config, limits)
    const prepared = await simulator.prepare({
      stateRoot: parent.stateRoot,
      blockHeader: block.header,
      deadline,
    })
    const results: unknown[] = []
    const wanted = new Set(indices)
    const last = Math.max(...indices)
    let gasUsed = 0n
    for (let i = 0; i <= last; i++) {
      const tx = block.transactions[i]!
      if (wanted.has(i)) {
        results.push(
          await traceTransaction(prepared, block, tx, createTracer(config, limits), false),
        )
        continue
      }
      gasUsed += await replayTransaction(prepared, block, i, gasUsed)
    }
    return results
  }

  const traceBlock = async (id: BlockId, config: TraceConfig) => {
    const block = await chain.block(id)
    if (block === undefined) throw serverError('block not found')
    if (block.transactions.length === 0) return []
    const indices = block.transactions.map((_, i) => i)
    const results = await simulator.withSlot(() => traceInBlock(block, indices, config))
    return results.map((result, i) => ({
      txHash: bytesToHex(block.transactions[i]!.hash()),
      result,
    }))
  }

  const emptyConfig = (): TraceConfig => ({
    onlyTopCall: false,
    withLog: false,
    disableStack: false,
    disableStorage: false,
    enableMemory: false,
    enableReturnData: false,
    limit: 0,
  })

  return {
    namespace: 'debug',
    methods: {
      traceTransaction: defineMethod(
        [p.hash('hash'), withDefault(p.traceConfig('config', false), emptyConfig())],
        async ([hash, config]) => {
          const location = await ledger.getTxLocation(hash)
          if (location === undefined) throw new RpcError(RPC_ERROR.SERVER, 'transaction not found')
          const block = await ledger.getBlock(location.blockHash)
          if (block === undefined) throw serverError('block not found')
          const [result] = await simulator.withSlot(() =>
            traceInBlock(block, [location.index], config),
          )
          return result
        },
      ),
      traceCall: defineMethod(
        [
          p.callRequest('transaction'),
          withDefault(p.blockId('block'), { kind: 'tag', tag: 'latest' } as BlockId),
          withDefault(p.traceConfig('config', true), emptyConfig()),
        ],
        async ([request, id, config]) => {
          const header = await chain.requireHeader(id)
          return simulator.withSlot(async () => {
            const deadline = traceDeadline(config, limits)
            const prepared = await simulator.prepareCall(
              request,
              header,
              { state: config.stateOverrides, block: config.blockOverrides },
              deadline,
              false,
            )
            const tx = simulator.buildTx(request, simulator.callGas(request), prepared)
            if (prepared.senderIsContract === true)
              throw serverError('tracing a call from an address with code is not supported')
            return traceTransaction(
              prepared,
              prepared.block,
              tx,
              createTracer(config, limits),
              true,
            )
          })
        },
      ),
      traceBlockByNumber: defineMethod(
        [p.blockRef('block'), withDefault(p.traceConfig('config', false), emptyConfig())],
        ([ref, config]) => traceBlock(ref, config),
      ),
      traceBlockByHash: defineMethod(
        [p.hash('hash'), withDefault(p.traceConfig('config', false), emptyConfig())],
        ([hash, config]) => traceBlock({ kind: 'hash', hash, requireCanonical: false }, config),
      ),
    },
  }
}
