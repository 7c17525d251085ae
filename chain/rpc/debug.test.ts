/**
 * debug_trace*: the struct logger and callTracer on mined transactions (re-executed on
 * the parent state after the block's earlier transactions) and on calls.
 */
import t from 'tap'
import { type Abi, encodeDeployData, encodeFunctionData, type Hex, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { compileProbe, startRpcNode } from '../../test/support/rpc-node.ts'
import { DEV_ACCOUNTS } from '../cli/devnet-command.ts'

const probe = compileProbe()
const abi = probe.abi as Abi
const alice = privateKeyToAccount(DEV_ACCOUNTS[0].privateKey)
const bob = privateKeyToAccount(DEV_ACCOUNTS[1].privateKey)

interface StructLog {
  pc: number
  op: string
  gas: number
  gasCost: number
  depth: number
  stack?: Hex[]
  memory?: string[]
  storage?: Record<string, string>
}

interface CallFrame {
  type: string
  from: Hex
  to?: Hex
  gas: Hex
  gasUsed: Hex
  input: Hex
  output?: Hex
  value?: Hex
  error?: string
  revertReason?: string
  calls?: CallFrame[]
  logs?: Array<{ address: Hex; topics: Hex[]; data: Hex; position: Hex }>
}

t.test('tracing', async (t) => {
  const n = await startRpcNode({
    manual: true,
    rpc: { maxStructLogs: 5000, apis: ['eth', 'debug'] },
  })
  t.teardown(() => n.stop())
  const chainId = Number(n.genesis.config.chainId)
  const nonces = new Map<string, number>()
  const send = async (account: typeof alice, tx: { to?: Hex; data?: Hex }) => {
    const nonce = nonces.get(account.address) ?? 0
    nonces.set(account.address, nonce + 1)
    const raw = await account.signTransaction({
      chainId,
      type: 'eip1559',
      nonce,
      gas: 1_000_000n,
      maxFeePerGas: 10n ** 10n,
      // Bob tips more, so the block order (by tip, then nonce) is deterministic.
      maxPriorityFeePerGas: account === bob ? 10n ** 9n : 1n,
      ...tx,
    })
    const r = await n.request('eth_sendRawTransaction', [raw])
    if (r.error !== undefined) throw new Error(r.error.message)
    return r.result as Hex
  }
  const ok = async <T>(method: string, params: unknown[]): Promise<T> => {
    const r = await n.request(method, params)
    if (r.error !== undefined) throw new Error(`${method}: ${r.error.message}`)
    return r.result as T
  }
  const deploy = await send(alice, {
    data: encodeDeployData({ abi, bytecode: probe.bytecode, args: [1n] }),
  })
  await n.produce()
  const probeAddress = (await ok<{ contractAddress: Hex }>('eth_getTransactionReceipt', [deploy]))
    .contractAddress
  const store = (v: bigint) =>
    encodeFunctionData({ abi, functionName: 'store', args: [v, '0xabcd'] })
  // Block 2: bob's store runs first, so tracing alice's needs the re-execution of bob's.
  const first = await send(bob, { to: probeAddress, data: store(5n) })
  const nested = await send(alice, {
    to: probeAddress,
    data: encodeFunctionData({ abi, functionName: 'callOther', args: [probeAddress, store(6n)] }),
  })
  const failing = await send(alice, {
    to: probeAddress,
    data: encodeFunctionData({
      abi,
      functionName: 'callOther',
      args: [probeAddress, encodeFunctionData({ abi, functionName: 'fail', args: ['deep'] })],
    }),
  })
  await n.produce()
  const receipts = await ok<Array<{ transactionHash: Hex; gasUsed: Hex; status: Hex }>>(
    'eth_getBlockReceipts',
    ['0x2'],
  )
  t.same(
    receipts.map((r) => r.transactionHash),
    [first, nested, failing],
    'block order',
  )
  t.equal(receipts[2]!.status, '0x0', 'the failing call is mined as reverted')

  t.test('struct logger', async (t) => {
    const trace = await ok<{
      gas: number
      failed: boolean
      returnValue: Hex
      structLogs: StructLog[]
    }>('debug_traceTransaction', [nested])
    t.equal(trace.gas, Number(receipts[1]!.gasUsed), 'gas is the receipt gasUsed')
    t.equal(trace.failed, false)
    t.match(trace.structLogs[0], { pc: 0, op: 'PUSH1', depth: 1, stack: [] })
    t.ok(
      trace.structLogs.some((l) => l.depth === 2),
      'the inner call is traced at depth 2',
    )
    const sstore = trace.structLogs.find((l) => l.op === 'SSTORE' && l.depth === 2)!
    t.equal(
      sstore.storage?.['0'.repeat(64)],
      toHex(6n, { size: 32 }).slice(2),
      'storage shows the written slot',
    )
    const sload = trace.structLogs.find((l) => l.op === 'SLOAD')!
    const loadedKey = BigInt(sload.stack!.at(-1)!).toString(16).padStart(64, '0')
    t.ok(sload.storage?.[loadedKey] !== undefined, 'SLOAD records the slot it read')
    t.notOk(trace.structLogs[0]!.memory, 'memory is off by default')
    const withMemory = await ok<{ structLogs: StructLog[] }>('debug_traceTransaction', [
      first,
      { enableMemory: true, disableStack: true, limit: 20 },
    ])
    t.equal(withMemory.structLogs.length, 20, 'limit')
    t.notOk(withMemory.structLogs[0]!.stack)
    t.ok(withMemory.structLogs.some((l) => (l.memory?.length ?? 0) > 0))
    const failed = await ok<{ failed: boolean; returnValue: Hex }>('debug_traceTransaction', [
      failing,
    ])
    t.equal(failed.failed, true)
    t.match(failed.returnValue, /^0x08c379a0/)
    const tooLong = await n.request('debug_traceCall', [
      {
        to: probeAddress,
        data: encodeFunctionData({ abi, functionName: 'spin', args: [10_000n] }),
      },
    ])
    t.match(tooLong.error, { code: -32005, message: /more than 5000 steps/ })
  })

  t.test('callTracer', async (t) => {
    const trace = await ok<CallFrame>('debug_traceTransaction', [
      nested,
      { tracer: 'callTracer', tracerConfig: { withLog: true } },
    ])
    t.match(trace, {
      type: 'CALL',
      from: alice.address.toLowerCase(),
      to: probeAddress,
      gas: toHex(1_000_000n),
      gasUsed: receipts[1]!.gasUsed,
      value: '0x0',
      calls: [
        {
          type: 'CALL',
          from: probeAddress,
          to: probeAddress,
          input: store(6n),
          logs: [{ address: probeAddress, position: '0x0' }],
        },
      ],
    })
    const reverted = await ok<CallFrame>('debug_traceTransaction', [
      failing,
      { tracer: 'callTracer' },
    ])
    t.match(reverted, {
      error: 'execution reverted',
      revertReason: 'inner call failed',
      calls: [{ error: 'execution reverted', revertReason: 'deep' }],
    })
    const top = await ok<CallFrame>('debug_traceTransaction', [
      nested,
      { tracer: 'callTracer', tracerConfig: { onlyTopCall: true } },
    ])
    t.notOk(top.calls)
    const created = await ok<CallFrame>('debug_traceTransaction', [
      deploy,
      { tracer: 'callTracer' },
    ])
    t.match(created, { type: 'CREATE', to: probeAddress, output: /^0x6080/ })
    const call = await ok<CallFrame>('debug_traceCall', [
      {
        from: bob.address,
        to: probeAddress,
        data: encodeFunctionData({ abi, functionName: 'whoami' }),
      },
      'latest',
      { tracer: 'callTracer' },
    ])
    t.match(call, {
      type: 'CALL',
      from: bob.address.toLowerCase(),
      output: `0x${bob.address.slice(2).toLowerCase().padStart(64, '0')}`,
    })
    const staticInner = await ok<CallFrame>('debug_traceCall', [
      {
        to: probeAddress,
        data: encodeFunctionData({
          abi,
          functionName: 'callOther',
          args: ['0x0000000000000000000000000000000000000002', '0x01'],
        }),
      },
      'latest',
      { tracer: 'callTracer' },
    ])
    t.match(
      staticInner.calls?.[0],
      { type: 'CALL', to: '0x0000000000000000000000000000000000000002' },
      'precompile calls appear',
    )
    const overridden = await ok<CallFrame>('debug_traceCall', [
      { to: probeAddress, data: encodeFunctionData({ abi, functionName: 'value' }) },
      'latest',
      {
        tracer: 'callTracer',
        stateOverrides: {
          [probeAddress]: { stateDiff: { [`0x${'00'.repeat(32)}`]: toHex(77n, { size: 32 }) } },
        },
      },
    ])
    t.equal(BigInt(overridden.output!), 77n, 'state overrides in debug_traceCall')
  })

  t.test('blocks and errors', async (t) => {
    const block = await ok<Array<{ txHash: Hex; result: CallFrame }>>('debug_traceBlockByNumber', [
      '0x2',
      { tracer: 'callTracer' },
    ])
    t.same(
      block.map((b) => b.txHash),
      [first, nested, failing],
    )
    t.same(
      block.map((b) => b.result.gasUsed),
      receipts.map((r) => r.gasUsed),
      'each gasUsed matches its receipt',
    )
    const byHash = await ok<unknown[]>('debug_traceBlockByHash', [
      (await ok<{ hash: Hex }>('eth_getBlockByNumber', ['0x2', false])).hash,
      { tracer: 'callTracer' },
    ])
    t.equal(byHash.length, 3)
    t.same(await ok('debug_traceBlockByNumber', ['0x0', {}]), [])
    t.same((await n.request('debug_traceTransaction', [`0x${'12'.repeat(32)}`])).error, {
      code: -32000,
      message: 'transaction not found',
    })
    t.match(
      (await n.request('debug_traceTransaction', [first, { tracer: 'prestateTracer' }])).error,
      { code: -32602, message: /unsupported tracer/ },
    )
    t.match((await n.request('debug_traceTransaction', [first, { timeout: 'soon' }])).error, {
      code: -32602,
      message: /invalid duration/,
    })
  })
})
