/**
 * Real client libraries against a live node with default settings: viem over HTTP and
 * WebSocket, ethers v6 over HTTP. An OpenZeppelin ERC-20 compiled in the test is deployed,
 * transferred, read back with getLogs, and its Transfer events are received through a
 * WebSocket subscription (watchContractEvent) and through polling filters.
 */
import { Contract, JsonRpcProvider, Wallet } from 'ethers'
import t from 'tap'
import {
  type Abi,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  type Hex,
  http,
  parseEventLogs,
  webSocket,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_ACCOUNTS } from '../../chain/cli/devnet-command.ts'
import { compileContracts, pollUntil, startRpcNode } from '../support/rpc-node.ts'

const TOKEN_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract TestToken is ERC20 {
    constructor(uint256 supply) ERC20("Test Token", "TST") {
        _mint(msg.sender, supply);
    }
}
`
const token = compileContracts({ 'TestToken.sol': TOKEN_SOURCE }).TestToken!
const abi = token.abi as Abi
const alice = privateKeyToAccount(DEV_ACCOUNTS[0].privateKey)
const bob = privateKeyToAccount(DEV_ACCOUNTS[1].privateKey)
const carol = DEV_ACCOUNTS[2]

interface TransferLog {
  args: { from: Hex; to: Hex; value: bigint }
  transactionHash: Hex
}

t.test('viem and ethers', async (t) => {
  const node = await startRpcNode({ blockPeriodMs: 200 })
  // Clients first (viem's WebSocket would otherwise reconnect to a stopped node), node last.
  const cleanups: Array<() => unknown> = [() => node.stop()]
  t.teardown(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
  })
  const chain = defineChain({
    id: 1337,
    name: 'sidechain test',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [node.url], webSocket: [node.wsUrl] } },
  })
  const publicHttp = createPublicClient({ chain, transport: http(node.url), pollingInterval: 100 })
  const wsTransport = webSocket(node.wsUrl)
  const publicWs = createPublicClient({ chain, transport: wsTransport, pollingInterval: 100 })
  cleanups.push(async () => (await publicWs.transport.getRpcClient()).close())
  const wallet = createWalletClient({
    chain,
    account: alice,
    transport: http(node.url),
    pollingInterval: 100,
  })

  t.equal(await publicHttp.getChainId(), 1337)
  t.equal(await publicWs.getChainId(), 1337)

  // Deploy with viem's defaults (fee estimation, nonce, gas estimation).
  const deployHash = await wallet.deployContract({
    abi,
    bytecode: token.bytecode,
    args: [1_000_000n],
  })
  const deployReceipt = await publicHttp.waitForTransactionReceipt({
    hash: deployHash,
    pollingInterval: 100,
  })
  t.equal(deployReceipt.status, 'success')
  const address = deployReceipt.contractAddress!
  t.equal(await publicHttp.readContract({ address, abi, functionName: 'symbol' }), 'TST')
  t.equal(
    await publicHttp.readContract({
      address,
      abi,
      functionName: 'balanceOf',
      args: [alice.address],
    }),
    1_000_000n,
  )

  // Listeners first: WebSocket subscription and an HTTP polling filter (viem), a filter via ethers.
  const viaWs: TransferLog[] = []
  const unwatchWs = publicWs.watchContractEvent({
    address,
    abi,
    eventName: 'Transfer',
    onLogs: (logs) => viaWs.push(...(logs as unknown as TransferLog[])),
  })
  cleanups.push(async () => {
    unwatchWs()
    // Let eth_unsubscribe complete before the socket closes (viem retries failed requests).
    await pollUntil(() => node.node.rpc!.filters.subscriptionCount === 0, 'unsubscribed')
  })
  const viaPoll: TransferLog[] = []
  const unwatchPoll = publicHttp.watchContractEvent({
    address,
    abi,
    eventName: 'Transfer',
    poll: true,
    pollingInterval: 100,
    onLogs: (logs) => viaPoll.push(...(logs as unknown as TransferLog[])),
  })
  cleanups.push(unwatchPoll)
  const filter = await publicHttp.createContractEventFilter({ address, abi, eventName: 'Transfer' })

  const provider = new JsonRpcProvider(node.url, 1337, {
    staticNetwork: true,
    pollingInterval: 100,
  })
  cleanups.push(() => provider.destroy())
  const viaEthers: Array<{ from: string; to: string; value: bigint }> = []
  const ethersToken = new Contract(address, token.abi as never[], provider)
  await ethersToken.on('Transfer', (from: string, to: string, value: bigint) => {
    viaEthers.push({ from, to, value })
  })
  cleanups.push(() => ethersToken.removeAllListeners())
  // ethers installs its filter on the next poll; wait until the node has it.
  await pollUntil(() => node.node.rpc!.filters.filterCount >= 2, 'ethers filter installed')

  // viem transfer
  const { request } = await publicHttp.simulateContract({
    account: alice,
    address,
    abi,
    functionName: 'transfer',
    args: [bob.address, 250n],
  })
  const transferHash = await wallet.writeContract(request)
  const transferReceipt = await publicWs.waitForTransactionReceipt({
    hash: transferHash,
    pollingInterval: 100,
  })
  t.equal(transferReceipt.status, 'success')
  const parsed = parseEventLogs({
    abi,
    logs: transferReceipt.logs,
    eventName: 'Transfer',
  }) as unknown as TransferLog[]
  t.same(parsed[0]!.args, { from: alice.address, to: bob.address, value: 250n })

  // ethers transfer from bob (its own fee estimation, nonce, gas).
  const bobWallet = new Wallet(DEV_ACCOUNTS[1].privateKey, provider)
  const tx = await (ethersToken.connect(bobWallet) as Contract).getFunction('transfer')(
    carol.address,
    50n,
  )
  const ethersReceipt = await tx.wait()
  t.equal(ethersReceipt?.status, 1)
  t.equal(await ethersToken.getFunction('balanceOf')(bob.address), 200n)
  const feeData = await provider.getFeeData()
  t.ok(
    feeData.maxFeePerGas !== null &&
      feeData.maxPriorityFeePerGas !== null &&
      feeData.maxPriorityFeePerGas > 0n,
    'ethers fee data',
  )

  // Read back with getLogs (viem, ethers).
  const logs = (await publicHttp.getContractEvents({
    address,
    abi,
    eventName: 'Transfer',
    fromBlock: 0n,
  })) as unknown as TransferLog[]
  t.same(
    logs.map((l) => l.args),
    [
      { from: '0x0000000000000000000000000000000000000000', to: alice.address, value: 1_000_000n },
      { from: alice.address, to: bob.address, value: 250n },
      { from: bob.address, to: getAddress(carol.address), value: 50n },
    ],
  )
  const queried = await ethersToken.queryFilter(ethersToken.filters.Transfer!(bob.address), 0)
  t.equal(queried.length, 1, 'ethers queryFilter by indexed sender')

  await pollUntil(
    () => viaWs.length >= 2 && viaPoll.length >= 2 && viaEthers.length >= 2,
    'Transfer events through every channel',
    20_000,
  )
  t.same(
    viaWs.map((l) => l.transactionHash),
    [transferHash, ethersReceipt!.hash],
    'viem watchContractEvent over WebSocket',
  )
  t.same(
    viaPoll.map((l) => l.transactionHash),
    [transferHash, ethersReceipt!.hash],
    'viem polling filter over HTTP',
  )
  t.same(
    viaEthers.map((e) => e.value),
    [250n, 50n],
    'ethers contract.on (eth_newFilter + eth_getFilterChanges)',
  )
  const changes = (await publicHttp.getFilterChanges({ filter })) as unknown as TransferLog[]
  t.same(
    changes.map((l) => l.args.value),
    [250n, 50n],
    'viem createContractEventFilter + getFilterChanges',
  )

  // A reverting call: viem decodes OpenZeppelin's custom error from the code-3 revert data.
  const failure = await publicHttp
    .simulateContract({
      account: bob.address,
      address,
      abi,
      functionName: 'transfer',
      args: [alice.address, 10_000n],
    })
    .then(
      () => undefined,
      (err: unknown) => err,
    )
  t.ok(failure instanceof BaseError)
  const revert = (failure as BaseError).walk(
    (e) => e instanceof ContractFunctionRevertedError,
  ) as ContractFunctionRevertedError | null
  t.equal(revert?.data?.errorName, 'ERC20InsufficientBalance')
  t.same(revert?.data?.args, [bob.address, 200n, 10_000n])
  const ethersFailure = await (ethersToken.connect(bobWallet) as Contract)
    .getFunction('transfer')
    .staticCall(alice.address, 10_000n)
    .then(
      () => undefined,
      (err: { code?: string; revert?: { name: string } }) => err,
    )
  t.equal(ethersFailure?.code, 'CALL_EXCEPTION')
  t.equal(ethersFailure?.revert?.name, 'ERC20InsufficientBalance', 'ethers decodes it too')
})
