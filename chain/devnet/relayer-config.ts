/** Relayer config files written by the devnet and by `sidechain network deploy` (docker). */
import type { Address } from 'viem'
import type { RelayerConfigInput } from '../../bridge/relayer/config.ts'

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
    },
    relayer: { keyFile: p.keyFile, index: p.index, count: p.count },
    datadir: p.datadir,
    metrics: { host: p.metricsHost, port: p.metricsPort },
    // A relayer that is down loses its release turn quickly.
    releaseTurnTimeoutMs: 10_000,
    auditIntervalMs: 30_000,
    logLevel: p.logLevel as RelayerConfigInput['logLevel'],
  }
}
