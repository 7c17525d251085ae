/**
 * eth_ namespace against a real node (LevelDB in a temp folder, blocks sealed when the
 * test moves the clock): pending and mined transactions, blocks, receipts, logs, calls
 * with overrides and reverts, gas estimation, fees, state at past blocks, limits.
 */
import t from 'tap'
import {
  type Abi,
  decodeFunctionResult,
  encodeDeployData,
  encodeFunctionData,
  type Hex,
  keccak256,
  toHex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { compileProbe, DEV_BALANCE, startRpcNode } from '../../test/support/rpc-node.ts'
import { DEV_ACCOUNTS } from '../cli/devnet-command.ts'

const probe = compileProbe()
const abi = probe.abi as Abi
const alice = privateKeyToAccount(DEV_ACCOUNTS[0].privateKey)
const bob = privateKeyToAccount(DEV_ACCOUNTS[1].privateKey)

t.test('eth namespace on a live node', async (t) => {
  const n = await startRpcNode({
    manual: true,
    rpc: {
      getLogsMaxBlockRange: 50,
      getLogsMaxResults: 3,
      // Long enough that a loaded CI machine still answers other requests within one spin.
      callTimeoutMs: 1_000,
      maxConcurrentExecutions: 1,
      maxQueuedExecutions: 1,
    },
  })
  t.teardown(() => n.stop())
  const chainId = Number(n.genesis.config.chainId)

  const ok = async <T = never>(method: string, params: unknown[] = []): Promise<T> => {
    const r = await n.request(method, params)
    if (r.error !== undefined) throw new Error(`${method}: ${r.error.code} ${r.error.message}`)
    return r.result as T
  }
  const fail = async (method: string, params: unknown[]) => {
    const r = await n.request(method, params)
    if (r.error === undefined) throw new Error(`${method} succeeded: ${JSON.stringify(r.result)}`)
    return r.error
  }
  const nonces = new Map<string, number>()
  const send = async (
    account = alice,
    tx: { to?: Hex; data?: Hex; value?: bigint; gas?: bigint } = {},
  ) => {
    const nonce = nonces.get(account.address) ?? 0
    nonces.set(account.address, nonce + 1)
    const raw = await account.signTransaction({
      chainId,
      type: 'eip1559',
      nonce,
      gas: tx.gas ?? 500_000n,
      maxFeePerGas: 10n ** 10n,
      // Bob tips less, so blocks order alice's transaction first (the pool orders by tip).
      maxPriorityFeePerGas: account === bob ? 5n * 10n ** 7n : 10n ** 8n,
      to: tx.to,
      data: tx.data,
      value: tx.value ?? 0n,
    })
    return (await ok('eth_sendRawTransaction', [raw])) as Hex
  }

  t.equal(await ok('eth_chainId'), toHex(chainId))
  t.equal(await ok('eth_blockNumber'), '0x0')
  t.equal(await ok('eth_syncing'), false)
  t.same(await ok('eth_accounts'), [])
  t.equal(await ok('net_version'), String(chainId))
  t.equal(await ok('net_peerCount'), '0x0')
  t.equal(await ok('net_listening'), true)
  t.match(await ok('web3_clientVersion'), /^sidechain\/v/)
  t.equal(await ok('web3_sha3', ['0x68656c6c6f']), keccak256('0x68656c6c6f'))
  t.equal(await ok('eth_getBalance', [alice.address, 'latest']), toHex(DEV_BALANCE))

  // ---- deploy: pending view, then mined view
  const deployHash = await send(alice, {
    data: encodeDeployData({ abi, bytecode: probe.bytecode, args: [7n] }),
    gas: 1_000_000n,
  })
  const pending = await ok('eth_getTransactionByHash', [deployHash])
  t.match(pending, {
    hash: deployHash,
    blockHash: null,
    blockNumber: null,
    transactionIndex: null,
    to: null,
    from: alice.address.toLowerCase(),
    nonce: '0x0',
    type: '0x2',
  })
  t.equal(
    await ok('eth_getTransactionCount', [alice.address, 'pending']),
    '0x1',
    'pending nonce counts the pool',
  )
  t.equal(await ok('eth_getTransactionCount', [alice.address, 'latest']), '0x0')
  t.same(await ok('txpool_status'), { pending: '0x1', queued: '0x0' })
  const content =
    await ok<Record<string, Record<string, Record<string, unknown>>>>('txpool_content')
  t.match(content.pending[alice.address]!['0']!, { hash: deployHash })
  t.equal(await ok('eth_getTransactionReceipt', [deployHash]), null, 'no receipt while pending')

  await n.produce()
  t.same(await ok('txpool_status'), { pending: '0x0', queued: '0x0' })
  const deployReceipt = await ok<Record<string, unknown>>('eth_getTransactionReceipt', [deployHash])
  t.match(deployReceipt, {
    status: '0x1',
    blockNumber: '0x1',
    transactionIndex: '0x0',
    to: null,
    type: '0x2',
    logs: [],
  })
  const probeAddress = deployReceipt.contractAddress as Hex
  t.match(probeAddress, /^0x[0-9a-f]{40}$/)
  const mined = await ok<Record<string, unknown>>('eth_getTransactionByHash', [deployHash])
  t.equal(mined.blockHash, deployReceipt.blockHash)
  const baseFee1 = BigInt(
    (await ok<Record<string, Hex>>('eth_getBlockByNumber', ['0x1', false])).baseFeePerGas!,
  )
  t.equal(
    BigInt(mined.gasPrice as Hex),
    baseFee1 + 10n ** 8n,
    'gasPrice of a mined 1559 tx is the effective price',
  )
  t.equal(deployReceipt.effectiveGasPrice, mined.gasPrice)

  // ---- store(): logs
  const storeData = (v: bigint, note: Hex) =>
    encodeFunctionData({ abi, functionName: 'store', args: [v, note] })
  const storeHash = await send(alice, { to: probeAddress, data: storeData(42n, '0xbeef') })
  await send(bob, { to: probeAddress, data: storeData(43n, '0x') })
  await n.produce()
  const storeReceipt = await ok<{ logs: Array<Record<string, unknown>>; blockHash: Hex }>(
    'eth_getTransactionReceipt',
    [storeHash],
  )
  t.equal(storeReceipt.logs.length, 1)
  const topic0 = keccak256(toHex('Stored(address,uint256,bytes)'))
  t.match(storeReceipt.logs[0], {
    address: probeAddress,
    topics: [
      topic0,
      `0x${alice.address.slice(2).toLowerCase().padStart(64, '0')}`,
      toHex(42n, { size: 32 }),
    ],
    blockNumber: '0x2',
    logIndex: '0x0',
    transactionIndex: '0x0',
    removed: false,
  })

  t.test('blocks and block-indexed lookups', async (t) => {
    const block = await ok<Record<string, unknown>>('eth_getBlockByNumber', ['0x2', true])
    const txs = block.transactions as Array<Record<string, unknown>>
    t.equal(txs.length, 2)
    t.equal(txs[0]!.hash, storeHash)
    t.match(block, {
      number: '0x2',
      difficulty: '0x1',
      uncles: [],
      withdrawals: [],
      sha3Uncles: /^0x/,
      size: /^0x[1-9a-f]/,
    })
    t.notOk('totalDifficulty' in block, 'no totalDifficulty (removed from the spec with the merge)')
    const byHash = await ok<Record<string, unknown>>('eth_getBlockByHash', [block.hash, false])
    t.same(
      byHash.transactions,
      txs.map((tx) => tx.hash),
    )
    t.equal(await ok('eth_getBlockTransactionCountByNumber', ['0x2']), '0x2')
    t.equal(await ok('eth_getBlockTransactionCountByHash', [block.hash]), '0x2')
    t.equal(await ok('eth_getBlockTransactionCountByNumber', ['0x99']), null)
    t.match(await ok('eth_getTransactionByBlockNumberAndIndex', ['0x2', '0x1']), {
      from: bob.address.toLowerCase(),
      transactionIndex: '0x1',
    })
    t.match(await ok('eth_getTransactionByBlockHashAndIndex', [block.hash, '0x0']), {
      hash: storeHash,
    })
    t.equal(await ok('eth_getTransactionByBlockNumberAndIndex', ['0x2', '0x5']), null)
    t.equal(await ok('eth_getUncleCountByBlockNumber', ['0x2']), '0x0')
    const receipts = await ok<Array<Record<string, unknown>>>('eth_getBlockReceipts', ['0x2'])
    t.equal(receipts.length, 2)
    t.match(
      receipts[1],
      { transactionIndex: '0x1', logs: [{ logIndex: '0x1' }] },
      'log index counts across the block',
    )
    t.same(await ok('eth_getBlockReceipts', [{ blockHash: block.hash }]), receipts)
    t.equal(await ok('eth_getBlockByNumber', ['0x10', false]), null)
    for (const tag of ['latest', 'pending', 'safe', 'finalized']) {
      t.equal(
        (await ok<Record<string, unknown>>('eth_getBlockByNumber', [tag, false])).number,
        '0x2',
        tag,
      )
    }
    t.equal(
      (await ok<Record<string, unknown>>('eth_getBlockByNumber', ['earliest', false])).number,
      '0x0',
    )
  })

  t.test('logs: criteria, ranges and limits', async (t) => {
    const all = await ok<unknown[]>('eth_getLogs', [
      { fromBlock: '0x0', toBlock: 'latest', address: probeAddress },
    ])
    t.equal(all.length, 2)
    const byAlice = await ok<unknown[]>('eth_getLogs', [
      {
        fromBlock: '0x0',
        topics: [topic0, `0x${alice.address.slice(2).toLowerCase().padStart(64, '0')}`],
      },
    ])
    t.equal(byAlice.length, 1)
    const eitherValue = await ok<unknown[]>('eth_getLogs', [
      {
        fromBlock: 'earliest',
        topics: [null, null, [toHex(43n, { size: 32 }), toHex(42n, { size: 32 })]],
      },
    ])
    t.equal(eitherValue.length, 2)
    t.equal((await ok<unknown[]>('eth_getLogs', [{ blockHash: storeReceipt.blockHash }])).length, 2)
    t.same(await ok('eth_getLogs', [{ fromBlock: '0x0', address: bob.address }]), [])
    const future = await fail('eth_getLogs', [{ fromBlock: '0x100', toBlock: '0x101' }])
    t.equal(future.code, -32602, 'a range past the head is refused (geth, execution-apis#875)')
    t.match(future.message, /invalid block range params/)
    const reversed = await fail('eth_getLogs', [{ fromBlock: '0x2', toBlock: '0x1' }])
    t.equal(reversed.code, -32602)
    t.match(reversed.message, /fromBlock \(2\) is after toBlock \(1\)/)
    const wide = await fail('eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x100' }])
    t.equal(wide.code, -32005)
    t.match(wide.message, /257 blocks exceeds the limit of 50/)
    const both = await fail('eth_getLogs', [
      { blockHash: storeReceipt.blockHash, fromBlock: '0x1' },
    ])
    t.equal(both.code, -32602)
    // Two more logs: four in total, above the result cap of three.
    await send(alice, { to: probeAddress, data: storeData(1n, '0x') })
    await send(bob, { to: probeAddress, data: storeData(2n, '0x') })
    await n.produce()
    const many = await fail('eth_getLogs', [{ fromBlock: '0x0', address: probeAddress }])
    t.equal(many.code, -32005)
    t.match(many.message, /more than 3 results/)
  })

  t.test('state reads at blocks (tags, numbers, EIP-1898)', async (t) => {
    const slot0 = (block: unknown) => ok<Hex>('eth_getStorageAt', [probeAddress, '0x0', block])
    t.equal(await slot0('0x1'), toHex(7n, { size: 32 }), 'constructor value at block 1')
    t.equal(await slot0({ blockNumber: '0x2' }), toHex(43n, { size: 32 }))
    const b1 = await ok<Record<string, Hex>>('eth_getBlockByNumber', ['0x1', false])
    t.equal(await slot0({ blockHash: b1.hash, requireCanonical: true }), toHex(7n, { size: 32 }))
    t.equal(await slot0(b1.hash), toHex(7n, { size: 32 }), 'a bare block hash works too')
    t.equal(await ok('eth_getCode', [probeAddress, '0x0']), '0x', 'no code at genesis')
    t.match(await ok('eth_getCode', [probeAddress, 'latest']), /^0x6080/)
    const missing = await fail('eth_getBalance', [alice.address, '0x99'])
    t.same(missing, { code: -32000, message: 'header not found' })
    const unknownHash = await fail('eth_getBalance', [
      alice.address,
      { blockHash: `0x${'11'.repeat(32)}` },
    ])
    t.equal(unknownHash.code, -32000)
    t.equal(await ok('eth_getTransactionCount', [bob.address, '0x1']), '0x0')
    t.equal(await ok('eth_getTransactionCount', [bob.address, 'latest']), '0x2')
    const info = await ok<Record<string, Hex>>('eth_getAccountInfo', [probeAddress, 'latest'])
    t.equal(info.nonce, '0x1', 'contract nonce starts at 1')
    t.equal(info.code, await ok('eth_getCode', [probeAddress, 'latest']))
    t.same(await ok('eth_getAccountInfo', [probeAddress, '0x0']), {
      balance: '0x0',
      nonce: '0x0',
      code: '0x',
    })
    const acct = await ok<Record<string, Hex>>('eth_getAccount', [alice.address, '0x1'])
    t.match(acct, {
      nonce: '0x1',
      balance: /^0x/,
      codeHash: keccak256('0x'),
      storageRoot: /^0x56e81f/,
    })
    const proof = await ok<Record<string, unknown>>('eth_getProof', [
      probeAddress,
      ['0x0'],
      'latest',
    ])
    t.match(proof, { address: probeAddress, accountProof: Array, storageProof: [{ value: /^0x/ }] })
  })

  t.test('eth_call: results, overrides, reverts, limits', async (t) => {
    const call = (data: Hex, extra: Record<string, unknown> = {}, ...rest: unknown[]) =>
      n.request('eth_call', [{ to: probeAddress, data, ...extra }, ...rest])
    const value = encodeFunctionData({ abi, functionName: 'value' })
    t.equal(BigInt((await call(value)).result as Hex), 2n)
    t.equal(BigInt((await call(value, {}, '0x1')).result as Hex), 7n, 'at an older block')
    const who = await call(encodeFunctionData({ abi, functionName: 'whoami' }), {
      from: bob.address,
    })
    t.equal(
      decodeFunctionResult({ abi, functionName: 'whoami', data: who.result as Hex }),
      bob.address,
    )
    const overridden = await call(value, {}, 'latest', {
      [probeAddress]: { stateDiff: { [`0x${'00'.repeat(32)}`]: toHex(99n, { size: 32 }) } },
    })
    t.equal(BigInt(overridden.result as Hex), 99n, 'stateDiff override')
    const codeOverride = await n.request('eth_call', [
      { to: bob.address, data: value },
      'latest',
      { [bob.address]: { code: (await ok('eth_getCode', [probeAddress, 'latest'])) as Hex } },
    ])
    t.equal(codeOverride.result, toHex(0n, { size: 32 }), 'code override runs with empty storage')
    // A call that writes does not change the chain.
    const before = await ok('eth_getStorageAt', [probeAddress, '0x0'])
    t.notOk((await call(storeData(1234n, '0x'), { from: alice.address })).error)
    t.equal(await ok('eth_getStorageAt', [probeAddress, '0x0']), before)

    const reverted = await call(encodeFunctionData({ abi, functionName: 'fail', args: ['nope'] }))
    t.equal(reverted.error?.code, 3)
    t.equal(reverted.error?.message, 'execution reverted: nope')
    t.match(reverted.error?.data, /^0x08c379a0/)
    const custom = await call(encodeFunctionData({ abi, functionName: 'failCustom', args: [5n] }))
    t.equal(custom.error?.message, 'execution reverted')
    t.equal(String(custom.error?.data).length, 2 + 8 + 64)
    const panic = await call(encodeFunctionData({ abi, functionName: 'divide', args: [1n, 0n] }))
    t.same(panic.error?.message, 'execution reverted: division or modulo by zero')
    const oog = await call(storeData(5n, '0x'), { from: alice.address, gas: '0x7530' })
    t.same(oog.error, { code: -32000, message: 'out of gas' })
    const spin = encodeFunctionData({ abi, functionName: 'spin', args: [10n ** 9n] })
    const slow = await call(spin)
    t.same(slow.error, { code: -32000, message: 'execution aborted (timeout = 1s)' })
    // A long call yields the event loop: other requests (and block production) go on.
    let spinDone = false
    const spinning = call(spin).finally(() => {
      spinDone = true
    })
    t.equal((await n.request('eth_chainId')).result, toHex(chainId))
    t.notOk(spinDone, 'answered while the long call was still running')
    await spinning
    // One execution at a time, one waiting: a third concurrent one is refused.
    const three = await Promise.all([call(spin), call(spin), call(spin)])
    t.same(
      three.map((r) => r.error?.code).sort(),
      [-32000, -32000, -32005],
      'execution slots and queue are bounded',
    )
    const poor = await call(value, { from: `0x${'12'.repeat(20)}`, value: '0x1' })
    t.equal(poor.error?.code, -32000)
    t.match(poor.error?.message, /insufficient funds/)
    const fromContract = await call(encodeFunctionData({ abi, functionName: 'whoami' }), {
      from: probeAddress,
    })
    t.equal(
      (
        decodeFunctionResult({
          abi,
          functionName: 'whoami',
          data: fromContract.result as Hex,
        }) as string
      ).toLowerCase(),
      probeAddress,
      'calls from a contract address work',
    )
    const blockOverride = await n.request('eth_call', [
      { data: '0x4360005260206000f3' /* NUMBER; return it */ },
      'latest',
      null,
      { number: '0x1234' },
    ])
    t.equal(
      BigInt(blockOverride.result as Hex),
      0x1234n,
      'block override (init code returns NUMBER)',
    )
    t.equal(await ok('eth_blockNumber'), '0x3', 'still serving after failures')
  })

  t.test('eth_estimateGas: minimal gas, reverts', async (t) => {
    const data = storeData(77n, '0x0102')
    const estimate = BigInt(
      await ok<Hex>('eth_estimateGas', [{ from: alice.address, to: probeAddress, data }]),
    )
    t.ok(estimate > 21_000n && estimate < 200_000n, `estimate ${estimate}`)
    const at = (gas: bigint) =>
      n.request('eth_call', [{ from: alice.address, to: probeAddress, data, gas: toHex(gas) }])
    t.notOk((await at(estimate)).error, 'succeeds with the estimate')
    t.ok((await at(estimate - 1n)).error, 'fails with one gas less')
    t.equal(
      await ok('eth_estimateGas', [{ from: alice.address, to: bob.address, value: '0x1' }]),
      '0x5208',
    )
    const reverted = await fail('eth_estimateGas', [
      {
        from: alice.address,
        to: probeAddress,
        data: encodeFunctionData({ abi, functionName: 'fail', args: ['why'] }),
      },
    ])
    t.equal(reverted.code, 3)
    t.equal(reverted.message, 'execution reverted: why')
    const broke = await fail('eth_estimateGas', [
      { from: `0x${'12'.repeat(20)}`, to: bob.address, value: '0x1', maxFeePerGas: '0x1' },
    ])
    t.match(broke.message, /insufficient funds/)
  })

  t.test('fees', async (t) => {
    const head = await ok<Record<string, Hex>>('eth_getBlockByNumber', ['latest', false])
    const tip = BigInt(await ok<Hex>('eth_maxPriorityFeePerGas'))
    t.ok(tip > 0n, 'non-zero tip suggestion')
    t.equal(tip, 10n ** 8n, 'the tips actually paid in recent blocks')
    const gasPrice = BigInt(await ok<Hex>('eth_gasPrice'))
    t.ok(gasPrice >= BigInt(head.baseFeePerGas!) && gasPrice === BigInt(head.baseFeePerGas!) + tip)
    const history = await ok<Record<string, unknown>>('eth_feeHistory', ['0x3', 'latest', [10, 90]])
    t.equal(history.oldestBlock, '0x1')
    t.equal((history.baseFeePerGas as unknown[]).length, 4)
    t.equal((history.gasUsedRatio as unknown[]).length, 3)
    // Blocks 2 and 3: bob (0.05 gwei tip) and alice (0.1 gwei), weighted by gas used.
    t.same(history.reward, [
      ['0x5f5e100', '0x5f5e100'],
      ['0x2faf080', '0x5f5e100'],
      ['0x2faf080', '0x5f5e100'],
    ])
    t.equal(
      (await ok<Record<string, unknown>>('eth_feeHistory', [3, '0x1', []])).oldestBlock,
      '0x0',
      'decimal count, clipped at genesis',
    )
    t.equal((await fail('eth_feeHistory', ['0x1', '0x99', []])).code, -32000)
    t.equal((await fail('eth_feeHistory', ['0x1', 'latest', [50, 10]])).code, -32602)
  })
})
