/**
 * Property-based fuzzing of the RPC handler (fast-check, fixed seed, bounded runs): random
 * JSON documents, random text, and every registered method with random parameters built
 * from the shapes the methods expect (hex of random lengths, addresses, tags, call objects,
 * filters, overrides...). Properties: the handler never throws, always answers with a
 * JSON-RPC envelope carrying the request id, and never changes the chain (head, state root)
 * or the pool.
 */
import fc from 'fast-check'
import t from 'tap'
import { type Abi, encodeDeployData, encodeFunctionData, type Hex, toFunctionSelector } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { compileProbe, startRpcNode } from '../../test/support/rpc-node.ts'
import { DEV_ACCOUNTS } from '../cli/devnet-command.ts'

const probe = compileProbe()
const abi = probe.abi as Abi
const alice = privateKeyToAccount(DEV_ACCOUNTS[0].privateKey)

t.test('fuzzing the handler changes nothing and always answers', async (t) => {
  const n = await startRpcNode({
    manual: true,
    rpc: {
      callTimeoutMs: 200,
      traceTimeoutMs: 300,
      maxStructLogs: 20_000,
      apis: ['eth', 'net', 'web3', 'txpool', 'debug', 'qbft'],
    },
  })
  t.teardown(() => n.stop())
  const chainId = Number(n.genesis.config.chainId)
  // Some real data to aim at: a contract with storage and a log, two blocks.
  const deploy = await alice.signTransaction({
    chainId,
    type: 'eip1559',
    nonce: 0,
    gas: 1_000_000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 1n,
    data: encodeDeployData({ abi, bytecode: probe.bytecode, args: [3n] }),
  })
  const deployHash = (await n.request('eth_sendRawTransaction', [deploy])).result as Hex
  await n.produce()
  const probeAddress = (
    (await n.request('eth_getTransactionReceipt', [deployHash])).result as { contractAddress: Hex }
  ).contractAddress
  const store = await alice.signTransaction({
    chainId,
    type: 'eip1559',
    nonce: 1,
    gas: 200_000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 1n,
    to: probeAddress,
    data: encodeFunctionData({ abi, functionName: 'store', args: [9n, '0x01'] }),
  })
  const storeHash = (await n.request('eth_sendRawTransaction', [store])).result as Hex
  await n.produce()
  const blockHash = (
    (await n.request('eth_getBlockByNumber', ['latest', false])).result as { hash: Hex }
  ).hash

  const rpc = n.node.rpc!
  const ledger = n.node.ledger
  const txpool = n.node.txpool
  const before = {
    head: ledger.head.hash(),
    stateRoot: ledger.head.stateRoot,
    poolSize: txpool.size,
    slot0: (await n.request('eth_getStorageAt', [probeAddress, '0x0'])).result,
    balance: (await n.request('eth_getBalance', [alice.address])).result,
  }
  // Methods that execute code or scan blocks get more of the runs.
  const heavy = [
    'eth_call',
    'eth_estimateGas',
    'debug_traceCall',
    'debug_traceTransaction',
    'eth_getLogs',
    'eth_sendRawTransaction',
    'eth_feeHistory',
  ]
  const methods = [...rpc.handler.methodNames(), ...heavy, ...heavy, ...heavy]

  // ---- arbitraries
  const hexDigits = fc.constantFrom(...'0123456789abcdefABCDEF')
  const hexOf = (min: number, max: number) =>
    fc.string({ unit: hexDigits, minLength: min, maxLength: max }).map((s) => `0x${s}`)
  const bytesHex = (max: number) =>
    fc.uint8Array({ maxLength: max }).map((b) => `0x${Buffer.from(b).toString('hex')}`)
  const selectors = abi
    .filter((item) => item.type === 'function')
    .map((item) => toFunctionSelector(item as never))
  const calldata = fc.oneof(
    bytesHex(100),
    fc
      .tuple(fc.constantFrom(...selectors), bytesHex(96))
      .map(([s, rest]) => `${s}${rest.slice(2)}`),
  )
  const validAddress = fc.oneof(
    fc.constantFrom(
      probeAddress,
      alice.address,
      DEV_ACCOUNTS[1].address,
      '0x0000000000000000000000000000000000000000',
    ),
    fc
      .uint8Array({ minLength: 20, maxLength: 20 })
      .map((b) => `0x${Buffer.from(b).toString('hex')}`),
  )
  const address = fc.oneof(
    { weight: 5, arbitrary: validAddress },
    { weight: 1, arbitrary: hexOf(0, 44) },
  )
  const hexQuantity = (max: bigint) => fc.bigInt({ min: 0n, max }).map((v) => `0x${v.toString(16)}`)
  const quantity = fc.oneof(
    { weight: 3, arbitrary: hexQuantity((1n << 70n) - 1n) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 10 }).map((v) => `0x${v.toString(16)}`) },
    { weight: 1, arbitrary: hexOf(0, 70) },
    { weight: 1, arbitrary: fc.integer() },
  )
  const tag = fc.constantFrom(
    'latest',
    'pending',
    'earliest',
    'safe',
    'finalized',
    'newest',
    '0x0',
    '0x1',
    '0x2',
    '0x99',
    '0x01',
  )
  const blockId = fc.oneof(
    tag,
    fc.constant(blockHash),
    fc.record(
      { blockHash: fc.oneof(fc.constant(blockHash), hexOf(0, 66)), requireCanonical: fc.boolean() },
      { requiredKeys: [] },
    ),
    fc.record({ blockNumber: tag }, { requiredKeys: [] }),
  )
  const hash = fc.oneof(fc.constantFrom(deployHash, storeHash, blockHash), hexOf(60, 68))
  const validCall = fc.record(
    {
      from: validAddress,
      to: fc.oneof(
        { weight: 4, arbitrary: fc.constant(probeAddress) },
        { weight: 1, arbitrary: validAddress },
        { weight: 1, arbitrary: fc.constant(null) },
      ),
      gas: hexQuantity(3_000_000n),
      maxFeePerGas: hexQuantity(10n ** 11n),
      value: hexQuantity(10n ** 18n),
      input: calldata,
      nonce: hexQuantity(10n),
      accessList: fc.array(
        fc.record({
          address: validAddress,
          storageKeys: fc.array(hexOf(64, 64), { maxLength: 2 }),
        }),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: ['to', 'input'] },
  )
  const anyCall = fc.record(
    {
      from: address,
      to: fc.oneof(address, fc.constant(null)),
      gas: quantity,
      gasPrice: quantity,
      maxFeePerGas: quantity,
      maxPriorityFeePerGas: quantity,
      value: quantity,
      data: calldata,
      input: calldata,
      nonce: quantity,
      chainId: fc.constantFrom('0x539', '0x1', 'x'),
      accessList: fc.array(
        fc.record({ address, storageKeys: fc.array(hexOf(0, 64), { maxLength: 2 }) }),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  )
  const callObject = fc.oneof(
    { weight: 3, arbitrary: validCall },
    { weight: 1, arbitrary: anyCall },
  )
  const topics = fc.array(
    fc.oneof(
      fc.constant(null),
      hexOf(60, 66),
      fc.array(fc.oneof(hexOf(64, 64), fc.constant(null)), { maxLength: 3 }),
    ),
    { maxLength: 5 },
  )
  const filter = fc.oneof(
    fc.record(
      {
        fromBlock: tag,
        toBlock: tag,
        address: fc.oneof(address, fc.array(address, { maxLength: 3 })),
        topics,
      },
      { requiredKeys: [] },
    ),
    fc.record({ blockHash: hash, address, topics }, { requiredKeys: ['blockHash'] }),
    fc.record({ fromBlock: tag, blockHash: hash }, { requiredKeys: [] }),
  )
  const overrides = fc.dictionary(
    address,
    fc.record(
      {
        balance: quantity,
        nonce: quantity,
        code: bytesHex(40),
        stateDiff: fc.dictionary(hexOf(64, 64), hexOf(64, 64), { maxKeys: 2 }),
      },
      { requiredKeys: [] },
    ),
    { maxKeys: 2 },
  )
  const traceConfig = fc.record(
    {
      tracer: fc.constantFrom('callTracer', '', 'prestateTracer', 7),
      tracerConfig: fc.record(
        { onlyTopCall: fc.boolean(), withLog: fc.boolean() },
        { requiredKeys: [] },
      ),
      disableStack: fc.boolean(),
      enableMemory: fc.boolean(),
      limit: fc.integer({ min: 0, max: 50 }),
      timeout: fc.constantFrom('100ms', '1s', 'x'),
    },
    { requiredKeys: [] },
  )
  const anyParam = fc.oneof(
    { weight: 3, arbitrary: fc.oneof(address, quantity, tag, hash, calldata, blockId) },
    { weight: 2, arbitrary: fc.oneof(callObject, filter, overrides, traceConfig) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(true, false, null, 'newHeads', 'logs', [10, 50], [-1], '0xabc'),
    },
  )
  // Per parameter name, values of the expected shape (mostly valid), else anything.
  const byName: Record<string, fc.Arbitrary<unknown>> = {
    address,
    block: blockId,
    newestBlock: tag,
    slot: fc.oneof(quantity, hexOf(0, 66)),
    storageKeys: fc.array(fc.oneof(quantity, hexOf(0, 66)), { maxLength: 3 }),
    transaction: callObject,
    'eth_sendRawTransaction:transaction': bytesHex(120),
    stateOverrides: overrides,
    blockOverrides: fc.record(
      { number: quantity, time: quantity, baseFeePerGas: quantity },
      { requiredKeys: [] },
    ),
    hash,
    fullTransactions: fc.boolean(),
    index: quantity,
    blockCount: fc.oneof(quantity, fc.integer({ min: 0, max: 2000 })),
    rewardPercentiles: fc.array(fc.integer({ min: -5, max: 105 }), { maxLength: 4 }),
    filter,
    filterId: fc.oneof(hexOf(32, 32), fc.string({ maxLength: 70 })),
    subscriptionId: hexOf(32, 32),
    subscription: fc.constantFrom('newHeads', 'logs', 'newPendingTransactions', 'x'),
    options: fc.oneof(filter, fc.boolean()),
    config: traceConfig,
    data: calldata,
  }
  const paramsFor = (method: string) => {
    const params = rpc.handler.describeParams(method) ?? []
    const names = params.map((param) => param.name)
    const required = params.filter((param) => !param.optional).length
    return fc
      .tuple(
        fc.tuple(
          ...names.map((name) =>
            fc.oneof(
              { weight: 8, arbitrary: byName[`${method}:${name}`] ?? byName[name] ?? anyParam },
              { weight: 1, arbitrary: anyParam },
            ),
          ),
        ),
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(required) },
          { weight: 2, arbitrary: fc.constant(names.length) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: names.length + 1 }) },
        ),
      )
      .map(([values, keep]) => (values as unknown[]).slice(0, keep))
  }
  const id = fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null))
  const request = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .constantFrom(...methods)
        .chain((method) =>
          fc.record({ id, method: fc.constant(method), params: paramsFor(method) }),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        id,
        method: fc.oneof(fc.constantFrom(...methods), fc.string({ maxLength: 20 })),
        params: fc.array(anyParam, { maxLength: 4 }),
      }),
    },
  )

  const ctx = { transport: 'internal' as const }
  const isEnvelope = (
    r: unknown,
  ): r is {
    jsonrpc: string
    id: unknown
    result?: unknown
    error?: { code: number; message: string }
  } => {
    if (r === null || typeof r !== 'object') return false
    const o = r as Record<string, unknown>
    if (o.jsonrpc !== '2.0' || !('id' in o)) return false
    if ('error' in o) {
      const e = o.error as Record<string, unknown>
      return Number.isInteger(e.code) && typeof e.message === 'string' && !('result' in o)
    }
    return 'result' in o
  }

  let errors = 0
  let results = 0
  await fc.assert(
    fc.asyncProperty(request, async (req) => {
      const text = await rpc.handler.handleText(JSON.stringify({ jsonrpc: '2.0', ...req }), ctx)
      const response = JSON.parse(text!)
      if (!isEnvelope(response)) return false
      if (response.error !== undefined) {
        errors++
        // -32603 means a handler threw something unexpected: a bug, not bad input.
        if (response.error.code === -32603) return false
      } else results++
      return response.id === req.id
    }),
    { seed: 20_260_522, numRuns: 1500 },
  )
  t.ok(
    results > 150 && errors > 150,
    `both outcomes exercised (${results} results, ${errors} errors)`,
  )

  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.array(request, { maxLength: 4 })),
      async (value) => {
        const text = await rpc.handler.handleText(JSON.stringify(value), ctx)
        if (text === undefined)
          return (
            Array.isArray(value) &&
            value.length > 0 &&
            value.every((v) => typeof v === 'object' && v !== null && !('id' in v))
          )
        const response = JSON.parse(text)
        if (Array.isArray(response)) return response.every(isEnvelope)
        return isEnvelope(response)
      },
    ),
    { seed: 7, numRuns: 300 },
  )

  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 60 }), async (garbage) => {
      const text = await rpc.handler.handleText(garbage, ctx)
      return text === undefined || isEnvelope(JSON.parse(text)) || Array.isArray(JSON.parse(text))
    }),
    { seed: 11, numRuns: 200 },
  )

  t.same(ledger.head.hash(), before.head, 'head unchanged')
  t.same(ledger.head.stateRoot, before.stateRoot, 'state root unchanged')
  t.equal(txpool.size, before.poolSize, 'pool unchanged')
  t.equal(
    (await n.request('eth_getStorageAt', [probeAddress, '0x0'])).result,
    before.slot0,
    'contract storage unchanged',
  )
  t.equal(
    (await n.request('eth_getBalance', [alice.address])).result,
    before.balance,
    'balances unchanged',
  )
  t.equal((await n.request('eth_blockNumber')).result, '0x2', 'still serving')
})
