/**
 * One bridge relayer: composition root of the pipelines for one key (built by parts.ts).
 *
 *   L1 loop (l1.pollIntervalMs):              scan confirmed Deposited logs -> vote on the sidechain
 *   sidechain loop (sidechain.pollIntervalMs): scan withdrawals -> sign, store signature -> release on L1 by turn
 *   audit loop (auditIntervalMs):              vault balance vs wrapped supply per token -> metrics (SupplyAuditor),
 *                                              gas drop reserve and counters -> metrics (GasDropMonitor)
 *
 * Start: open the journal, check both chains against the config (chain ids, the bridge points at this vault),
 * resume journaled work and in-flight L1 transactions, serve metrics, start the loops. Stop: abort, wait for
 * the loops and in-flight actions, close. Nothing is module-level: several relayers can run in one process.
 */
import path from 'node:path'
import { bytesToHex } from '@ethereumjs/util'
import { type Address, getAddress, type LocalAccount, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { KeyFileError, readKeyFile } from '../../chain/lib/keys.ts'
import type { Logger } from '../../chain/lib/logger.ts'
import { silentLogger } from '../../chain/lib/logger.ts'
import { classifyError } from '../core/classify.ts'
import { makePublicClient } from '../core/clients.ts'
import { BridgeError } from '../core/errors.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../deploy/index.ts'
import { RelayerJournal } from '../journal/journal.ts'
import type { RelayerConfig } from './config.ts'
import { type CrashHook, crashHookFromEnv } from './crash-hook.ts'
import { MetricsServer, type ProbeStatus, RelayerMetrics } from './metrics.ts'
import { createRelayerParts, type RelayerParts } from './parts.ts'
import { sleep } from './tx-sender.ts'

export interface RelayerModules {
  logger?: Logger
  /** Defaults to the key file of the config. */
  account?: LocalAccount
  l1?: PublicClient
  sidechain?: PublicClient
  crash?: CrashHook
  /** Serve /metrics, /health, /ready (default true). */
  serveMetrics?: boolean
  metrics?: RelayerMetrics
}

type LoopName = 'l1' | 'sidechain' | 'audit'

export class Relayer {
  readonly config: RelayerConfig
  readonly logger: Logger
  readonly account: LocalAccount
  readonly metrics: RelayerMetrics
  readonly journal: RelayerJournal
  readonly l1: PublicClient
  /** The second L1 endpoint (config `l1.secondRpcUrl`), whose receipts must agree before a vote. */
  readonly l1Second: PublicClient | undefined
  readonly sidechain: PublicClient
  private readonly metricsServer: MetricsServer | undefined
  private readonly crash: CrashHook
  private abort = new AbortController()
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  private loops: Promise<void>[] = []
  private readonly lastOk = new Map<LoopName, number>()
  private readonly lastTick = new Map<LoopName, number>()
  private readonly lastError = new Map<LoopName, string>()
  private startupChecked = false
  private parts: RelayerParts | undefined
  private starting: Promise<void> | undefined

  constructor(config: RelayerConfig, modules: RelayerModules = {}) {
    this.config = config
    this.logger = (modules.logger ?? silentLogger()).child({ relayer: config.relayer.index })
    if (modules.account !== undefined) this.account = modules.account
    else {
      // In-process embedders (tests) without an account: only a plain key file reads synchronously;
      // `sidechain relayer` decrypts keystores first and passes the account.
      if (config.relayer.keyFile === undefined || !config.relayer.insecureKey) {
        throw new KeyFileError(
          'KEY_FILE_INSECURE',
          `${config.relayer.keyFile}: pass the decrypted account (loadKey) or set insecureKey for a plain-text key file`,
        )
      }
      const key = readKeyFile(config.relayer.keyFile)
      this.account = privateKeyToAccount(bytesToHex(key.privateKey) as `0x${string}`)
    }
    this.metrics = modules.metrics ?? new RelayerMetrics()
    this.journal = new RelayerJournal(path.join(config.datadir, 'journal'))
    this.l1 =
      modules.l1 ??
      makePublicClient({
        url: config.l1.rpcUrl,
        chainId: config.l1.chainId,
        name: 'l1',
        timeoutMs: config.rpcTimeoutMs,
        pollingIntervalMs: Math.min(config.l1.pollIntervalMs, 1_000),
      })
    this.l1Second =
      config.l1.secondRpcUrl === undefined
        ? undefined
        : makePublicClient({
            url: config.l1.secondRpcUrl,
            chainId: config.l1.chainId,
            name: 'l1-second',
            timeoutMs: config.rpcTimeoutMs,
            pollingIntervalMs: Math.min(config.l1.pollIntervalMs, 1_000),
          })
    this.sidechain =
      modules.sidechain ??
      makePublicClient({
        url: config.sidechain.rpcUrl,
        // Reads only: transactions are signed with the chain id the RPC reports at start (startupChecks).
        chainId: config.sidechain.chainId,
        name: 'sidechain',
        timeoutMs: config.rpcTimeoutMs,
        pollingIntervalMs: Math.min(config.sidechain.pollIntervalMs, 1_000),
      })
    this.crash = modules.crash ?? crashHookFromEnv(config.datadir, config.l1.chainId)
    this.metricsServer =
      modules.serveMetrics === false
        ? undefined
        : new MetricsServer(config.metrics, {
            metrics: this.metrics,
            health: () => this.health(),
            ready: () => this.readiness(),
          })
  }

  get address(): Address {
    return this.account.address
  }

  /** Port the metrics server listens on (useful with port 0). */
  get metricsPort(): number | undefined {
    return this.metricsServer?.port
  }

  get pendingDeposits(): number {
    return this.parts?.deposits.pendingCount ?? 0
  }

  get pendingWithdrawals(): number {
    return this.parts?.withdrawals.pendingCount ?? 0
  }

  /** Last L1 block scanned past the confirmations (undefined before start). */
  get l1ScannedThrough(): bigint | undefined {
    const next = this.parts?.deposits.scanCursor?.nextBlock
    return next === undefined ? undefined : next - 1n
  }

  get parkedItems(): ReadonlyMap<string, string> {
    return this.parts?.runner.parked ?? new Map()
  }

  async start(): Promise<void> {
    if (this.state !== 'new' && this.state !== 'stopped') return
    this.state = 'starting'
    this.abort = new AbortController()
    this.starting = this.startUp()
    await this.starting
  }

  private async startUp(): Promise<void> {
    const config = this.config
    await this.journal.open()
    let parts: RelayerParts
    try {
      await this.metricsServer?.start()
      const sidechainChainId = await this.untilReachable(() => this.startupChecks())
      parts = createRelayerParts(
        { config, sidechainChainId },
        {
          l1: this.l1,
          l1Second: this.l1Second,
          sidechain: this.sidechain,
          account: this.account,
          journal: this.journal,
          metrics: this.metrics,
          logger: this.logger,
          crash: this.crash,
          signal: this.abort.signal,
        },
      )
      this.parts = parts
      this.metrics.spendCapWei.set(Number(config.l1.spendCap))
      await this.untilReachable(() => parts.l1Sender.init())
      await parts.deposits.load()
      await parts.withdrawals.load()
    } catch (err) {
      await this.metricsServer?.stop()
      await this.journal.close()
      this.state = 'stopped'
      throw err
    }
    const { deposits, withdrawals, runner, auditor, gasDrops } = parts
    this.loops = [
      this.loop('l1', config.l1.pollIntervalMs, async () => {
        await deposits.scan()
        deposits.dispatch(runner)
      }),
      this.loop('sidechain', config.sidechain.pollIntervalMs, async () => {
        await withdrawals.scan()
        await withdrawals.refreshVault()
        withdrawals.dispatch(runner)
      }),
    ]
    if (auditor !== undefined) {
      this.loops.push(
        this.loop('audit', config.auditIntervalMs, async () => {
          await auditor.check()
          await gasDrops?.check()
        }),
      )
    }
    this.state = 'running'
    this.logger.info(
      {
        address: this.address,
        vault: config.l1.vault,
        bridge: config.sidechain.bridge,
        confirmations: config.l1.confirmations,
        turn: `${config.relayer.index}/${config.relayer.count}`,
        metricsPort: this.metricsPort,
        pendingDeposits: deposits.pendingCount,
        pendingWithdrawals: withdrawals.pendingCount,
        l1Cursor: deposits.scanCursor?.nextBlock.toString(),
        nextWithdrawalId: withdrawals.scanCursor?.nextId.toString(),
      },
      'relayer started',
    )
  }

  async stop(): Promise<void> {
    if (this.state === 'starting') {
      // start() cleans up after itself when aborted.
      this.abort.abort()
      await this.starting?.catch(() => {})
      return
    }
    if (this.state !== 'running') return
    this.state = 'stopping'
    this.abort.abort()
    await Promise.allSettled(this.loops)
    await this.parts?.runner.idle()
    await this.metricsServer?.stop()
    await this.journal.close()
    this.loops = []
    this.state = 'stopped'
    this.logger.info('relayer stopped')
  }

  /** Resolves once both loops completed a tick without error after `since` (tests, readiness). */
  caughtUpSince(since: number): boolean {
    return (this.lastOk.get('l1') ?? 0) >= since && (this.lastOk.get('sidechain') ?? 0) >= since
  }

  private loop(name: LoopName, intervalMs: number, tick: () => Promise<void>): Promise<void> {
    const signal = this.abort.signal
    return (async () => {
      while (!signal.aborted) {
        const started = Date.now()
        try {
          await tick()
          this.lastOk.set(name, Date.now())
          this.lastError.delete(name)
        } catch (err) {
          const c = classifyError(err)
          if (c.kind === 'aborted') break
          this.metrics.errors.inc({ kind: c.kind })
          this.lastError.set(name, `${c.kind}: ${c.detail}`)
          // A retryable failure (a chain briefly away) logs its one-line detail; a permanent one
          // logs the whole error, stack and cause, since someone has to act on it.
          if (c.disposition === 'retryable') {
            this.logger.warn({ loop: name, kind: c.kind, detail: c.detail }, 'tick failed')
          } else {
            this.logger.error({ loop: name, kind: c.kind, err }, 'tick failed')
          }
        }
        this.lastTick.set(name, Date.now())
        try {
          await sleep(Math.max(0, intervalMs - (Date.now() - started)), signal)
        } catch {
          break
        }
      }
    })()
  }

  /** Checks both chains against the config. Returns the sidechain chain id. */
  private async startupChecks(): Promise<number> {
    const c = this.config
    const [l1ChainId, sidechainChainId] = await Promise.all([
      this.l1.getChainId(),
      this.sidechain.getChainId(),
    ])
    const mismatch = (message: string, details: Record<string, unknown>) =>
      new BridgeError('RELAYER_CHAIN_MISMATCH', message, { details })
    if (l1ChainId !== c.l1.chainId) {
      throw mismatch(`L1 RPC serves chain ${l1ChainId}, config says ${c.l1.chainId}`, { l1ChainId })
    }
    if (this.l1Second !== undefined) {
      const secondChainId = await this.l1Second.getChainId()
      if (secondChainId !== c.l1.chainId) {
        throw mismatch(
          `the second L1 RPC serves chain ${secondChainId}, config says ${c.l1.chainId}`,
          {
            secondChainId,
          },
        )
      }
    }
    if (sidechainChainId !== c.sidechain.chainId) {
      throw mismatch(
        `sidechain RPC serves chain ${sidechainChainId}, config says ${c.sidechain.chainId}`,
        {
          sidechainChainId,
        },
      )
    }
    const [vaultCode, bridgeCode] = await Promise.all([
      this.l1.getCode({ address: c.l1.vault }),
      this.sidechain.getCode({ address: c.sidechain.bridge }),
    ])
    if (vaultCode === undefined || vaultCode === '0x')
      throw mismatch(`no contract at vault ${c.l1.vault}`, {})
    if (bridgeCode === undefined || bridgeCode === '0x')
      throw mismatch(`no contract at bridge ${c.sidechain.bridge}`, {})
    const [bridgeVault, bridgeL1ChainId, isRelayer, relayers, isSigner] = await Promise.all([
      this.sidechain.readContract({
        address: c.sidechain.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'l1Vault',
      }),
      this.sidechain.readContract({
        address: c.sidechain.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'l1ChainId',
      }),
      this.sidechain.readContract({
        address: c.sidechain.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'isRelayer',
        args: [this.address],
      }),
      this.sidechain.readContract({
        address: c.sidechain.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'relayers',
      }),
      this.l1.readContract({
        address: c.l1.vault,
        abi: bridgeVaultAbi,
        functionName: 'isSigner',
        args: [this.address],
      }),
    ])
    if (getAddress(bridgeVault) !== c.l1.vault || bridgeL1ChainId !== BigInt(c.l1.chainId)) {
      throw mismatch('the sidechain bridge is linked to another vault or L1 chain', {
        bridgeVault,
        bridgeL1ChainId: bridgeL1ChainId.toString(),
      })
    }
    await this.checkSameSet()
    if (!isRelayer)
      this.logger.warn(
        { address: this.address },
        'this key is not a relayer of the sidechain bridge',
      )
    if (!isSigner)
      this.logger.warn({ address: this.address }, 'this key is not a signer of the L1 vault')
    if (relayers.length !== c.relayer.count) {
      this.logger.warn(
        { configured: c.relayer.count, onChain: relayers.length },
        'relayer.count differs from the number of relayers on the bridge; release turns may overlap or leave gaps',
      )
    }
    this.startupChecked = true
    return sidechainChainId
  }

  /**
   * Who mints must be who releases: at the same epoch, the bridge's relayer set and threshold must be the vault's
   * signer set and threshold. Different sets at one epoch mean two different rotations were applied, one per
   * chain (rotations name the set they replace, so they can no longer bring both chains on together): refuse to
   * run until an operator looks.
   */
  private async checkSameSet(): Promise<void> {
    const c = this.config
    const [vaultEpoch, vaultSet, bridgeEpoch, bridgeSet] = await Promise.all([
      this.l1.readContract({
        address: c.l1.vault,
        abi: bridgeVaultAbi,
        functionName: 'signerEpoch',
      }),
      this.l1.readContract({
        address: c.l1.vault,
        abi: bridgeVaultAbi,
        functionName: 'signerSetHash',
      }),
      this.sidechain.readContract({
        address: c.sidechain.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'l1SignerEpoch',
      }),
      this.sidechain.readContract({
        address: c.sidechain.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'relayerSetHash',
      }),
    ])
    if (vaultEpoch === bridgeEpoch && vaultSet !== bridgeSet) {
      throw new BridgeError(
        'RELAYER_CHAIN_MISMATCH',
        `the vault and the bridge are both at signer epoch ${vaultEpoch} with different sets: two different rotations were applied, one per chain`,
        { details: { epoch: vaultEpoch.toString(), vaultSet, bridgeSet } },
      )
    }
  }

  /** Runs `fn` until it succeeds, retrying retryable failures (chains still starting); permanent ones throw. */
  private async untilReachable<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        const c = classifyError(err)
        if (c.disposition !== 'retryable') throw err
        this.metrics.errors.inc({ kind: c.kind })
        this.logger.warn({ kind: c.kind, detail: c.detail }, 'chains not reachable yet; retrying')
        await sleep(Math.min(5_000, 250 * 2 ** attempt), this.abort.signal)
      }
    }
  }

  private health(): ProbeStatus {
    const now = Date.now()
    const stale: string[] = []
    if (this.state === 'running') {
      const limits: Array<[LoopName, number]> = [
        ['l1', this.config.l1.pollIntervalMs],
        ['sidechain', this.config.sidechain.pollIntervalMs],
      ]
      for (const [name, interval] of limits) {
        // A tick may wait on RPC timeouts; a loop silent for much longer than that is wedged.
        const last = this.lastTick.get(name) ?? 0
        if (now - last > interval * 3 + this.config.rpcTimeoutMs * 3) stale.push(name)
      }
    }
    return {
      ok: this.state !== 'stopped' && stale.length === 0,
      details: { state: this.state, staleLoops: stale },
    }
  }

  private readiness(): ProbeStatus {
    const now = Date.now()
    const reasons: string[] = []
    if (this.state !== 'running') reasons.push(`state ${this.state}`)
    if (!this.startupChecked) reasons.push('startup checks pending')
    const halt = this.parts?.deposits.haltReason
    if (halt !== undefined) reasons.push(`l1 halted: ${halt}`)
    for (const [name, interval] of [
      ['l1', this.config.l1.pollIntervalMs],
      ['sidechain', this.config.sidechain.pollIntervalMs],
    ] as const) {
      const ok = this.lastOk.get(name)
      if (ok === undefined || now - ok > interval * 3 + this.config.rpcTimeoutMs) {
        reasons.push(`${name}: ${this.lastError.get(name) ?? 'no successful tick yet'}`)
      }
    }
    return {
      ok: reasons.length === 0,
      details: {
        address: this.address,
        reasons,
        pendingDeposits: this.pendingDeposits,
        pendingWithdrawals: this.pendingWithdrawals,
        parked: Object.fromEntries(this.parkedItems),
      },
    }
  }
}
