/**
 * The working parts of one relayer, built once both chains have answered the start-up
 * checks (the sidechain sender signs with the chain id its RPC reported). Construction only:
 * nothing here does I/O; the Relayer loads, starts and stops them.
 */
import path from 'node:path'
import { type Hex, type LocalAccount, type PublicClient, parseGwei, toHex } from 'viem'
import type { Logger } from '../../chain/lib/logger.ts'
import { SupplyAuditor } from '../core/audit.ts'
import { GasDropMonitor } from '../core/gas-drop.ts'
import type { RelayerJournal } from '../journal/journal.ts'
import { SidechainLightClient } from '../light-client/light-client.ts'
import type { RelayerConfig } from './config.ts'
import type { CrashHook } from './crash-hook.ts'
import { DepositPipeline } from './deposit-pipeline.ts'
import { ItemRunner } from './item-runner.ts'
import type { RelayerMetrics } from './metrics.ts'
import { TxSender, type TxSenderMetrics } from './tx-sender.ts'
import { WithdrawalPipeline } from './withdrawal-pipeline.ts'
import { rpcProofSource, WithdrawalProver } from './withdrawal-proof.ts'

export interface RelayerParts {
  sidechainSender: TxSender
  l1Sender: TxSender
  runner: ItemRunner
  deposits: DepositPipeline
  withdrawals: WithdrawalPipeline
  lightClient: SidechainLightClient
  /** Undefined when auditIntervalMs is 0 (no audit loop). */
  auditor: SupplyAuditor | undefined
  gasDrops: GasDropMonitor | undefined
}

export interface RelayerPartsOptions {
  config: RelayerConfig
  /** What the sidechain RPC reported at start. */
  sidechainChainId: number
}

export interface RelayerPartsModules {
  l1: PublicClient
  /** The second L1 endpoint, when configured. */
  l1Second?: PublicClient
  sidechain: PublicClient
  account: LocalAccount
  journal: RelayerJournal
  metrics: RelayerMetrics
  logger: Logger
  crash: CrashHook
  /** Aborts the senders' waits when the relayer stops. */
  signal: AbortSignal
}

export function createRelayerParts(
  options: RelayerPartsOptions,
  modules: RelayerPartsModules,
): RelayerParts {
  const { config } = options
  const { l1, l1Second, sidechain, account, journal, metrics, logger, crash, signal } = modules
  const senderMetrics: TxSenderMetrics = {
    replaced: (chain: string) => metrics.replacements.inc({ chain }),
    spent: (chain: string, totalWei: bigint) =>
      metrics.gasSpentWei.set({ chain }, Number(totalWei)),
    windowSpend: (wei: bigint) => metrics.spendInWindowWei.set(Number(wei)),
  }
  const sidechainSender = new TxSender(
    {
      chain: 'sidechain',
      chainId: options.sidechainChainId,
      stuckAfterMs: config.sidechain.stuckAfterMs,
      bumpPercent: config.sidechain.bumpPercent,
      receiptPollMs: Math.min(config.sidechain.receiptPollMs, config.sidechain.pollIntervalMs),
    },
    {
      client: sidechain,
      account,
      logger: logger.child({ module: 'sidechain-sender' }),
      signal,
      metrics: senderMetrics,
    },
  )
  const l1Sender = new TxSender(
    {
      chain: 'l1',
      chainId: config.l1.chainId,
      stuckAfterMs: config.l1.stuckAfterMs,
      bumpPercent: config.l1.bumpPercent,
      receiptPollMs: Math.min(config.l1.receiptPollMs, config.l1.pollIntervalMs),
      maxFeePerGas:
        config.l1.maxFeePerGasGwei === undefined
          ? undefined
          : parseGwei(String(config.l1.maxFeePerGasGwei)),
      spendCapWei: config.l1.spendCap,
      spendWindowMs: config.l1.spendWindowMs,
    },
    {
      client: l1,
      account,
      logger: logger.child({ module: 'l1-sender' }),
      signal,
      journal,
      metrics: senderMetrics,
    },
  )
  const runner = new ItemRunner(
    {
      backoffBaseMs: config.retryBackoff.baseMs,
      backoffMaxMs: config.retryBackoff.maxMs,
      parkedRecheckMs: config.parkedRecheckMs,
      maxOutOfGasAttempts: config.maxOutOfGasAttempts,
    },
    {
      logger: logger.child({ module: 'items' }),
      onError: (kind) => metrics.errors.inc({ kind }),
      onParkedChange: (byKind) => {
        metrics.parkedItems.reset()
        for (const [reason, n] of byKind) metrics.parkedItems.set({ reason }, n)
      },
    },
  )
  const deposits = new DepositPipeline(
    {
      vault: config.l1.vault,
      l1ChainId: config.l1.chainId,
      bridge: config.sidechain.bridge,
      confirmations: config.l1.confirmations,
      startBlock: BigInt(config.l1.startBlock),
      maxBlockRange: BigInt(config.l1.maxBlockRange),
    },
    {
      l1,
      l1Second,
      sidechain,
      sender: sidechainSender,
      journal,
      metrics,
      logger: logger.child({ module: 'deposits' }),
      crash,
    },
  )
  const refused = (code: string) => metrics.verificationRefusals.inc({ code })
  const lightClient = new SidechainLightClient(
    {
      checkpoint:
        config.sidechain.lightClient.checkpointHash === undefined
          ? undefined
          : {
              number: BigInt(config.sidechain.lightClient.checkpointNumber),
              hash: config.sidechain.lightClient.checkpointHash as Hex,
            },
      epochLength: config.sidechain.lightClient.epochLength,
      stateFile: path.join(config.datadir, 'light-client.json'),
    },
    {
      source: {
        blockNumber: () => sidechain.getBlockNumber({ cacheTime: 0 }),
        header: async (number) =>
          (await sidechain.request({
            method: 'eth_getBlockByNumber',
            params: [toHex(number), false],
          })) as never,
      },
      logger: logger.child({ module: 'light-client' }),
      onRefusal: refused,
      onFinalized: (number) => metrics.lightClientVerifiedBlock.set(Number(number)),
    },
  )
  const prover = new WithdrawalProver(
    { bridge: config.sidechain.bridge },
    {
      lightClient,
      source: rpcProofSource(sidechain),
      onRefusal: refused,
      onVerified: (seconds) => metrics.proofVerifySeconds.observe(seconds),
    },
  )
  const withdrawals = new WithdrawalPipeline(
    {
      vault: config.l1.vault,
      bridge: config.sidechain.bridge,
      l1ChainId: config.l1.chainId,
      sidechainChainId: options.sidechainChainId,
      index: config.relayer.index,
      count: config.relayer.count,
      releaseTurnTimeoutMs: config.releaseTurnTimeoutMs,
      releaseGasCap: BigInt(config.l1.releaseGasCap),
    },
    {
      l1,
      sidechain,
      account,
      sidechainSender,
      l1Sender,
      journal,
      metrics,
      logger: logger.child({ module: 'withdrawals' }),
      crash,
      prover,
    },
  )
  const auditor =
    config.auditIntervalMs > 0
      ? new SupplyAuditor(
          { vault: config.l1.vault, bridge: config.sidechain.bridge },
          {
            l1,
            sidechain,
            gauges: metrics,
            logger: logger.child({ module: 'audit' }),
            pendingReleases: () => withdrawals.pendingAmounts(),
          },
        )
      : undefined
  const gasDrops =
    config.auditIntervalMs > 0
      ? new GasDropMonitor(
          { bridge: config.sidechain.bridge },
          { sidechain, gauges: metrics, logger: logger.child({ module: 'gas-drop' }) },
        )
      : undefined
  return {
    sidechainSender,
    l1Sender,
    runner,
    deposits,
    withdrawals,
    lightClient,
    auditor,
    gasDrops,
  }
}
