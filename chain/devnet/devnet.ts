/**
 * The local devnet behind `npm start` (`sidechain devnet`): an anvil L1 with the bridge vault and a test ERC-20,
 * a genesis with N validators, the validators as separate node processes over libp2p on loopback, the sidechain
 * bridge, and R relayer processes with threshold M. Data lives under one folder and a restart resumes it.
 *
 * Start order: keys and genesis -> anvil -> L1 contracts -> validators -> first blocks -> sidechain bridge ->
 * relayers -> explorer and faucet -> bridge web app -> devnet.json. Stop order: in-process services -> relayers ->
 * validators -> anvil (it writes its state file on the way out).
 * A process that dies during the start fails the start (named with its log). Once running, the devnet is a
 * supervisor (supervisor.ts): a process that dies is reported and restarted with backoff while the rest keeps
 * running, and the operator can stop, start, pause or resume one process by name (control.ts).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs'
import path from 'node:path'
import type { Address } from 'viem'
import { uiConfigFromNetwork } from '../../bridge/ui/config.ts'
import { BridgeUiServer } from '../../bridge/ui/server.ts'
import { CREATE2_DEPLOYER_ADDRESS, MULTICALL3_ADDRESS } from '../../genesis/predeploys.ts'
import { Explorer } from '../explorer/explorer.ts'
import { Faucet } from '../faucet/faucet.ts'
import type { SidechainError } from '../lib/errors.ts'
import { foundryBinary } from '../lib/foundry.ts'
import { createLogger } from '../lib/logger.ts'
import { DEV_ACCOUNTS } from './accounts.ts'
import {
  chainClients,
  checkBridge,
  checkL1,
  deployBridge,
  deployL1,
  type L1Deployment,
} from './contracts.ts'
import { type ControlServer, startControlServer } from './control.ts'
import { DevnetError } from './errors.ts'
import {
  DEFAULTS,
  DEVNET_CONFIRMATIONS,
  type DevnetLayout,
  devnetLayout,
  L1_BLOCK_TIME_S,
  L1_CHAIN_ID,
  SIDECHAIN_CHAIN_ID,
} from './layout.ts'
import { type MonitoringPack, writeMonitoringPack } from './monitoring.ts'
import { createNetworkFiles, type NetworkKeys, nodePeerId, readNetworkKeys } from './network.ts'
import {
  checkPortsFree,
  freePorts,
  type ManagedProcess,
  type ProcessExit,
  processAlive,
} from './processes.ts'
import { relayerConfig } from './relayer-config.ts'
import { httpOk, pollUntil, rpcCall } from './rpc.ts'
import {
  readSavedSetup,
  resolveTopology,
  type SavedSetup,
  type Topology,
  type TopologyFlags,
  writeJsonAtomic,
} from './setup.ts'
import {
  type ProcessStatus,
  type RestartPolicy,
  Supervisor,
  type SupervisorEvent,
} from './supervisor.ts'

const CLI_PATH = path.resolve(import.meta.dirname, '../cli/main.ts')
/** Same heap setting as `npm start`: fewer scavenges while executing blocks. */
const NODE_FLAGS = ['--max-semi-space-size=64']

export interface DevnetOptions extends TopologyFlags {
  /** Data folder (default `.devnet`). */
  datadir: string
  /** Delete the data folder first. */
  fresh?: boolean
  /** First validator's JSON-RPC port; the others follow. 0 picks free ports. */
  rpcPort?: number
  /** First validator's libp2p port; the others follow. 0 picks free ports. */
  p2pPort?: number
  /** anvil's port. 0 picks a free one. */
  l1Port?: number
  /** First validator's metrics port (Prometheus, /health, /ready); the others follow. 0 picks free ports. */
  validatorMetricsPort?: number
  /** First relayer's metrics port; the others follow. 0 picks free ports. */
  relayerMetricsPort?: number
  /** The explorer's port. 0 picks a free one. */
  explorerPort?: number
  /** The faucet's port. 0 picks a free one. */
  faucetPort?: number
  /** Port of the bridge web app. 0 picks a free one. */
  uiPort?: number
  /** Log level of the nodes and relayers (default DEFAULTS.logLevel). */
  logLevel?: string
  /** Longest wait for one startup step (default DEFAULTS.stepTimeoutMs). */
  stepTimeoutMs?: number
  /** Aborting stops whatever was started and makes startDevnet throw DEVNET_ABORTED. */
  signal?: AbortSignal
  /** Extra `sidechain node` arguments for validator i (the e2e harness passes `--test-hooks <port>`). */
  nodeArgs?: (index: number) => string[]
  /** How processes that die are restarted (supervisor.ts DEFAULT_RESTART_POLICY). */
  restartPolicy?: Partial<RestartPolicy>
}

export interface DevnetProgress {
  step: number
  total: number
  text: string
}

export interface DevnetModules {
  /** Called when a startup step begins. */
  progress?: (event: DevnetProgress) => void
  /** A process exited, is restarted, was given up on, or was stopped/started/paused/resumed by name. */
  onProcessEvent?: (event: SupervisorEvent) => void
}

/** `devnet.json`: what tools need to talk to the devnet (the bridge commands read it with --network). */
export interface DevnetInfo {
  l1: {
    rpcUrl: string
    wsUrl: string
    chainId: number
    vault: Address
    /** Allow-listed test tokens by symbol. */
    tokens: Record<string, Address>
    /** L1 blocks a deposit waits for before the relayers confirm it (or the L1 `finalized` tag). */
    confirmations: number | 'finalized'
    /** Block of the vault deployment (first block worth scanning for bridge logs). */
    deployBlock: number
  }
  l2: {
    rpcUrls: string[]
    wsUrls: string[]
    chainId: number
    bridge: Address
    /** Block of the bridge deployment. */
    startBlock: number
    blockTimeMs: number
    multicall3: Address
    create2Deployer: Address
  }
  accounts: Array<{ address: Address; privateKey: `0x${string}` }>
  /** metricsUrl: Prometheus `/metrics` (the same server answers `/health` and `/ready`); null where none. */
  validators: Array<{ address: Address; rpcUrl: string; metricsUrl: string | null }>
  relayers: Array<{ address: Address; metricsUrl: string }>
  bridge: { threshold: number; owner: Address; guardian: Address }
  /**
   * Prometheus configuration with every validator and relayer as a target, alert rules, Grafana dashboards.
   * Written by the devnet; absent from `sidechain network deploy` (the compose network's pack is docker/monitoring).
   */
  monitoring?: MonitoringPack
  /** The explorer (pages, /api/v1, Etherscan-compatible /api for verification). */
  explorer?: { url: string; apiUrl: string }
  /** The faucet page; `POST <url>/api/claim` with {"address"}. Pays from dev account #9. */
  faucet?: { url: string; account: Address }
  /** URL of the bridge web app (served by the devnet process; absent where none runs). */
  ui?: string
  datadir: string
  logs: Record<string, string>
}

export interface DevnetProcessInfo {
  name: string
  pid: number
  logFile: string
}

export interface Devnet {
  readonly info: DevnetInfo
  readonly layout: DevnetLayout
  readonly topology: Topology
  /** True when an existing devnet was resumed. */
  readonly resumed: boolean
  /** The processes running now (a restarted process has a new pid). */
  processes(): DevnetProcessInfo[]
  /** One process by name (`validator-2`, `relayer-0`, `anvil`): what the control channel serves. */
  readonly control: DevnetControl
  /** Stops relayers, validators and anvil, in that order. Idempotent. */
  stop(): Promise<void>
}

export interface DevnetControl {
  status(): ProcessStatus[]
  /** Stops it; it stays stopped (no restart) until `start`. */
  stop(name: string): Promise<ProcessStatus>
  start(name: string): ProcessStatus
  /** SIGSTOP: frozen with its sockets open. */
  pause(name: string): ProcessStatus
  resume(name: string): ProcessStatus
}

interface Ports {
  rpc: number[]
  p2p: number[]
  l1: number
  validatorMetrics: number[]
  relayerMetrics: number[]
  explorer: number
  faucet: number
  ui: number
}

interface LockFile {
  pid: number
  processes: Array<{ name: string; pid: number }>
  /** The control channel's unix socket, once the devnet runs. */
  control?: string
}

const STEPS = 9

export async function startDevnet(
  options: DevnetOptions,
  modules: DevnetModules = {},
): Promise<Devnet> {
  const layout = devnetLayout(path.resolve(options.datadir))
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULTS.stepTimeoutMs
  const logLevel = options.logLevel ?? DEFAULTS.logLevel
  let step = 0
  const progress = (text: string) => modules.progress?.({ step: ++step, total: STEPS, text })

  refuseIfRunning(layout)
  if (options.fresh === true) rmSync(layout.root, { recursive: true, force: true })
  const saved = readSavedSetup(layout.setupJson)
  const topology = resolveTopology(options, saved)
  mkdirSync(layout.logsDir, { recursive: true })
  mkdirSync(layout.l1Dir, { recursive: true })
  const ports = await allocatePorts(options, topology)

  // From here on every started process is tracked, and any failure stops them all.
  let failure: SidechainError | undefined
  let control: ControlServer | undefined
  const group = new Supervisor(
    { policy: options.restartPolicy },
    {
      onStartupExit: (p, exit) => {
        failure ??= processDied(p, exit)
      },
      onEvent: (event) => {
        // A restarted process has a new pid: the lock file names what runs now.
        if ((event.type === 'started' || event.type === 'stopped') && stopping === undefined) {
          writeLock()
        }
        modules.onProcessEvent?.(event)
      },
    },
  )
  const guard = () => {
    if (failure !== undefined) throw failure
    if (options.signal?.aborted === true) {
      throw new DevnetError('DEVNET_ABORTED', 'devnet start interrupted')
    }
  }
  const writeLock = () => {
    const lock: LockFile = {
      pid: process.pid,
      processes: group.all
        .filter((p) => p.pid !== undefined && p.running)
        .map((p) => ({ name: p.name, pid: p.pid! })),
      ...(control === undefined ? {} : { control: control.socketPath }),
    }
    writeJsonAtomic(layout.lockFile, lock)
  }
  let ui: BridgeUiServer | undefined
  let stopping: Promise<void> | undefined
  const services: Array<{ stop(): Promise<void> }> = []
  const stopAll = () => {
    stopping ??= (async () => {
      group.shutdown()
      await control?.close()
      // In-process services first: they follow the validators.
      await Promise.allSettled(services.map((s) => s.stop()))
      await ui?.stop()
      await group.stopWhere((p) => p.name.startsWith('relayer-'), 10_000)
      await group.stopWhere((p) => p.name.startsWith('validator-'), 15_000)
      // anvil writes its whole state on the way out; give it time.
      await group.stopWhere(() => true, 30_000)
      group.dispose()
      try {
        unlinkSync(layout.lockFile)
      } catch {}
    })()
    return stopping
  }
  writeLock()

  try {
    // 1. Keys and genesis.
    let setup: SavedSetup
    let keys: NetworkKeys
    if (saved === undefined) {
      progress(
        `creating keys and a genesis with ${topology.validators} validator${topology.validators > 1 ? 's' : ''}, ${DEV_ACCOUNTS.length} funded dev accounts, Multicall3 and the CREATE2 deployer`,
      )
      keys = createNetworkFiles({
        outDir: layout.networkDir,
        chainId: SIDECHAIN_CHAIN_ID,
        validators: topology.validators,
        relayers: topology.relayers,
        blockTimeMs: topology.blockTimeMs,
      })
      setup = {
        version: 1,
        createdAt: new Date().toISOString(),
        ...topology,
        l1ChainId: L1_CHAIN_ID,
        chainId: SIDECHAIN_CHAIN_ID,
        validatorAddresses: keys.validators.map((v) => v.addressHex),
        relayerAddresses: keys.relayers.map((r) => r.addressHex),
      }
      writeJsonAtomic(layout.setupJson, setup)
    } else {
      progress(`resuming the devnet in ${displayPath(layout.root)} (--fresh starts over)`)
      setup = saved
      keys = readNetworkKeys(layout.networkDir, saved.validators, saved.relayers)
    }
    const peerIds = await Promise.all(
      keys.validators.map((_, i) => nodePeerId(layout.validatorDatadir(i))),
    )
    guard()

    // 2. L1.
    const l1Url = `http://127.0.0.1:${ports.l1}`
    progress(
      `starting the L1 (anvil, chain ${setup.l1ChainId}, ${L1_BLOCK_TIME_S} s blocks) on ${l1Url}`,
    )
    const anvil = group.spawn(
      {
        name: 'anvil',
        command: foundryBinary('anvil'),
        args: [
          '--host',
          '127.0.0.1',
          '--port',
          String(ports.l1),
          '--chain-id',
          String(setup.l1ChainId),
          '--block-time',
          String(L1_BLOCK_TIME_S),
          '--state',
          layout.l1State,
        ],
        logFile: layout.log('anvil'),
      },
      {
        noRestart:
          'anvil writes its state only when it stops cleanly, so a restarted anvil would take the L1 back to its last saved state (a deep reorg for the relayers); stop the devnet and start it with --fresh',
      },
    )
    writeLock()
    await pollUntil(
      async () => (await rpcCall<string>(l1Url, 'eth_chainId')) === hex(setup.l1ChainId),
      {
        what: `anvil to answer on ${l1Url} (log: ${anvil.logFile})`,
        timeoutMs: stepTimeoutMs,
        guard,
      },
    )
    const l1 = chainClients(l1Url, setup.l1ChainId, 'devnet L1')

    // 3. L1 contracts.
    // The devnet's L1 is anvil: it always has the test token.
    let l1Deployment: Required<L1Deployment>
    if (setup.l1 === undefined) {
      progress('deploying the L1 contracts (vault, test token TST) and funding the relayers')
      const deployed = await deployL1(l1, {
        relayers: setup.relayerAddresses as Address[],
        threshold: setup.threshold,
        blockTimeS: L1_BLOCK_TIME_S,
        anvil: true,
        testToken: true,
      })
      if (deployed.token === undefined || deployed.tokenSymbol === undefined) {
        throw new DevnetError('DEVNET_DEPLOY_FAILED', 'the test token was not deployed')
      }
      l1Deployment = { ...deployed, token: deployed.token, tokenSymbol: deployed.tokenSymbol }
      setup = { ...setup, l1: l1Deployment }
      writeJsonAtomic(layout.setupJson, setup)
    } else {
      progress('checking the L1 contracts')
      l1Deployment = setup.l1 as Required<L1Deployment>
      await checkL1(l1, l1Deployment, layout.l1State)
    }
    guard()

    // 4. Validators.
    const rpcUrls = ports.rpc.map((p) => `http://127.0.0.1:${p}`)
    const multiaddrs = peerIds.map((id, i) => `/ip4/127.0.0.1/tcp/${ports.p2p[i]}/p2p/${id}`)
    progress(
      `starting ${topology.validators} validator${topology.validators > 1 ? 's' : ''} (${topology.blockTimeMs} ms blocks) and waiting for them to finalize blocks; validators and relayers run from plain-text keys (--insecure-key): fine for a devnet, never for real funds`,
    )
    const validators = keys.validators.map((_, i) => {
      const bootnodes = multiaddrs.filter((_, j) => j !== i)
      return group.spawn({
        name: `validator-${i}`,
        command: process.execPath,
        args: [
          ...NODE_FLAGS,
          CLI_PATH,
          'node',
          '--genesis',
          keys.genesisPath,
          '--datadir',
          layout.validatorDatadir(i),
          '--validator-key',
          layout.validatorKey(i),
          // Devnet keys are plain-text files next to the chain they run: throwaway by design.
          '--insecure-key',
          '--rpc-host',
          '127.0.0.1',
          '--rpc-port',
          String(ports.rpc[i]),
          '--rpc-cors',
          '*',
          // A local chain for developers: `cast run`, forge and the explorer's traces need
          // debug_, `sidechain status` and the explorer read qbft_ status; admin_ (which also
          // gates the qbft_ votes) stays off, since any web page may call this port.
          '--rpc-api',
          'eth,net,web3,txpool,debug,qbft',
          '--p2p-host',
          '127.0.0.1',
          '--p2p-port',
          String(ports.p2p[i]),
          '--metrics-host',
          '127.0.0.1',
          '--metrics-port',
          String(ports.validatorMetrics[i]),
          ...(bootnodes.length > 0 ? ['--bootnodes', bootnodes.join(',')] : []),
          '--log-level',
          logLevel,
          ...(options.nodeArgs?.(i) ?? []),
        ],
        logFile: layout.log(`validator-${i}`),
      })
    })
    writeLock()
    await waitForBlocks(rpcUrls, validators, { timeoutMs: stepTimeoutMs, guard })
    guard()

    // 5. Sidechain bridge.
    const sidechain = chainClients(rpcUrls[0]!, setup.chainId, 'devnet sidechain')
    if (setup.l2 === undefined) {
      progress('deploying the sidechain bridge')
      const deployed = await deployBridge(l1, sidechain, {
        relayers: setup.relayerAddresses as Address[],
        threshold: setup.threshold,
        l1ChainId: setup.l1ChainId,
        vault: l1Deployment.vault,
        // The devnet's vault is new and this is its first bridge: it mints every deposit.
        firstDepositId: 0n,
      })
      setup = { ...setup, l2: deployed }
      writeJsonAtomic(layout.setupJson, setup)
    } else {
      progress('checking the sidechain bridge')
      await checkBridge(sidechain, {
        bridge: setup.l2.bridge as Address,
        vault: l1Deployment.vault,
      })
    }
    const bridge = setup.l2!.bridge as Address
    guard()

    // 6. Relayers.
    progress(
      `starting ${topology.relayers} relayer${topology.relayers > 1 ? 's' : ''} (threshold ${topology.threshold})`,
    )
    // The light client's checkpoint: the genesis of the validators this devnet started.
    const genesisHash = (
      await rpcCall<{ hash: `0x${string}` }>(rpcUrls[0]!, 'eth_getBlockByNumber', ['0x0', false])
    ).hash
    const relayers = keys.relayers.map((_, i) => {
      const config = relayerConfig({
        genesisHash,
        l1RpcUrl: l1Url,
        l1ChainId: setup.l1ChainId,
        vault: l1Deployment.vault,
        vaultBlock: l1Deployment.vaultBlock,
        confirmations: DEVNET_CONFIRMATIONS,
        // Spread over the validators, so one validator down stalls at most its relayers' reads.
        sidechainRpcUrl: rpcUrls[i % rpcUrls.length]!,
        chainId: setup.chainId,
        bridge,
        keyFile: layout.relayerKey(i),
        index: i,
        count: topology.relayers,
        datadir: layout.relayerDatadir(i),
        metricsHost: '127.0.0.1',
        metricsPort: ports.relayerMetrics[i]!,
        logLevel,
      })
      writeJsonAtomic(layout.relayerConfig(i), config)
      mkdirSync(layout.relayerDatadir(i), { recursive: true })
      return group.spawn({
        name: `relayer-${i}`,
        command: process.execPath,
        args: [...NODE_FLAGS, CLI_PATH, 'relayer', '--config', layout.relayerConfig(i)],
        logFile: layout.log(`relayer-${i}`),
      })
    })
    writeLock()
    await Promise.all(
      relayers.map((r, i) =>
        pollUntil(() => httpOk(`http://127.0.0.1:${ports.relayerMetrics[i]}/ready`), {
          what: `${r.name} to be ready (log: ${displayPath(r.logFile)})`,
          timeoutMs: stepTimeoutMs,
          guard,
        }),
      ),
    )
    guard()

    // 7. Explorer and faucet, in this process: they follow validator-0 over JSON-RPC.
    progress('starting the explorer and the faucet')
    const explorer = new Explorer(
      {
        rpcUrl: rpcUrls[0]!,
        datadir: path.join(layout.root, 'explorer'),
        port: ports.explorer,
        chainName: 'sidechain devnet',
        bridgeUiUrl: `http://127.0.0.1:${ports.ui}/`,
      },
      { logger: createLogger({ level: 'warn' }).child({ service: 'explorer' }) },
    )
    await explorer.start()
    services.push(explorer)
    const faucetAccount = DEV_ACCOUNTS[DEV_ACCOUNTS.length - 1]!
    const faucet = new Faucet(
      {
        rpcUrl: rpcUrls[0]!,
        datadir: path.join(layout.root, 'faucet'),
        port: ports.faucet,
        chainName: 'sidechain devnet',
        explorerUrl: explorer.url,
      },
      {
        logger: createLogger({ level: 'warn' }).child({ service: 'faucet' }),
        privateKey: faucetAccount.privateKey,
      },
    )
    await faucet.start()
    services.push(faucet)
    guard()

    // 8. The bridge web app, in this process: it only serves files and the network's addresses.
    const uiUrl = `http://127.0.0.1:${ports.ui}/`
    progress(`serving the bridge web app on ${uiUrl}`)
    const owner = DEV_ACCOUNTS[0].address
    const info: DevnetInfo = {
      l1: {
        rpcUrl: l1Url,
        wsUrl: `ws://127.0.0.1:${ports.l1}`,
        chainId: setup.l1ChainId,
        vault: l1Deployment.vault,
        tokens: { [l1Deployment.tokenSymbol]: l1Deployment.token },
        confirmations: DEVNET_CONFIRMATIONS,
        deployBlock: l1Deployment.vaultBlock,
      },
      l2: {
        rpcUrls,
        wsUrls: ports.rpc.map((p) => `ws://127.0.0.1:${p}`),
        chainId: setup.chainId,
        bridge,
        startBlock: setup.l2!.bridgeBlock,
        blockTimeMs: topology.blockTimeMs,
        multicall3: MULTICALL3_ADDRESS,
        create2Deployer: CREATE2_DEPLOYER_ADDRESS,
      },
      accounts: DEV_ACCOUNTS.map((a) => ({ address: a.address, privateKey: a.privateKey })),
      validators: keys.validators.map((v, i) => ({
        address: v.addressHex,
        rpcUrl: rpcUrls[i]!,
        metricsUrl: `http://127.0.0.1:${ports.validatorMetrics[i]}/metrics`,
      })),
      relayers: keys.relayers.map((r, i) => ({
        address: r.addressHex,
        metricsUrl: `http://127.0.0.1:${ports.relayerMetrics[i]}/metrics`,
      })),
      bridge: { threshold: topology.threshold, owner, guardian: owner },
      monitoring: writeMonitoringPack(layout.monitoringDir, {
        validators: ports.validatorMetrics.map((p, i) => ({
          name: `validator-${i}`,
          metricsUrl: `http://127.0.0.1:${p}/metrics`,
        })),
        relayers: ports.relayerMetrics.map((p, i) => ({
          name: `relayer-${i}`,
          metricsUrl: `http://127.0.0.1:${p}/metrics`,
        })),
      }),
      explorer: { url: explorer.url, apiUrl: `${explorer.url}/api` },
      faucet: { url: faucet.url, account: faucetAccount.address },
      ui: uiUrl,
      datadir: layout.root,
      logs: Object.fromEntries(group.all.map((p) => [p.name, p.logFile])),
    }
    ui = new BridgeUiServer({
      host: '127.0.0.1',
      port: ports.ui,
      config: uiConfigFromNetwork(info, layout.devnetJson),
    })
    await ui.start()
    guard()

    // 9. devnet.json.
    progress(`writing ${displayPath(layout.devnetJson)}`)
    writeJsonAtomic(layout.devnetJson, info)
    guard()
    group.supervise()
    control = await startControlServer(layout, group)
    writeLock()
    return {
      info,
      layout,
      topology,
      resumed: saved !== undefined,
      processes: () =>
        group.all
          .filter((p) => p.pid !== undefined && p.running)
          .map((p) => ({ name: p.name, pid: p.pid!, logFile: p.logFile })),
      control: {
        status: () => group.status(),
        stop: (name) => group.stop(name),
        start: (name) => group.start(name),
        pause: (name) => group.pause(name),
        resume: (name) => group.resume(name),
      },
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw failure ?? err
  }
}

/** Every validator answers and has finalized a block past the height it started at. */
async function waitForBlocks(
  rpcUrls: string[],
  validators: ManagedProcess[],
  options: { timeoutMs: number; guard: () => void },
): Promise<void> {
  const startHeads = new Map<number, number>()
  await pollUntil(
    async () => {
      const heads = await Promise.all(
        rpcUrls.map((url) => rpcCall<string>(url, 'eth_blockNumber').then(Number, () => undefined)),
      )
      heads.forEach((h, i) => {
        if (h !== undefined && !startHeads.has(i)) startHeads.set(i, h)
      })
      if (startHeads.size < rpcUrls.length) return false
      const target = Math.max(...startHeads.values()) + 1
      return heads.every((h) => h !== undefined && h >= target)
    },
    {
      what: `the validators to finalize a block (logs: ${validators.map((v) => displayPath(v.logFile)).join(', ')})`,
      timeoutMs: options.timeoutMs,
      intervalMs: 300,
      guard: options.guard,
    },
  )
}

async function allocatePorts(options: DevnetOptions, topology: Topology): Promise<Ports> {
  const n = topology.validators
  const r = topology.relayers
  const ranges = {
    rpc: { base: options.rpcPort ?? DEFAULTS.rpcPort, count: n, what: 'validator JSON-RPC' },
    p2p: { base: options.p2pPort ?? DEFAULTS.p2pPort, count: n, what: 'validator p2p' },
    l1: { base: options.l1Port ?? DEFAULTS.l1Port, count: 1, what: 'L1 anvil' },
    validatorMetrics: {
      base: options.validatorMetricsPort ?? DEFAULTS.validatorMetricsPort,
      count: n,
      what: 'validator metrics',
    },
    relayerMetrics: {
      base: options.relayerMetricsPort ?? DEFAULTS.relayerMetricsPort,
      count: r,
      what: 'relayer metrics',
    },
    explorer: { base: options.explorerPort ?? DEFAULTS.explorerPort, count: 1, what: 'explorer' },
    faucet: { base: options.faucetPort ?? DEFAULTS.faucetPort, count: 1, what: 'faucet' },
    ui: { base: options.uiPort ?? DEFAULTS.uiPort, count: 1, what: 'bridge web app' },
  }
  const wantFree = Object.values(ranges)
    .filter((g) => g.base === 0)
    .reduce((sum, g) => sum + g.count, 0)
  const free = wantFree > 0 ? await freePorts(wantFree) : []
  const fixed: Array<{ port: number; what: string }> = []
  const pick = (g: { base: number; count: number; what: string }) => {
    if (g.base === 0) return free.splice(0, g.count)
    if (g.base + g.count - 1 > 65_535) {
      throw new DevnetError(
        'DEVNET_FLAGS_INVALID',
        `${g.what} ports ${g.base}..${g.base + g.count - 1} go past 65535`,
      )
    }
    const ports = Array.from({ length: g.count }, (_, i) => g.base + i)
    for (const [i, port] of ports.entries()) {
      fixed.push({ port, what: g.count > 1 ? `${g.what} #${i}` : g.what })
    }
    return ports
  }
  const ports: Ports = {
    rpc: pick(ranges.rpc),
    p2p: pick(ranges.p2p),
    l1: pick(ranges.l1)[0]!,
    validatorMetrics: pick(ranges.validatorMetrics),
    relayerMetrics: pick(ranges.relayerMetrics),
    explorer: pick(ranges.explorer)[0]!,
    faucet: pick(ranges.faucet)[0]!,
    ui: pick(ranges.ui)[0]!,
  }
  const seen = new Map<number, string>()
  for (const { port, what } of fixed) {
    const other = seen.get(port)
    if (other !== undefined) {
      throw new DevnetError(
        'DEVNET_FLAGS_INVALID',
        `port ${port} would serve both ${other} and ${what}; choose other port flags`,
      )
    }
    seen.set(port, what)
  }
  await checkPortsFree(fixed)
  return ports
}

/** Refuses to start while an earlier run from the same folder (or one of its processes) is alive. */
function refuseIfRunning(layout: DevnetLayout): void {
  if (!existsSync(layout.lockFile)) return
  let lock: LockFile
  try {
    lock = JSON.parse(readFileSync(layout.lockFile, 'utf8')) as LockFile
  } catch {
    return
  }
  if (lock.pid !== process.pid && processAlive(lock.pid)) {
    throw new DevnetError(
      'DEVNET_BUSY',
      `a devnet is already running from ${displayPath(layout.root)} (pid ${lock.pid}). Stop it first (Ctrl-C in its terminal, or kill ${lock.pid}), or use another --datadir`,
    )
  }
  const alive = (lock.processes ?? []).filter((p) => processAlive(p.pid, layout.root))
  if (alive.length > 0) {
    throw new DevnetError(
      'DEVNET_BUSY',
      `processes of an earlier devnet run from ${displayPath(layout.root)} are still running: ${alive.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}. Stop them with: kill ${alive.map((p) => p.pid).join(' ')}`,
    )
  }
}

function processDied(p: ManagedProcess, exit: ProcessExit): SidechainError {
  const how =
    exit.signal !== null
      ? `was killed by ${exit.signal}`
      : exit.code === null
        ? 'could not be started'
        : `exited with code ${exit.code}`
  const tail = p.logTail(12)
  return new DevnetError(
    'DEVNET_PROCESS_EXITED',
    `${p.name} ${how} unexpectedly; its log is ${displayPath(p.logFile)}${tail === '' ? '' : `. Last lines:\n${indent(tail)}`}`,
    { details: { process: p.name, log: p.logFile, code: exit.code, signal: exit.signal } },
  )
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  | ${l.length > 300 ? `${l.slice(0, 297)}...` : l}`)
    .join('\n')
}

/** A path relative to the working directory when it is inside it (shorter in messages). */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)
    ? relative
    : file
}

function hex(n: number): string {
  return `0x${n.toString(16)}`
}
