/**
 * The relayer against L1 and sidechain nodes that are honest but limited, on real anvils and the real
 * deposit pipeline, journal, item runner and sender:
 * - (issue #20 case 8) an L1 node that keeps only recent state (anvil `--prune-history`): a relayer far behind
 *   still catches up, because the scan never reads `depositCount` at an old block;
 * - (case 12) a node that answers with errors no rule names (`header not found`, `missing trie node`, -32603):
 *   the item is retried with backoff, never parked, and the deposit is minted.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import t from 'tap'
import {
  createWalletClient,
  http,
  type LocalAccount,
  type PublicClient,
  parseEther,
  zeroAddress,
  zeroHash,
} from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { chainFor, makePublicClient } from '../../bridge/core/clients.ts'
import {
  bridgeVaultAbi,
  deploySidechainBridge,
  deployVault,
  sidechainBridgeAbi,
} from '../../bridge/deploy/index.ts'
import { RelayerJournal } from '../../bridge/journal/journal.ts'
import { DepositPipeline } from '../../bridge/relayer/deposit-pipeline.ts'
import { ItemRunner } from '../../bridge/relayer/item-runner.ts'
import { RelayerMetrics } from '../../bridge/relayer/metrics.ts'
import { TxSender } from '../../bridge/relayer/tx-sender.ts'
import { DEV_MNEMONIC } from '../../chain/devnet/accounts.ts'
import { type AnvilInstance, startAnvil } from '../../chain/lib/foundry.ts'
import { silentLogger } from '../../chain/lib/logger.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { tempDir } from '../support/chain.ts'

const L1_CHAIN_ID = 31337
const SIDECHAIN_CHAIN_ID = 31338
const account = (i: number) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i })
const deployer = account(0)
const user = account(1)
const relayer = account(7)

interface Chains {
  l1: AnvilInstance
  sidechain: AnvilInstance
  l1Client: PublicClient
  sidechainClient: PublicClient
  vault: `0x${string}`
  bridge: `0x${string}`
  vaultBlock: bigint
}

async function startChains(l1Args: string[]): Promise<Chains> {
  const [l1, sidechain] = await Promise.all([
    startAnvil({ chainId: L1_CHAIN_ID, mnemonic: DEV_MNEMONIC, extraArgs: l1Args }),
    startAnvil({ chainId: SIDECHAIN_CHAIN_ID, mnemonic: DEV_MNEMONIC }),
  ])
  const l1Client = makePublicClient({ url: l1.url, chainId: L1_CHAIN_ID, pollingIntervalMs: 20 })
  const sidechainClient = makePublicClient({
    url: sidechain.url,
    chainId: SIDECHAIN_CHAIN_ID,
    pollingIntervalMs: 20,
  })
  const wallet = (url: string, chainId: number, a: LocalAccount) =>
    createWalletClient({ chain: chainFor(chainId, url), transport: http(url), account: a })
  const vault = await deployVault(wallet(l1.url, L1_CHAIN_ID, deployer), l1Client, {
    owner: deployer.address,
    guardian: deployer.address,
    signers: [relayer.address],
    threshold: 1,
    tokens: [
      {
        token: zeroAddress,
        depositsEnabled: true,
        maxPerTransaction: parseEther('100'),
        windowLimit: parseEther('1000'),
      },
    ],
  })
  const bridge = await deploySidechainBridge(
    wallet(sidechain.url, SIDECHAIN_CHAIN_ID, deployer),
    sidechainClient,
    {
      owner: deployer.address,
      guardian: deployer.address,
      relayers: [relayer.address],
      threshold: 1,
      l1ChainId: L1_CHAIN_ID,
      l1Vault: vault.address,
    },
  )
  return {
    l1,
    sidechain,
    l1Client,
    sidechainClient,
    vault: vault.address,
    bridge: bridge.address,
    vaultBlock: vault.blockNumber,
  }
}

async function deposit(c: Chains, amount: bigint): Promise<void> {
  const wallet = createWalletClient({
    chain: chainFor(L1_CHAIN_ID, c.l1.url),
    transport: http(c.l1.url),
    account: user,
  })
  const hash = await wallet.writeContract({
    address: c.vault,
    abi: bridgeVaultAbi,
    functionName: 'depositETH',
    args: [user.address],
    value: amount,
  })
  await c.l1Client.waitForTransactionReceipt({ hash })
}

function makePipeline(
  c: Chains,
  options: { l1: PublicClient; sidechain: PublicClient; maxBlockRange: bigint; dir: string },
) {
  const journal = new RelayerJournal(path.join(options.dir, 'journal'))
  const metrics = new RelayerMetrics({ defaultMetrics: false })
  const abort = new AbortController()
  const sender = new TxSender(
    {
      chain: 'sidechain',
      chainId: SIDECHAIN_CHAIN_ID,
      stuckAfterMs: 10_000,
      bumpPercent: 25,
      receiptPollMs: 20,
    },
    { client: options.sidechain, account: relayer, logger: silentLogger(), signal: abort.signal },
  )
  const pipeline = new DepositPipeline(
    {
      vault: c.vault,
      l1ChainId: L1_CHAIN_ID,
      bridge: c.bridge,
      confirmations: 1,
      startBlock: c.vaultBlock,
      maxBlockRange: options.maxBlockRange,
    },
    {
      l1: options.l1,
      sidechain: options.sidechain,
      sender,
      journal,
      metrics,
      logger: silentLogger(),
      crash: () => {},
    },
  )
  return { journal, metrics, pipeline, abort }
}

t.test('case 8: a relayer far behind catches up on an L1 node that pruned old state', async (t) => {
  const c = await startChains(['--prune-history', '16'])
  const dir = tempDir('relayer-pruned-')
  t.teardown(async () => {
    await Promise.all([c.l1.stop(), c.sidechain.stop()])
    dir.remove()
  })
  for (let i = 1n; i <= 3n; i++) await deposit(c, i * parseEther('0.1'))
  // 100 blocks of downtime: the deposits and the first ranges are now far older than the kept state.
  await c.l1Client.request({ method: 'anvil_mine' as never, params: ['0x64'] as never })
  const head = await c.l1Client.getBlockNumber()
  // The node really has no state for the old blocks (what a pruned geth answers, in anvil's words).
  await t.rejects(
    c.l1Client.readContract({
      address: c.vault,
      abi: bridgeVaultAbi,
      functionName: 'depositCount',
      blockNumber: c.vaultBlock + 4n,
    }),
    'old state is pruned on this node',
  )

  const { pipeline, journal } = makePipeline(c, {
    l1: c.l1Client,
    sidechain: c.sidechainClient,
    maxBlockRange: 20n,
    dir: dir.path,
  })
  await journal.open()
  t.teardown(() => journal.close())
  await pipeline.load()
  // Each scan covers up to 10 ranges of 20 blocks; a few scans reach the head.
  for (let i = 0; i < 5 && (pipeline.scanCursor?.nextBlock ?? 0n) <= head; i++) {
    await pipeline.scan()
  }
  t.equal(pipeline.scanCursor?.nextBlock, head + 1n, 'the scan reached the newest block')
  t.equal(pipeline.pendingCount, 3, 'all three deposits journaled')
  t.same(
    (await journal.pendingDeposits()).map((d) => d.amount),
    [parseEther('0.1'), parseEther('0.2'), parseEther('0.3')],
    'with their amounts, in id order',
  )
})

/** A JSON-RPC proxy that answers some requests with a node error instead of forwarding them. */
async function faultyProxy(
  target: string,
  fault: (method: string) => { code: number; message: string } | undefined,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const request = JSON.parse(body) as { id: number; method: string }
      const error = Array.isArray(request) ? undefined : fault(request.method)
      res.setHeader('content-type', 'application/json')
      if (error !== undefined) {
        res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id, error }))
        return
      }
      const upstream = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
      res.end(await upstream.text())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, server }
}

t.test('case 12: node errors no rule names are retried with backoff, not parked', async (t) => {
  const c = await startChains([])
  const dir = tempDir('relayer-node-errors-')
  // The sidechain node fails its first answers to reads in three unfamiliar ways, then recovers.
  const faults = [
    { code: -32000, message: 'header not found' },
    { code: -32000, message: 'missing trie node 0c1f… (path )' },
    { code: -32603, message: 'internal error' },
    { code: -39001, message: 'something no client documents' },
  ]
  const proxy = await faultyProxy(c.sidechain.url, (method) =>
    method === 'eth_call' ? faults.shift() : undefined,
  )
  t.teardown(async () => {
    proxy.server.close()
    await Promise.all([c.l1.stop(), c.sidechain.stop()])
    dir.remove()
  })
  await deposit(c, parseEther('0.5'))
  await c.l1Client.request({ method: 'anvil_mine' as never, params: ['0x2'] as never })
  const sidechain = makePublicClient({
    url: proxy.url,
    chainId: SIDECHAIN_CHAIN_ID,
    pollingIntervalMs: 20,
  })
  const { pipeline, journal, metrics, abort } = makePipeline(c, {
    l1: c.l1Client,
    sidechain,
    maxBlockRange: 100n,
    dir: dir.path,
  })
  await journal.open()
  t.teardown(async () => {
    abort.abort()
    await journal.close()
  })
  await pipeline.load()
  await pipeline.scan()
  t.equal(pipeline.pendingCount, 1, 'the deposit is journaled')
  const kinds: string[] = []
  const runner = new ItemRunner(
    { backoffBaseMs: 10, backoffMaxMs: 50 },
    {
      logger: silentLogger(),
      onError: (kind) => {
        kinds.push(kind)
        metrics.errors.inc({ kind })
      },
    },
  )
  await pollUntil(
    async () => {
      pipeline.dispatch(runner)
      await runner.idle()
      return pipeline.pendingCount === 0 || runner.parked.size > 0
    },
    { what: 'the deposit to be minted or parked', timeoutMs: 15_000, intervalMs: 20 },
  )
  t.same([...runner.parked], [], 'nothing parked')
  t.equal(pipeline.pendingCount, 0, 'the deposit is complete')
  t.not(
    await c.sidechainClient.readContract({
      address: c.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'mintedPayload',
      args: [0n],
    }),
    zeroHash,
    'deposit 0 is minted',
  )
  t.same(kinds, ['node-state', 'node-state', 'node', 'rpc-unknown'], 'each failure retried')
})
