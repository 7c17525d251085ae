/**
 * The devnet topology for several hosts (docker/compose.yaml, or one machine per validator), in two one-shot steps:
 *
 *   `sidechain network init`    before anything runs: genesis (with the predeploys), validator, relayer and node keys,
 *                               and for each validator the bootnode list of the others (by host name), into one folder.
 *   `sidechain network deploy`  once the L1 and the validators answer: the L1 vault and test token, the sidechain
 *                               bridge, the relayer configs and a devnet.json network file.
 *
 * Both are idempotent: run again, they check what exists and only fill in what is missing (a compose restart
 * re-runs them).
 *
 * Files in the network folder:
 *   genesis.json, validator-<i>.key, relayer-<i>.key (0600; V3 keystores with --encrypt-keys), nodekey-<i> (libp2p key, 0600),
 *   bootnodes-<i>.txt (comma-separated multiaddrs of the other validators), network.json (what init made),
 *   deployment.json (contract addresses), relayer-<i>.json (relayer configs), devnet.json (for tools).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { isIP } from 'node:net'
import path from 'node:path'
import type { Address, Hex } from 'viem'
import { CREATE2_DEPLOYER_ADDRESS, MULTICALL3_ADDRESS } from '../../genesis/predeploys.ts'
import { encryptKeystore, type ScryptParams, writeKeystoreFile } from '../lib/keystore.ts'
import { loadOrCreateNodeKey, peerIdOfKey } from '../p2p/libp2p.ts'
import { DEV_ACCOUNTS } from './accounts.ts'
import {
  chainClients,
  checkBridge,
  checkL1,
  deployBridge,
  deployL1,
  GAS_DROP,
  isAnvil,
  type L1Deployment,
  wantsTestToken,
} from './contracts.ts'
import type { DevnetInfo } from './devnet.ts'
import { NetworkSetupError } from './errors.ts'
import { createNetworkFiles } from './network.ts'
import { relayerConfig } from './relayer-config.ts'
import { pollUntil, rpcCall } from './rpc.ts'
import { writeJsonAtomic } from './setup.ts'

export interface HostPort {
  host: string
  port: number
}

/** Parses `host[:port]` (default port 30303). */
export function parseHostPort(value: string, defaultPort = 30303): HostPort {
  const match = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(value.trim())
  const port = match?.[2] === undefined ? defaultPort : Number(match[2])
  if (match === null || port < 1 || port > 65_535) {
    throw new NetworkSetupError('NETWORK_FLAGS_INVALID', `${value} is not host[:port]`)
  }
  return { host: match[1]!, port }
}

/** A libp2p multiaddr for a host name or IPv4/IPv6 address. */
export function peerMultiaddr({ host, port }: HostPort, peerId: string): string {
  const kind = isIP(host) === 4 ? 'ip4' : isIP(host) === 6 ? 'ip6' : 'dns4'
  return `/${kind}/${host}/tcp/${port}/p2p/${peerId}`
}

export interface NetworkInitOptions {
  out: string
  /** Where each validator's p2p port is reachable from the others; one entry per validator. */
  validatorHosts: HostPort[]
  relayers: number
  chainId: number
  blockTimeMs: number
  devAccounts: boolean
  fund?: Array<{ address: string; balanceWei: bigint }>
  /**
   * Write the validator and relayer keys as V3 keystores under this password (same file
   * names), so nodes run without --insecure-key and relayers without insecureKey.
   */
  encryptKeys?: { password: string; scrypt?: ScryptParams }
}

export interface NetworkDescription {
  chainId: number
  blockTimeMs: number
  validators: Array<{
    address: Address
    host: string
    p2pPort: number
    peerId: string
    multiaddr: string
    keyFile: string
    nodeKeyFile: string
    bootnodesFile: string
  }>
  relayers: Array<{ address: Address; keyFile: string }>
  /** The key files are V3 keystores (`--encrypt-keys`); absent on older folders: plain. */
  encryptedKeys?: boolean
}

const NETWORK_JSON = 'network.json'
const DEPLOYMENT_JSON = 'deployment.json'

export function readNetworkDescription(dir: string): NetworkDescription | undefined {
  const file = path.join(dir, NETWORK_JSON)
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, 'utf8')) as NetworkDescription
}

/** `sidechain network init`. Returns what exists and whether this call created it. */
export async function networkInit(
  options: NetworkInitOptions,
): Promise<{ created: boolean; network: NetworkDescription }> {
  const out = path.resolve(options.out)
  const existing = readNetworkDescription(out)
  if (existing !== undefined) {
    const same =
      existing.chainId === options.chainId &&
      existing.relayers.length === options.relayers &&
      existing.validators.length === options.validatorHosts.length &&
      existing.validators.every(
        (v, i) =>
          v.host === options.validatorHosts[i]!.host &&
          v.p2pPort === options.validatorHosts[i]!.port,
      )
    if (!same) {
      throw new NetworkSetupError(
        'NETWORK_FLAGS_INVALID',
        `${out} already holds a network with ${existing.validators.length} validators (${existing.validators.map((v) => `${v.host}:${v.p2pPort}`).join(', ')}), ${existing.relayers.length} relayers and chain id ${existing.chainId}; these flags describe another one. Use an empty folder (or delete the volume) to create a new network`,
      )
    }
    return { created: false, network: existing }
  }
  mkdirSync(out, { recursive: true })
  const leftovers = readdirSync(out).filter((f) => !f.startsWith('.'))
  if (leftovers.length > 0) {
    throw new NetworkSetupError(
      'NETWORK_STATE_INVALID',
      `${out} holds files (${leftovers.slice(0, 5).join(', ')}) but no ${NETWORK_JSON}: an earlier init was interrupted or this is another folder. Empty it first`,
    )
  }
  // Keys and genesis are made in a hidden folder and moved in one by one; network.json comes last and marks
  // a complete init (the folder may be a volume mount, which cannot itself be renamed).
  const staging = path.join(out, `.init-${process.pid}`)
  rmSync(staging, { recursive: true, force: true })
  const keys = createNetworkFiles({
    outDir: staging,
    chainId: options.chainId,
    validators: options.validatorHosts.length,
    relayers: options.relayers,
    blockTimeMs: options.blockTimeMs,
    devAccounts: options.devAccounts,
    fund: options.fund,
  })
  if (options.encryptKeys !== undefined) {
    const { password, scrypt } = options.encryptKeys
    const files = [
      ...keys.validators.map((pair, i) => ({ pair, file: `validator-${i}.key` })),
      ...keys.relayers.map((pair, i) => ({ pair, file: `relayer-${i}.key` })),
    ]
    for (const { pair, file } of files) {
      const target = path.join(staging, file)
      const encrypted = `${target}.keystore`
      writeKeystoreFile(encrypted, await encryptKeystore(pair, password, scrypt))
      // The plain file is replaced, never left beside the keystore.
      renameSync(encrypted, target)
    }
  }
  const peerIds: string[] = []
  for (let i = 0; i < options.validatorHosts.length; i++) {
    peerIds.push(peerIdOfKey(await loadOrCreateNodeKey(path.join(staging, `nodekey-${i}`))))
  }
  const multiaddrs = options.validatorHosts.map((h, i) => peerMultiaddr(h, peerIds[i]!))
  const network: NetworkDescription = {
    chainId: options.chainId,
    blockTimeMs: options.blockTimeMs,
    validators: keys.validators.map((v, i) => ({
      address: v.addressHex,
      host: options.validatorHosts[i]!.host,
      p2pPort: options.validatorHosts[i]!.port,
      peerId: peerIds[i]!,
      multiaddr: multiaddrs[i]!,
      keyFile: `validator-${i}.key`,
      nodeKeyFile: `nodekey-${i}`,
      bootnodesFile: `bootnodes-${i}.txt`,
    })),
    relayers: keys.relayers.map((r, i) => ({ address: r.addressHex, keyFile: `relayer-${i}.key` })),
    ...(options.encryptKeys === undefined ? {} : { encryptedKeys: true }),
  }
  for (const [i, v] of network.validators.entries()) {
    const others = multiaddrs.filter((_, j) => j !== i)
    writeTextAtomic(path.join(staging, v.bootnodesFile), `${others.join(',')}\n`)
  }
  for (const file of readdirSync(staging)) {
    renameSync(path.join(staging, file), path.join(out, file))
  }
  rmSync(staging, { recursive: true, force: true })
  writeJsonAtomic(path.join(out, NETWORK_JSON), network)
  return { created: true, network }
}

function writeTextAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`
  writeFileSync(tmp, text, { mode: 0o644 })
  renameSync(tmp, file)
}

export interface NetworkDeployOptions {
  networkDir: string
  l1Rpc: string
  sidechainRpc: string
  /** L1 URL the relayers use (default l1Rpc). */
  relayerL1Rpc?: string
  /** Sidechain URLs the relayers use, relayer i takes entry i mod length (default [sidechainRpc]). */
  relayerSidechainRpcs?: string[]
  threshold: number
  confirmations: number | 'finalized'
  /** Deploys and owns the contracts; default dev account #0 (only accepted when the L1 is anvil). */
  deployerKey?: Hex
  /**
   * Deploy and allow-list the anyone-can-mint TestToken even on an L1 that is not a development chain (a public
   * testnet). Never for real funds.
   */
  testToken?: boolean
  /** Relayer datadir, `{i}` is replaced by the relayer index; relative to the network folder. */
  relayerDatadir: string
  metricsHost: string
  /** One port for every relayer (one per container), or one per relayer. */
  metricsPorts: number[]
  /** URLs written to devnet.json for tools outside the network (default: the ones above). */
  publicL1Rpc?: string
  publicSidechainRpcs?: string[]
  publicRelayerMetricsUrls?: string[]
  /** Validator metrics URLs for devnet.json (null entries where not given). */
  publicValidatorMetricsUrls?: string[]
  logLevel: string
  timeoutMs: number
  log?: (line: string) => void
}

export interface DeploymentFile {
  l1ChainId: number
  chainId: number
  threshold: number
  owner: Address
  l1: L1Deployment
  l2?: { bridge: Address; bridgeBlock: number }
}

/** `sidechain network deploy`. */
export async function networkDeploy(options: NetworkDeployOptions): Promise<DevnetInfo> {
  const log = options.log ?? (() => {})
  const dir = path.resolve(options.networkDir)
  const network = readNetworkDescription(dir)
  if (network === undefined) {
    throw new NetworkSetupError(
      'NETWORK_STATE_INVALID',
      `${dir} has no ${NETWORK_JSON}: run \`sidechain network init\` first`,
    )
  }
  const relayers = network.relayers.map((r) => r.address)
  if (
    !Number.isInteger(options.threshold) ||
    options.threshold < 1 ||
    options.threshold > relayers.length
  ) {
    throw new NetworkSetupError(
      'NETWORK_FLAGS_INVALID',
      `--threshold must be between 1 and the number of relayers (${relayers.length})`,
    )
  }
  const wait = { timeoutMs: options.timeoutMs, intervalMs: 1_000 }
  log(`waiting for the L1 at ${options.l1Rpc}`)
  const l1ChainId = await pollUntil(
    async () => Number(await rpcCall<string>(options.l1Rpc, 'eth_chainId')),
    { what: `the L1 at ${options.l1Rpc}`, ...wait },
  )
  log(`waiting for the sidechain at ${options.sidechainRpc} to finalize blocks`)
  await pollUntil(
    async () => Number(await rpcCall<string>(options.sidechainRpc, 'eth_blockNumber')) >= 1,
    { what: `the sidechain at ${options.sidechainRpc} to finalize a block`, ...wait },
  )
  const chainId = Number(await rpcCall<string>(options.sidechainRpc, 'eth_chainId'))
  if (chainId !== network.chainId) {
    throw new NetworkSetupError(
      'NETWORK_STATE_INVALID',
      `the sidechain at ${options.sidechainRpc} serves chain ${chainId}, the network in ${dir} is chain ${network.chainId}`,
    )
  }
  const probe = chainClients(options.l1Rpc, l1ChainId, 'L1')
  const anvil = await isAnvil(probe)
  if (options.deployerKey === undefined && !anvil) {
    throw new NetworkSetupError(
      'NETWORK_FLAGS_INVALID',
      'the L1 is not anvil: give a funded deployer key (SIDECHAIN_DEPLOYER_KEY or --deployer-key-file); the public dev key is only used on anvil',
    )
  }
  const key = options.deployerKey ?? DEV_ACCOUNTS[0].privateKey
  const l1 = chainClients(options.l1Rpc, l1ChainId, 'L1', key)
  const sidechain = chainClients(options.sidechainRpc, chainId, 'sidechain', key)
  const deploymentFile = path.join(dir, DEPLOYMENT_JSON)
  let deployment = existsSync(deploymentFile)
    ? (JSON.parse(readFileSync(deploymentFile, 'utf8')) as DeploymentFile)
    : undefined
  if (deployment !== undefined && deployment.l1ChainId !== l1ChainId) {
    throw new NetworkSetupError(
      'NETWORK_STATE_INVALID',
      `${deploymentFile} is for L1 chain ${deployment.l1ChainId}, the L1 at ${options.l1Rpc} is chain ${l1ChainId}`,
    )
  }
  if (deployment === undefined) {
    const testToken = wantsTestToken({ anvil, l1ChainId, testToken: options.testToken })
    log(
      `deploying the vault${testToken ? ' and the test token' : ''} on L1 (chain ${l1ChainId}${anvil ? ', anvil' : ''})`,
    )
    const l1Deployment = await deployL1(l1, {
      relayers,
      threshold: options.threshold,
      blockTimeS: 1,
      anvil,
      testToken,
    })
    deployment = {
      l1ChainId,
      chainId,
      threshold: options.threshold,
      owner: l1.wallet.account.address,
      l1: l1Deployment,
    }
    writeJsonAtomic(deploymentFile, deployment)
    if (!anvil) {
      log(`fund the relayers on L1 for release gas: ${relayers.join(', ')}`)
    }
  } else {
    log(`checking the vault ${deployment.l1.vault} on L1`)
    await checkL1(l1, deployment.l1, options.l1Rpc)
  }
  if (deployment.l2 === undefined) {
    log('deploying the sidechain bridge')
    const l2 = await deployBridge(l1, sidechain, {
      relayers,
      threshold: deployment.threshold,
      l1ChainId,
      vault: deployment.l1.vault,
      // The first bridge of the vault deployed above: it mints every deposit. Replacing a
      // bridge (pause it, then start the new one at the vault's depositCount) is not done here.
      firstDepositId: 0n,
      // A real deployer key funds no reserve: the operator decides how much coin to give away.
      gasDrop: anvil ? GAS_DROP : { ...GAS_DROP, fund: 0n },
    })
    if (!anvil) {
      log(
        `fund the gas drop reserve with a plain transfer to the bridge ${l2.bridge} (docs/bridge.md)`,
      )
    }
    deployment = { ...deployment, l2 }
    writeJsonAtomic(deploymentFile, deployment)
  } else {
    log(`checking the sidechain bridge ${deployment.l2.bridge}`)
    await checkBridge(sidechain, { bridge: deployment.l2.bridge, vault: deployment.l1.vault })
  }
  const l2 = deployment.l2!
  // The relayers' light-client checkpoint: the genesis of the validators `deploy` talks to.
  const genesisHash = (await sidechain.public.getBlock({ blockNumber: 0n })).hash
  const sidechainRpcs = options.relayerSidechainRpcs ?? [options.sidechainRpc]
  const metricsPort = (i: number) =>
    options.metricsPorts.length === 1 ? options.metricsPorts[0]! : options.metricsPorts[i]!
  for (const [i, r] of network.relayers.entries()) {
    writeJsonAtomic(
      path.join(dir, `relayer-${i}.json`),
      relayerConfig({
        l1RpcUrl: options.relayerL1Rpc ?? options.l1Rpc,
        l1ChainId,
        vault: deployment.l1.vault,
        vaultBlock: deployment.l1.vaultBlock,
        confirmations: options.confirmations,
        sidechainRpcUrl: sidechainRpcs[i % sidechainRpcs.length]!,
        chainId,
        bridge: l2.bridge,
        keyFile: r.keyFile,
        index: i,
        count: network.relayers.length,
        datadir: options.relayerDatadir.replaceAll('{i}', String(i)),
        metricsHost: options.metricsHost,
        metricsPort: metricsPort(i),
        logLevel: options.logLevel,
        encryptedKeys: network.encryptedKeys === true,
        genesisHash,
      }),
    )
  }
  const publicSidechain = options.publicSidechainRpcs ?? [options.sidechainRpc]
  const publicL1 = options.publicL1Rpc ?? options.l1Rpc
  const info: DevnetInfo = {
    l1: {
      rpcUrl: publicL1,
      wsUrl: publicL1.replace(/^http/, 'ws'),
      chainId: l1ChainId,
      vault: deployment.l1.vault,
      tokens:
        deployment.l1.token === undefined || deployment.l1.tokenSymbol === undefined
          ? {}
          : { [deployment.l1.tokenSymbol]: deployment.l1.token },
      confirmations: options.confirmations,
      deployBlock: deployment.l1.vaultBlock,
    },
    l2: {
      rpcUrls: publicSidechain,
      wsUrls: publicSidechain.map((u) => u.replace(/^http/, 'ws')),
      chainId,
      bridge: l2.bridge,
      startBlock: l2.bridgeBlock,
      blockTimeMs: network.blockTimeMs,
      multicall3: MULTICALL3_ADDRESS,
      create2Deployer: CREATE2_DEPLOYER_ADDRESS,
    },
    accounts: anvil
      ? DEV_ACCOUNTS.map((a) => ({ address: a.address, privateKey: a.privateKey }))
      : [],
    validators: network.validators.map((v, i) => ({
      address: v.address,
      rpcUrl: publicSidechain[i] ?? publicSidechain[0]!,
      metricsUrl: options.publicValidatorMetricsUrls?.[i] ?? null,
    })),
    relayers: network.relayers.map((r, i) => ({
      address: r.address,
      metricsUrl:
        options.publicRelayerMetricsUrls?.[i] ??
        `http://${options.metricsHost}:${metricsPort(i)}/metrics`,
    })),
    bridge: {
      threshold: deployment.threshold,
      owner: deployment.owner,
      guardian: deployment.owner,
    },
    datadir: dir,
    logs: {},
  }
  writeJsonAtomic(path.join(dir, 'devnet.json'), info)
  return info
}
