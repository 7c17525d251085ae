/**
 * The predeploys of the genesis (our own Multicall3 and CREATE2 deployer) on a real sidechain node: every
 * Multicall3 function with its revert strings, and the CREATE2 deployer compared call for call with the
 * deterministic deployment proxy anvil ships at the same address.
 */
import path from 'node:path'
import t from 'tap'
import {
  concat,
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeFunctionData,
  getContractAddress,
  type Hex,
  http,
  type PublicClient,
  pad,
  parseEther,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { multicall3Abi } from '../../bridge/deploy/index.ts'
import { randomPrivateKey } from '../../chain/crypto/index.ts'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import { startAnvil } from '../../chain/lib/foundry.ts'
import { keyPairFromPrivateKey } from '../../chain/lib/keys.ts'
import { SidechainNode } from '../../chain/node.ts'
import {
  CREATE2_DEPLOYER_ADDRESS,
  MULTICALL3_ADDRESS,
  PREDEPLOYS,
  predeployAlloc,
} from '../../genesis/predeploys.ts'
import { parseGenesis } from '../../genesis/schema.ts'
import { tempDir } from '../support/chain.ts'

const CHAIN_ID = 1337
const user = privateKeyToAccount(DEV_ACCOUNTS[0].privateKey)
const other = DEV_ACCOUNTS[1].address

/** Runtime that answers every call with 42; init code that deploys it. */
const ANSWER_INIT = '0x600a600c600039600a6000f3602a60005260206000f3' as Hex
/** Init code that reverts. */
const REVERTING_INIT = '0x60006000fd' as Hex
/** Init code that deploys empty code (STOP). */
const EMPTY_INIT = '0x00' as Hex

t.test('predeploys on a sidechain node', async (t) => {
  const dir = tempDir('predeploys-')
  t.teardown(() => dir.remove())
  const validator = keyPairFromPrivateKey(randomPrivateKey())
  const genesis = parseGenesis({
    config: { chainId: CHAIN_ID, blockPeriodMs: 250 },
    timestamp: Math.floor(Date.now() / 1000) - 5,
    validators: [validator.addressHex],
    alloc: {
      ...predeployAlloc(),
      [user.address.toLowerCase()]: { balance: `0x${parseEther('1000').toString(16)}` },
    },
  })
  const node = new SidechainNode({
    genesis,
    datadir: path.join(dir.path, 'node'),
    validatorKey: validator,
    rpc: { port: 0 },
  })
  await node.start()
  t.teardown(() => node.stop())
  const chain = defineChain({
    id: CHAIN_ID,
    name: 'sidechain',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [node.rpc!.url] } },
  })
  const client = createPublicClient({
    chain,
    transport: http(node.rpc!.url),
    pollingInterval: 100,
  }) as PublicClient
  const wallet = createWalletClient({
    chain,
    transport: http(node.rpc!.url),
    account: user,
    pollingInterval: 100,
  })
  await client.waitForTransactionReceipt({
    hash: await wallet.sendTransaction({ to: other, value: 1n }),
  })

  t.test('genesis alloc: code at the usual addresses, nonce 1', async (t) => {
    for (const p of PREDEPLOYS) {
      t.equal(await client.getCode({ address: p.address }), p.code, p.name)
      t.equal(await client.getTransactionCount({ address: p.address }), 1)
    }
  })

  const mc = { address: MULTICALL3_ADDRESS, abi: multicall3Abi } as const
  const call = (functionName: string) => ({
    target: MULTICALL3_ADDRESS,
    callData: encodeFunctionData({ abi: multicall3Abi, functionName: functionName as never }),
  })
  // A call that fails: the CREATE2 deployer reverts on calldata shorter than a salt.
  const failing = { target: CREATE2_DEPLOYER_ADDRESS, callData: '0x01' as Hex }

  t.test('Multicall3 getters', async (t) => {
    const block = await client.getBlock()
    const parent = await client.getBlock({ blockNumber: block.number - 1n })
    const at = { blockNumber: block.number }
    const read = (functionName: string, args: readonly unknown[] = []) =>
      client.readContract({
        ...mc,
        functionName: functionName as never,
        args: args as never,
        ...at,
      })
    t.equal(await read('getChainId'), BigInt(CHAIN_ID))
    t.equal(await read('getBlockNumber'), block.number)
    t.equal(await read('getCurrentBlockTimestamp'), block.timestamp)
    t.equal(await read('getCurrentBlockGasLimit'), block.gasLimit)
    // eth_call without fee fields runs with no base fee (as geth does); with them BASEFEE is the block's.
    t.equal(await read('getBasefee'), 0n)
    const paid = await client.call({
      account: user.address,
      to: MULTICALL3_ADDRESS,
      data: encodeFunctionData({ abi: multicall3Abi, functionName: 'getBasefee' }),
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 0n,
      ...at,
    })
    t.equal(BigInt(paid.data!), block.baseFeePerGas)
    t.equal(
      ((await read('getCurrentBlockCoinbase')) as string).toLowerCase(),
      block.miner.toLowerCase(),
    )
    t.equal(await read('getCurrentBlockDifficulty'), BigInt(block.mixHash), 'PREVRANDAO')
    t.equal(await read('getLastBlockHash'), parent.hash)
    t.equal(await read('getBlockHash', [parent.number]), parent.hash)
    t.equal(
      await read('getEthBalance', [other]),
      await client.getBalance({ address: other, ...at }),
    )
  })

  /** The aggregate functions are payable, so viem runs them through eth_call as a simulation. */
  const simulate = async (functionName: string, args: readonly unknown[]): Promise<unknown> =>
    (
      await client.simulateContract({
        ...mc,
        account: user,
        functionName: functionName as 'aggregate3',
        args: args as never,
      })
    ).result

  t.test('aggregate, tryAggregate, blockAndAggregate, tryBlockAndAggregate', async (t) => {
    const [blockNumber, data] = (await simulate('aggregate', [
      [call('getChainId'), call('getBlockNumber')],
    ])) as readonly [bigint, readonly Hex[]]
    t.equal(BigInt(data[0]!), BigInt(CHAIN_ID))
    t.equal(BigInt(data[1]!), blockNumber)
    await t.rejects(
      simulate('aggregate', [[call('getChainId'), failing]]),
      /Multicall3: call failed/,
    )
    const tried = (await simulate('tryAggregate', [
      false,
      [call('getChainId'), failing],
    ])) as readonly { success: boolean; returnData: Hex }[]
    t.same(
      tried.map((r) => r.success),
      [true, false],
    )
    t.equal(tried[1]!.returnData, '0x')
    await t.rejects(simulate('tryAggregate', [true, [failing]]), /Multicall3: call failed/)
    const [n1, hash1, results1] = (await simulate('tryBlockAndAggregate', [
      false,
      [failing, call('getBlockNumber')],
    ])) as readonly [bigint, Hex, readonly { success: boolean; returnData: Hex }[]]
    t.equal(BigInt(results1[1]!.returnData), n1)
    t.equal(results1[0]!.success, false)
    t.equal(
      hash1,
      pad('0x0', { size: 32 }),
      'blockhash of the current block is zero, as in the EVM',
    )
    const [n2, , results2] = (await simulate('blockAndAggregate', [
      [call('getBlockNumber')],
    ])) as readonly [bigint, Hex, readonly { success: boolean; returnData: Hex }[]]
    t.equal(BigInt(results2[0]!.returnData), n2)
    await t.rejects(simulate('blockAndAggregate', [[failing]]), /Multicall3: call failed/)
  })

  t.test('aggregate3 and aggregate3Value', async (t) => {
    const results = (await simulate('aggregate3', [
      [
        { ...call('getChainId'), allowFailure: false },
        { ...failing, allowFailure: true },
      ],
    ])) as readonly { success: boolean; returnData: Hex }[]
    t.same(
      results.map((r) => r.success),
      [true, false],
    )
    await t.rejects(
      simulate('aggregate3', [[{ ...failing, allowFailure: false }]]),
      /Multicall3: call failed/,
    )
    // Value to two EOAs in one transaction.
    const before = await client.getBalance({ address: other })
    const hash = await wallet.writeContract({
      ...mc,
      functionName: 'aggregate3Value',
      args: [
        [
          { target: other, allowFailure: false, value: 5n, callData: '0x' },
          { target: other, allowFailure: false, value: 7n, callData: '0x' },
        ],
      ],
      value: 12n,
    })
    t.equal((await client.waitForTransactionReceipt({ hash })).status, 'success')
    t.equal(await client.getBalance({ address: other }), before + 12n)
    t.equal(await client.getBalance({ address: MULTICALL3_ADDRESS }), 0n, 'nothing kept')
    await t.rejects(
      client.simulateContract({
        ...mc,
        account: user,
        functionName: 'aggregate3Value',
        args: [[{ target: other, allowFailure: false, value: 5n, callData: '0x' }]],
        value: 6n,
      }),
      /Multicall3: value mismatch/,
    )
  })

  t.test('CREATE2 deployer matches the proxy anvil ships, call for call', async (t) => {
    const anvil = await startAnvil({ chainId: CHAIN_ID })
    t.teardown(() => anvil.stop())
    const reference = createPublicClient({ transport: http(anvil.url) })
    t.not(
      await reference.getCode({ address: CREATE2_DEPLOYER_ADDRESS }),
      undefined,
      'anvil has its deployer at the same address',
    )
    const salt = pad('0xabc', { size: 32 })
    const cases: Array<{ what: string; data: Hex; value?: bigint }> = [
      { what: 'a contract', data: concat([salt, ANSWER_INIT]) },
      { what: 'with value', data: concat([pad('0x1', { size: 32 }), ANSWER_INIT]), value: 3n },
      { what: 'empty init code', data: salt },
      { what: 'code that deploys nothing', data: concat([pad('0x2', { size: 32 }), EMPTY_INIT]) },
      { what: 'reverting init code', data: concat([salt, REVERTING_INIT]) },
      { what: 'calldata shorter than a salt', data: '0x1234' },
      { what: 'no calldata', data: '0x' },
    ]
    const outcome = async (c: PublicClient, data: Hex, value?: bigint) => {
      try {
        const r = await c.call({
          account: user.address,
          to: CREATE2_DEPLOYER_ADDRESS,
          data,
          value,
          gas: 1_000_000n,
        })
        return { ok: true, data: r.data ?? '0x' }
      } catch {
        return { ok: false }
      }
    }
    for (const { what, data, value } of cases) {
      t.same(await outcome(client, data, value), await outcome(reference, data, value), what)
    }
    // And for real: the address is the CREATE2 address, the code is there, the value went with it.
    const expected = getContractAddress({
      opcode: 'CREATE2',
      from: CREATE2_DEPLOYER_ADDRESS,
      salt: pad('0x1', { size: 32 }),
      bytecode: ANSWER_INIT,
    })
    const hash = await wallet.sendTransaction({
      to: CREATE2_DEPLOYER_ADDRESS,
      data: concat([pad('0x1', { size: 32 }), ANSWER_INIT]),
      value: 3n,
    })
    t.equal((await client.waitForTransactionReceipt({ hash })).status, 'success')
    t.equal(await client.getCode({ address: expected }), '0x602a60005260206000f3')
    t.equal(await client.getBalance({ address: expected }), 3n)
    t.same(
      await outcome(client, concat([pad('0x1', { size: 32 }), ANSWER_INIT])),
      { ok: false },
      'the same salt and code again fails (address taken)',
    )
  })
})
