/**
 * Acceptance of the devnet (`npm start` runs the same `startDevnet`): anvil L1, 4 validator processes, 3 relayers
 * with threshold 2. ETH goes to the sidechain and back through the user commands; a contract is deployed and
 * called with the real `cast`; Multicall3 and the CREATE2 deployer answer at their usual addresses; every
 * balance is checked to the wei (gas included); stopping leaves no process behind.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import t from 'tap'
import {
  type Address,
  concat,
  createPublicClient,
  defineChain,
  erc20Abi,
  getContractAddress,
  type Hex,
  http,
  type PublicClient,
  pad,
  parseEther,
  zeroAddress,
} from 'viem'
import { sidechainBridgeAbi, testTokenBytecode } from '../../bridge/deploy/index.ts'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import { type DevnetProgress, startDevnet } from '../../chain/devnet/devnet.ts'
import { pollUntil } from '../../chain/devnet/rpc.ts'
import { CREATE2_DEPLOYER_ADDRESS, MULTICALL3_ADDRESS } from '../../genesis/predeploys.ts'
import { tempDir } from '../support/chain.ts'
import { cast, pidAlive, sidechain } from '../support/devnet.ts'

const [, alice, bob, , , carol] = DEV_ACCOUNTS

/** Init code that deploys a runtime answering every call with 42 (PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN). */
const ANSWER_RUNTIME = '0x602a60005260206000f3'
const ANSWER_INIT = `0x600a600c600039600a6000f3${ANSWER_RUNTIME.slice(2)}` as Hex

interface CastReceipt {
  status: string
  contractAddress: Address | null
  gasUsed: string
  effectiveGasPrice: string
  transactionHash: Hex
}

t.test(
  'devnet: 4 validators, 3 relayers, bridge round trip, cast, predeploys, clean stop',
  async (t) => {
    const dir = tempDir('devnet-e2e-')
    t.teardown(() => dir.remove())
    const steps: DevnetProgress[] = []
    const started = Date.now()
    const devnet = await startDevnet(
      {
        datadir: dir.path,
        rpcPort: 0,
        p2pPort: 0,
        l1Port: 0,
        validatorMetricsPort: 0,
        relayerMetricsPort: 0,
        explorerPort: 0,
        faucetPort: 0,
        uiPort: 0,
      },
      { progress: (p) => steps.push(p) },
    )
    t.teardown(() => devnet.stop())
    t.comment(`devnet started in ${Date.now() - started} ms`)
    const { info } = devnet

    t.same(
      steps.map((s) => s.step),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
      'progress shows each step k/N',
    )
    t.ok(steps.every((s) => s.total === 9))
    t.same(
      JSON.parse(readFileSync(devnet.layout.devnetJson, 'utf8')),
      info,
      'devnet.json is written',
    )
    t.equal(info.validators.length, 4)
    t.equal(info.relayers.length, 3)
    t.equal(info.accounts.length, 10)
    t.equal(info.l2.rpcUrls.length, 4)
    t.equal(devnet.resumed, false)
    const names = devnet.processes().map((p) => p.name)
    t.same(names.sort(), [
      'anvil',
      'relayer-0',
      'relayer-1',
      'relayer-2',
      'validator-0',
      'validator-1',
      'validator-2',
      'validator-3',
    ])
    for (const p of devnet.processes()) {
      t.ok(existsSync(p.logFile) && statSync(p.logFile).size > 0, `${p.name} logs to ${p.logFile}`)
    }
    for (const { metricsUrl } of [...info.relayers, ...info.validators]) {
      const metrics = await (await fetch(metricsUrl!)).text()
      t.match(metrics, /# TYPE/, `Prometheus metrics at ${metricsUrl}`)
    }

    const l1 = client(info.l1.rpcUrl, info.l1.chainId)
    // Reads and writes go to the validator the bridge commands use, so a read never races a block import.
    const l2 = client(info.l2.rpcUrls[0]!, info.l2.chainId)
    const l1Gas = async (hash: Hex) => {
      const r = await l1.getTransactionReceipt({ hash })
      return r.gasUsed * r.effectiveGasPrice
    }
    const l2Gas = async (hash: Hex) => {
      const r = await l2.getTransactionReceipt({ hash })
      return r.gasUsed * r.effectiveGasPrice
    }
    const l2Url = info.l2.rpcUrls[0]!
    const network = devnet.layout.devnetJson

    // ---- funded accounts on both chains
    for (const a of [alice, bob]) {
      t.ok((await l1.getBalance({ address: a.address })) >= parseEther('9999'), 'funded on L1')
      t.equal(await l2.getBalance({ address: a.address }), parseEther('10000'), 'funded on L2')
    }

    // ---- deposit 1 ETH (L1 -> sidechain) with the user command
    const aliceL1Before = await l1.getBalance({ address: alice.address })
    const aliceL2Before = await l2.getBalance({ address: alice.address })
    const vaultBefore = await l1.getBalance({ address: info.l1.vault })
    const deposit = await sidechain(
      ['bridge', 'deposit', '--network', network, '--amount', '1', '--json', '--timeout', '90'],
      { env: { SIDECHAIN_PRIVATE_KEY: alice.privateKey } },
    )
    t.equal(deposit.code, 0, `deposit exits 0 ${deposit.stderr}`)
    const depositResult = JSON.parse(deposit.stdout) as { status: string; l1Tx: Hex }
    t.equal(depositResult.status, 'minted')
    const wrappedEth = await l2.readContract({
      address: info.l2.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'wrappedTokenOf',
      args: [zeroAddress],
    })
    const wrappedOf = (a: Address) =>
      l2.readContract({ address: wrappedEth, abi: erc20Abi, functionName: 'balanceOf', args: [a] })
    t.equal(await wrappedOf(alice.address), parseEther('1'), 'exactly 1 wrapped ETH minted')
    t.equal(
      await l1.getBalance({ address: alice.address }),
      aliceL1Before - parseEther('1') - (await l1Gas(depositResult.l1Tx)),
      'L1 balance: minus 1 ETH and the gas of the deposit',
    )
    t.equal(await l1.getBalance({ address: info.l1.vault }), vaultBefore + parseEther('1'))
    t.equal(
      await l2.getBalance({ address: alice.address }),
      aliceL2Before,
      'relayers paid the mint',
    )

    // ---- a contract deployed and called with the real cast
    const bobBefore = await l2.getBalance({ address: bob.address })
    const deployed = JSON.parse(
      await cast([
        'send',
        '--rpc-url',
        l2Url,
        '--private-key',
        bob.privateKey,
        '--json',
        '--create',
        testTokenBytecode,
        'constructor(string,string,uint8)',
        'Cast Token',
        'CAST',
        '18',
      ]),
    ) as CastReceipt
    t.equal(deployed.status, '0x1', 'cast send --create')
    const token = deployed.contractAddress!
    const minted = JSON.parse(
      await cast([
        'send',
        '--rpc-url',
        l2Url,
        '--private-key',
        bob.privateKey,
        '--json',
        token,
        'mint(address,uint256)',
        bob.address,
        '1234',
      ]),
    ) as CastReceipt
    t.equal(minted.status, '0x1')
    t.equal(
      await cast(['call', '--rpc-url', l2Url, token, 'balanceOf(address)(uint256)', bob.address]),
      '1234',
      'cast call reads the state the transaction wrote',
    )
    t.equal(await cast(['call', '--rpc-url', l2Url, token, 'symbol()(string)']), '"CAST"')
    const castGas = (r: CastReceipt) => BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice)
    t.equal(
      await l2.getBalance({ address: bob.address }),
      bobBefore - castGas(deployed) - castGas(minted),
      'sidechain balance: minus exactly the gas of both transactions',
    )

    // ---- Multicall3 at its usual address
    t.equal(
      await cast(['call', '--rpc-url', l2Url, MULTICALL3_ADDRESS, 'getChainId()(uint256)']),
      String(info.l2.chainId),
    )
    const castBalance = await cast([
      'call',
      '--rpc-url',
      l2Url,
      MULTICALL3_ADDRESS,
      'getEthBalance(address)(uint256)',
      carol.address,
    ])
    // cast appends a scientific rendering to big numbers: "10000000000000000000000 [1e22]".
    t.equal(castBalance.split(' ')[0], (await l2.getBalance({ address: carol.address })).toString())
    const batch = await l2.multicall({
      multicallAddress: MULTICALL3_ADDRESS,
      allowFailure: true,
      contracts: [
        { address: token, abi: erc20Abi, functionName: 'totalSupply' },
        { address: wrappedEth, abi: erc20Abi, functionName: 'balanceOf', args: [alice.address] },
        // No contract there: the call "succeeds" with empty data, which viem reports as a failure.
        { address: carol.address, abi: erc20Abi, functionName: 'totalSupply' },
      ],
    })
    t.same(
      batch.map((r) => r.status),
      ['success', 'success', 'failure'],
    )
    t.equal(batch[0]!.result, 1234n)
    t.equal(batch[1]!.result, parseEther('1'))

    // ---- the CREATE2 deployer: salt || init code, returns the address, same as on any chain with it
    const salt = pad('0x5eed', { size: 32 })
    const expected = getContractAddress({
      opcode: 'CREATE2',
      from: CREATE2_DEPLOYER_ADDRESS,
      salt,
      bytecode: ANSWER_INIT,
    })
    const calldata = concat([salt, ANSWER_INIT])
    const predicted = await cast(['call', '--rpc-url', l2Url, CREATE2_DEPLOYER_ADDRESS, calldata])
    t.equal(predicted.toLowerCase(), expected.toLowerCase(), 'returns the raw 20-byte address')
    const create2 = JSON.parse(
      await cast([
        'send',
        '--rpc-url',
        l2Url,
        '--private-key',
        bob.privateKey,
        '--json',
        CREATE2_DEPLOYER_ADDRESS,
        calldata,
      ]),
    ) as CastReceipt
    t.equal(create2.status, '0x1')
    t.equal(await cast(['code', '--rpc-url', l2Url, expected]), ANSWER_RUNTIME)
    t.equal(await cast(['call', '--rpc-url', l2Url, expected, 'anything()(uint256)']), '42')
    await t.rejects(
      cast(['call', '--rpc-url', l2Url, CREATE2_DEPLOYER_ADDRESS, calldata]),
      'the same salt and code again reverts (address taken)',
    )

    // ---- withdraw 0.4 ETH back to L1 (to carol), released by the relayers
    const carolL1Before = await l1.getBalance({ address: carol.address })
    const aliceL2BeforeWithdraw = await l2.getBalance({ address: alice.address })
    const vaultBeforeWithdraw = await l1.getBalance({ address: info.l1.vault })
    const withdraw = await sidechain(
      [
        'bridge',
        'withdraw',
        '--network',
        network,
        '--amount',
        '0.4',
        '--to',
        carol.address,
        '--json',
        '--timeout',
        '90',
      ],
      { env: { SIDECHAIN_PRIVATE_KEY: alice.privateKey } },
    )
    t.equal(withdraw.code, 0, `withdraw exits 0 ${withdraw.stderr}`)
    const withdrawResult = JSON.parse(withdraw.stdout) as { status: string; sidechainTx: Hex }
    t.equal(withdrawResult.status, 'released')
    t.equal(await wrappedOf(alice.address), parseEther('0.6'), '0.4 wrapped ETH burned')
    t.equal(
      await l1.getBalance({ address: carol.address }),
      carolL1Before + parseEther('0.4'),
      'the L1 recipient got exactly 0.4 ETH (a relayer paid the release gas)',
    )
    t.equal(
      await l1.getBalance({ address: info.l1.vault }),
      vaultBeforeWithdraw - parseEther('0.4'),
    )
    t.equal(
      await l2.getBalance({ address: alice.address }),
      aliceL2BeforeWithdraw - (await l2Gas(withdrawResult.sidechainTx)),
      'sidechain balance: minus exactly the gas of the withdrawal',
    )
    const audit = await sidechain(['bridge', 'audit', '--network', network, '--json'])
    t.equal(audit.code, 0, `the bridge books balance ${audit.stdout}`)

    // ---- every validator serves the same chain
    const head = await l2.getBlock()
    for (const url of info.l2.rpcUrls.slice(1)) {
      const other = client(url, info.l2.chainId)
      await pollUntil(async () => (await other.getBlockNumber()) >= head.number, {
        what: `${url} at block ${head.number}`,
        timeoutMs: 20_000,
      })
      t.equal((await other.getBlock({ blockNumber: head.number })).hash, head.hash, `${url} agrees`)
    }

    // ---- stop: nothing it started is left running
    const pids = devnet.processes().map((p) => p.pid)
    t.equal(pids.length, 8)
    t.ok(pids.every(pidAlive), 'all running before stop')
    await devnet.stop()
    t.same(pids.filter(pidAlive), [], 'no process the devnet started is still running')
    t.notOk(existsSync(devnet.layout.lockFile), 'the lock file is removed')
    t.ok(statSync(devnet.layout.l1State).size > 0, 'anvil saved its state')
  },
)

function client(url: string, chainId: number): PublicClient {
  return createPublicClient({
    chain: defineChain({
      id: chainId,
      name: `chain ${chainId}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [url] } },
    }),
    transport: http(url),
    pollingInterval: 200,
    // Fresh block numbers: viem caches them per client for 4 s by default.
    cacheTime: 0,
  }) as PublicClient
}
