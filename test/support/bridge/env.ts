/**
 * End-to-end bridge fixture: a real anvil as L1 with the vault and a test ERC-20, a real sidechain node
 * (SidechainNode in this process, JSON-RPC on a free port) with the SidechainBridge deployed by a normal
 * transaction from a genesis-funded deployer, and relayers either as child processes running the real CLI
 * (`sidechain relayer --config FILE`, so they can be SIGKILLed) or in-process.
 *
 * Accounts: the anvil dev mnemonic. 0 deploys and owns everything, 1-3 are users, 7-9 are the relayers (vault
 * signers and bridge relayers, threshold 2 of 3). All of them are funded on both chains.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { hexToBytes } from '@ethereumjs/util'
import {
  type Account,
  type Address,
  type Chain,
  createTestClient,
  createWalletClient,
  type Hash,
  http,
  type LocalAccount,
  type PublicClient,
  parseEther,
  publicActions,
  type TestClient,
  type Transport,
  type WalletClient,
  zeroAddress,
} from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { chainFor, makePublicClient } from '../../../bridge/core/clients.ts'
import {
  bridgeVaultAbi,
  deploySidechainBridge,
  deployTestToken,
  deployVault,
  testTokenAbi,
} from '../../../bridge/deploy/index.ts'
import { parseRelayerConfig, type RelayerConfigInput } from '../../../bridge/relayer/config.ts'
import { Relayer } from '../../../bridge/relayer/relayer.ts'
import { randomPrivateKey } from '../../../chain/crypto/index.ts'
import { DEV_MNEMONIC } from '../../../chain/devnet/accounts.ts'
import { type AnvilInstance, startAnvil } from '../../../chain/lib/foundry.ts'
import { keyPairFromPrivateKey, writeKeyFile } from '../../../chain/lib/keys.ts'
import { SidechainNode } from '../../../chain/node.ts'
import { parseGenesis } from '../../../genesis/schema.ts'
import { tempDir, waitFor } from '../chain.ts'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
export const CLI = path.join(REPO_ROOT, 'chain/cli/main.ts')
export const MNEMONIC = DEV_MNEMONIC
export const L1_CHAIN_ID = 31337
export const SIDECHAIN_CHAIN_ID = 1337
export const THRESHOLD = 2

export type Wallet = WalletClient<Transport, Chain, LocalAccount> & ReturnType<typeof publicActions>

export interface EnvOptions {
  /** Seconds between L1 blocks (anvil interval mining); absent = automine (tests mine with `mine`). */
  l1BlockTime?: number
  /**
   * Automine (transactions are mined at once) plus an empty block every `l1MineEveryMs` from this process:
   * confirmations accrue faster than anvil's whole-second interval mining allows.
   */
  l1MineEveryMs?: number
  sidechainBlockMs?: number
  confirmations?: number
  pollMs?: number
  releaseTurnTimeoutMs?: number
  l1StuckAfterMs?: number
}

export interface RelayerProcess {
  index: number
  child: ChildProcess
  /** Every line the process printed (JSON logs). */
  lines: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  metricsPort: Promise<number>
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>
  /** SIGTERM (clean stop) and wait for the exit. */
  stop(): Promise<void>
}

export interface BridgeEnv {
  dir: string
  options: Required<Omit<EnvOptions, 'l1BlockTime' | 'l1MineEveryMs'>> & {
    l1BlockTime: number | undefined
    l1MineEveryMs: number | undefined
  }
  anvil: AnvilInstance
  l1: PublicClient
  l1Test: TestClient<'anvil'>
  node: SidechainNode
  sidechainUrl: string
  sidechain: PublicClient
  vault: Address
  vaultBlock: bigint
  bridge: Address
  /** TestToken on L1 (allow-listed in the vault). */
  token: Address
  deployer: LocalAccount
  users: LocalAccount[]
  relayers: LocalAccount[]
  relayerKeyFiles: string[]
  l1Wallet(account: LocalAccount): Wallet
  sidechainWallet(account: LocalAccount): Wallet
  /** Whether the vault released this bridge's withdrawal `withdrawalId`. */
  isReleased(withdrawalId: bigint): Promise<boolean>
  /** Mines `n` L1 blocks (automine mode). */
  mine(n?: number): Promise<void>
  /** Writes relayer `i`'s config (with overrides) and returns its path. */
  relayerConfigFile(i: number, overrides?: Partial<RelayerConfigInput>): string
  spawnRelayer(
    i: number,
    options?: { env?: Record<string, string>; overrides?: Partial<RelayerConfigInput> },
  ): RelayerProcess
  startRelayer(i: number, overrides?: Partial<RelayerConfigInput>): Promise<Relayer>
  stop(): Promise<void>
}

export const account = (i: number) => mnemonicToAccount(MNEMONIC, { addressIndex: i })

/**
 * Relayer children of this process. If the test process ends for any reason (a failed test, a tap timeout's
 * SIGTERM, Ctrl-C), they are SIGKILLed with it instead of polling dead endpoints forever.
 */
const liveChildren = new Set<ChildProcess>()
let parentHooked = false
function killChildrenWithParent(): void {
  if (parentHooked) return
  parentHooked = true
  const killAll = () => {
    for (const c of liveChildren) c.kill('SIGKILL')
  }
  process.once('exit', killAll)
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll()
      process.kill(process.pid, signal)
    })
  }
}

export async function startBridgeEnv(options: EnvOptions = {}): Promise<BridgeEnv> {
  const opts = {
    l1BlockTime: options.l1BlockTime,
    l1MineEveryMs: options.l1MineEveryMs,
    sidechainBlockMs: options.sidechainBlockMs ?? 500,
    confirmations: options.confirmations ?? 2,
    pollMs: options.pollMs ?? 200,
    releaseTurnTimeoutMs: options.releaseTurnTimeoutMs ?? 3_000,
    l1StuckAfterMs: options.l1StuckAfterMs ?? 10_000,
  }
  const dir = tempDir('bridge-e2e-')
  const children = new Set<RelayerProcess>()
  const inProcess = new Set<Relayer>()
  let anvil: AnvilInstance | undefined
  let node: SidechainNode | undefined
  let miner: NodeJS.Timeout | undefined
  const cleanup = async () => {
    clearInterval(miner)
    await Promise.allSettled([...children].map((c) => c.kill()))
    await Promise.allSettled([...inProcess].map((r) => r.stop()))
    await node?.stop()
    await anvil?.stop()
    dir.remove()
  }
  try {
    // Automine while deploying (fast), interval mining afterwards if asked.
    anvil = await startAnvil({ chainId: L1_CHAIN_ID })
    const l1Chain = chainFor(L1_CHAIN_ID, anvil.url, 'anvil')
    const l1 = makePublicClient({ url: anvil.url, chainId: L1_CHAIN_ID, pollingIntervalMs: 50 })
    const l1Test = createTestClient({ chain: l1Chain, transport: http(anvil.url), mode: 'anvil' })
    const deployer = account(0)
    const users = [account(1), account(2), account(3)]
    const relayers = [account(7), account(8), account(9)]

    // Sidechain: single validator, everyone funded in the genesis.
    const validator = keyPairFromPrivateKey(randomPrivateKey())
    const alloc: Record<string, { balance: string }> = {}
    for (const a of [deployer, ...users, ...relayers]) {
      alloc[a.address.toLowerCase()] = { balance: `0x${parseEther('1000').toString(16)}` }
    }
    const genesis = parseGenesis({
      config: { chainId: SIDECHAIN_CHAIN_ID, blockPeriodMs: opts.sidechainBlockMs },
      timestamp: Math.floor(Date.now() / 1000) - 5,
      validators: [validator.addressHex],
      alloc,
    })
    node = new SidechainNode({
      genesis,
      datadir: path.join(dir.path, 'sidechain'),
      validatorKey: validator,
      rpc: { port: 0 },
    })
    await node.start()
    const sidechainUrl = node.rpc!.url
    const scChain = chainFor(SIDECHAIN_CHAIN_ID, sidechainUrl, 'sidechain')
    const sidechain = makePublicClient({
      url: sidechainUrl,
      chainId: SIDECHAIN_CHAIN_ID,
      pollingIntervalMs: 50,
    })

    const wallets = new Map<string, Wallet>()
    const wallet = (chain: Chain, url: string, a: LocalAccount): Wallet => {
      const key = `${chain.id}:${a.address}`
      let w = wallets.get(key)
      if (w === undefined) {
        w = createWalletClient({
          chain,
          transport: http(url),
          account: a,
          pollingInterval: 50,
        }).extend(publicActions) as unknown as Wallet
        wallets.set(key, w)
      }
      return w
    }
    const l1Wallet = (a: LocalAccount) => wallet(l1Chain, anvil!.url, a)
    const sidechainWallet = (a: LocalAccount) => wallet(scChain, sidechainUrl, a)

    // L1: test token and vault.
    const token = await deployTestToken(
      l1Wallet(deployer) as unknown as WalletClient<Transport, Chain, Account>,
      l1,
      { name: 'Test Token', symbol: 'TST', decimals: 18 },
    )
    const limits = { maxPerTransaction: parseEther('1000'), windowLimit: parseEther('10000') }
    const vault = await deployVault(
      l1Wallet(deployer) as unknown as WalletClient<Transport, Chain, Account>,
      l1,
      {
        owner: deployer.address,
        guardian: deployer.address,
        signers: relayers.map((r) => r.address),
        threshold: THRESHOLD,
        tokens: [
          { token: zeroAddress, depositsEnabled: true, ...limits },
          { token: token.address, depositsEnabled: true, ...limits },
        ],
      },
    )
    for (const u of users) {
      const hash = await l1Wallet(deployer).writeContract({
        address: token.address,
        abi: testTokenAbi,
        functionName: 'mint',
        args: [u.address, parseEther('1000')],
      })
      await l1.waitForTransactionReceipt({ hash })
    }
    const bridge = await deploySidechainBridge(
      sidechainWallet(deployer) as unknown as WalletClient<Transport, Chain, Account>,
      sidechain,
      {
        owner: deployer.address,
        guardian: deployer.address,
        relayers: relayers.map((r) => r.address),
        threshold: THRESHOLD,
        l1ChainId: L1_CHAIN_ID,
        l1Vault: vault.address,
      },
    )

    if (opts.l1BlockTime !== undefined) {
      await l1Test.setAutomine(false)
      await l1Test.setIntervalMining({ interval: opts.l1BlockTime })
    } else if (opts.l1MineEveryMs !== undefined) {
      miner = setInterval(() => void l1Test.mine({ blocks: 1 }).catch(() => {}), opts.l1MineEveryMs)
    }

    // The relayers' light client trusts this genesis (read from our own node, not an endpoint they use).
    const genesisHash = (await sidechain.getBlock({ blockNumber: 0n })).hash

    const relayerKeyFiles = relayers.map((r, i) => {
      const file = path.join(dir.path, `relayer-${i}.key`)
      writeKeyFile(file, keyPairFromPrivateKey(hexToBytes(privateKeyOf(r))))
      return file
    })

    const baseConfig = (i: number): RelayerConfigInput => ({
      l1: {
        rpcUrl: anvil!.url,
        chainId: L1_CHAIN_ID,
        vault: vault.address,
        confirmations: opts.confirmations,
        startBlock: Number(vault.blockNumber),
        pollIntervalMs: opts.pollMs,
        stuckAfterMs: opts.l1StuckAfterMs,
        spendCap: '10',
      },
      sidechain: {
        rpcUrl: sidechainUrl,
        chainId: SIDECHAIN_CHAIN_ID,
        bridge: bridge.address,
        pollIntervalMs: opts.pollMs,
        lightClient: { checkpointHash: genesisHash },
      },
      relayer: {
        keyFile: relayerKeyFiles[i]!,
        index: i,
        count: relayers.length,
        insecureKey: true,
      },
      datadir: path.join(dir.path, `relayer-${i}`),
      metrics: { port: 0 },
      releaseTurnTimeoutMs: opts.releaseTurnTimeoutMs,
      auditIntervalMs: 0,
      logLevel: 'info',
    })
    const merge = (i: number, overrides: Partial<RelayerConfigInput> = {}): RelayerConfigInput => {
      const base = baseConfig(i)
      return {
        ...base,
        ...overrides,
        l1: { ...base.l1, ...overrides.l1 },
        sidechain: { ...base.sidechain, ...overrides.sidechain },
        relayer: { ...base.relayer, ...overrides.relayer },
      }
    }
    const relayerConfigFile = (i: number, overrides?: Partial<RelayerConfigInput>) => {
      const file = path.join(dir.path, `relayer-${i}.json`)
      writeFileSync(file, `${JSON.stringify(merge(i, overrides), null, 2)}\n`)
      return file
    }

    const env: BridgeEnv = {
      dir: dir.path,
      options: opts,
      anvil,
      l1,
      l1Test,
      node,
      sidechainUrl,
      sidechain,
      vault: vault.address,
      vaultBlock: vault.blockNumber,
      bridge: bridge.address,
      token: token.address,
      deployer,
      users,
      relayers,
      relayerKeyFiles,
      l1Wallet,
      sidechainWallet,
      isReleased: (withdrawalId) =>
        l1.readContract({
          address: vault.address,
          abi: bridgeVaultAbi,
          functionName: 'isProcessed',
          args: [BigInt(SIDECHAIN_CHAIN_ID), bridge.address, withdrawalId],
        }),
      async mine(n = 1) {
        await l1Test.mine({ blocks: n })
      },
      relayerConfigFile,
      spawnRelayer(i, spawnOptions = {}) {
        const file = relayerConfigFile(i, spawnOptions.overrides)
        killChildrenWithParent()
        const child = spawn(process.execPath, [CLI, 'relayer', '--config', file], {
          cwd: REPO_ROOT,
          env: { ...process.env, ...spawnOptions.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        liveChildren.add(child)
        child.once('exit', () => liveChildren.delete(child))
        const lines: string[] = []
        let resolvePort: (port: number) => void = () => {}
        const metricsPort = new Promise<number>((resolve) => {
          resolvePort = resolve
        })
        const onData = (chunk: Buffer) => {
          for (const line of chunk.toString('utf8').split('\n')) {
            if (line.length === 0) continue
            lines.push(line)
            if (process.env.BRIDGE_TEST_VERBOSE === '1')
              process.stderr.write(`[relayer ${i}] ${line}\n`)
            if (line.includes('"relayer started"')) {
              try {
                resolvePort((JSON.parse(line) as { metricsPort: number }).metricsPort)
              } catch {}
            }
          }
        }
        child.stdout!.on('data', onData)
        child.stderr!.on('data', onData)
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
          (resolve) => {
            child.once('exit', (code, signal) => resolve({ code, signal }))
          },
        )
        const proc: RelayerProcess = {
          index: i,
          child,
          lines,
          exited,
          metricsPort,
          async kill() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
            await exited
            children.delete(proc)
          },
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
            await exited
            clearTimeout(timer)
            children.delete(proc)
          },
        }
        children.add(proc)
        void exited.then(() => children.delete(proc))
        return proc
      },
      async startRelayer(i, overrides) {
        const config = parseRelayerConfig(merge(i, overrides))
        const relayer = new Relayer(config, { serveMetrics: false, crash: () => {} })
        inProcess.add(relayer)
        await relayer.start()
        return relayer
      },
      stop: cleanup,
    }
    return env
  } catch (err) {
    await cleanup()
    throw err
  }
}

/** The private key of a mnemonic account (viem's HD accounts expose it through getHdKey). */
export function privateKeyOf(a: LocalAccount): `0x${string}` {
  const key = (a as unknown as { getHdKey(): { privateKey: Uint8Array } }).getHdKey().privateKey
  return `0x${Buffer.from(key).toString('hex')}`
}

export async function waitForReceipt(client: PublicClient, hash: Hash) {
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 })
  if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`)
  return receipt
}

export { waitFor }

/** Value of one Prometheus sample from a relayer's /metrics (`labels` must match exactly the given ones). */
export async function scrapeMetric(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const found = Object.fromEntries(
      (m[3] ?? '')
        .split(',')
        .filter((p) => p.length > 0)
        .map((p) => {
          const [k, v] = p.split('=')
          return [k!, v!.replace(/^"|"$/g, '')]
        }),
    )
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[4])
  }
  return undefined
}
