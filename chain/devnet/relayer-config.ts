/** Relayer config files written by the devnet and by `sidechain network deploy` (docker). */
import type { Address } from 'viem'
import { isLoopbackHost, type RelayerConfigInput } from '../../bridge/relayer/config.ts'

export interface RelayerConfigParams {
  l1RpcUrl: string
  l1ChainId: number
  vault: Address
  vaultBlock: number
  confirmations: number | 'finalized'
  sidechainRpcUrl: string
  chainId: number
  bridge: Address
  /** Absolute, or relative to the config file's folder. */
  keyFile: string
  index: number
  count: number
  datadir: string
  metricsHost: string
  metricsPort: number
  logLevel: string
  /** The key files are keystores (`network init --encrypt-keys`): no insecureKey. Default false. */
  encryptedKeys?: boolean
  /**
   * The sidechain's genesis hash, read from a node the operator started: the light client's
   * checkpoint (without it a relayer trusts its endpoint's genesis on first use).
   */
  genesisHash?: `0x${string}`
}

/**
 * Whether the relayer may use plain http:// to hosts other than loopback: only when such URLs
 * name compose services (a host name without a dot), on the network compose keeps private to
 * its host, and no URL is plain http:// to any other host (the relayer then refuses it).
 */
function privateServiceUrlsOnly(urls: readonly string[]): boolean {
  const hosts = urls.map((url) => new URL(url)).filter((u) => u.protocol === 'http:')
  const loopback = isLoopbackHost
  const service = (host: string) => !host.includes('.') && !host.includes(':') && !loopback(host)
  return (
    hosts.some((u) => service(u.hostname)) &&
    hosts.every((u) => loopback(u.hostname) || service(u.hostname))
  )
}

export function relayerConfig(p: RelayerConfigParams): RelayerConfigInput {
  return {
    l1: {
      rpcUrl: p.l1RpcUrl,
      chainId: p.l1ChainId,
      vault: p.vault,
      confirmations: p.confirmations,
      startBlock: p.vaultBlock,
      pollIntervalMs: 500,
      stuckAfterMs: 15_000,
      spendCap: '10',
    },
    sidechain: {
      rpcUrl: p.sidechainRpcUrl,
      chainId: p.chainId,
      bridge: p.bridge,
      pollIntervalMs: 500,
      ...(p.genesisHash === undefined ? {} : { lightClient: { checkpointHash: p.genesisHash } }),
    },
    // Devnet keys are plain-text files beside the chain they serve (throwaway by design) unless
    // `network init --encrypt-keys` wrote keystores.
    relayer: {
      keyFile: p.keyFile,
      index: p.index,
      count: p.count,
      insecureKey: p.encryptedKeys !== true,
    },
    datadir: p.datadir,
    metrics: { host: p.metricsHost, port: p.metricsPort },
    // A relayer that is down loses its release turn quickly.
    releaseTurnTimeoutMs: 10_000,
    auditIntervalMs: 30_000,
    logLevel: p.logLevel as RelayerConfigInput['logLevel'],
    allowInsecureRpc: privateServiceUrlsOnly([p.l1RpcUrl, p.sidechainRpcUrl]),
  }
}
