/**
 * Where a devnet keeps its data (one folder, `.devnet/` by default) and the fixed parameters of the local
 * topology. Everything a restart needs lives here: keys, genesis, anvil's state file, node and relayer datadirs,
 * the saved setup (flags and contract addresses) and the logs.
 *
 *   <root>/devnet.json            endpoints, addresses and dev keys for tools (`sidechain bridge --network`)
 *   <root>/setup.json             what the devnet was created with and deployed (used to resume)
 *   <root>/devnet.lock            pids of the running orchestrator and its processes, and its control socket
 *   <root>/control.sock           control channel of the running devnet (`sidechain devnet stop <name>`, ...)
 *   <root>/network/genesis.json   sidechain genesis (validators, funded accounts, Multicall3, CREATE2 deployer)
 *   <root>/network/validator-<i>.key, relayer-<i>.key   keys (0600)
 *   <root>/network/relayer-<i>.json                    relayer configs (rewritten at each start: ports may move)
 *   <root>/l1/state.json          anvil state (`--state`): saved when anvil stops, loaded when it starts
 *   <root>/validator-<i>/         node datadir (chaindata, nodekey)
 *   <root>/relayer-<i>/           relayer journal and cursors
 *   <root>/logs/<name>.log        one log per process (anvil, validator-<i>, relayer-<i>)
 *   <root>/monitoring/            prometheus.yml (this devnet's targets), rules.yml, grafana/ (rewritten at each start)
 */
import path from 'node:path'

export interface DevnetLayout {
  root: string
  devnetJson: string
  setupJson: string
  lockFile: string
  controlSocket: string
  networkDir: string
  genesis: string
  l1Dir: string
  l1State: string
  logsDir: string
  monitoringDir: string
  validatorKey(i: number): string
  validatorDatadir(i: number): string
  relayerKey(i: number): string
  relayerConfig(i: number): string
  relayerDatadir(i: number): string
  log(name: string): string
}

export function devnetLayout(root: string): DevnetLayout {
  const networkDir = path.join(root, 'network')
  const l1Dir = path.join(root, 'l1')
  const logsDir = path.join(root, 'logs')
  return {
    root,
    devnetJson: path.join(root, 'devnet.json'),
    setupJson: path.join(root, 'setup.json'),
    lockFile: path.join(root, 'devnet.lock'),
    controlSocket: path.join(root, 'control.sock'),
    networkDir,
    genesis: path.join(networkDir, 'genesis.json'),
    l1Dir,
    l1State: path.join(l1Dir, 'state.json'),
    logsDir,
    monitoringDir: path.join(root, 'monitoring'),
    validatorKey: (i) => path.join(networkDir, `validator-${i}.key`),
    validatorDatadir: (i) => path.join(root, `validator-${i}`),
    relayerKey: (i) => path.join(networkDir, `relayer-${i}.key`),
    relayerConfig: (i) => path.join(networkDir, `relayer-${i}.json`),
    relayerDatadir: (i) => path.join(root, `relayer-${i}`),
    log: (name) => path.join(logsDir, `${name}.log`),
  }
}

/** anvil's default chain id: wallets and tools know it as "local L1". */
export const L1_CHAIN_ID = 31337
/** Sidechain chain id (MetaMask's "Localhost 8545" preset uses it too). */
export const SIDECHAIN_CHAIN_ID = 1337
/** Seconds between L1 blocks. */
export const L1_BLOCK_TIME_S = 1
/** L1 blocks a deposit needs before relayers confirm it (its own block counts). */
export const DEVNET_CONFIRMATIONS = 2

export const DEFAULTS = {
  validators: 4,
  relayers: 3,
  threshold: 2,
  blockTimeMs: 1000,
  rpcPort: 8545,
  p2pPort: 30303,
  l1Port: 8645,
  /** geth's metrics port. */
  validatorMetricsPort: 6060,
  relayerMetricsPort: 9464,
  explorerPort: 8600,
  faucetPort: 8700,
  /** The bridge web app (the `sidechain ui` default too). */
  uiPort: 8500,
  logLevel: 'info',
  /** Longest wait for one startup step. */
  stepTimeoutMs: 120_000,
} as const

export const LIMITS = {
  validators: { min: 1, max: 16 },
  relayers: { min: 1, max: 16 },
  blockTimeMs: { min: 100, max: 60_000 },
} as const
