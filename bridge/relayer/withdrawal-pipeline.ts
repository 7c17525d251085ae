/**
 * Sidechain -> L1. Sidechain blocks are final when they exist, so `scan` reads withdrawals straight from the
 * bridge's state (`withdrawalCount` and the records), which is gap-free by construction, and journals them.
 * The sidechain endpoint is trusted for nothing: that state is proven with `eth_getProof` against the newest
 * header the relayer's light client verified (WithdrawalProver), so only withdrawals sealed by a quorum of
 * validators are journaled, and the payload is proven again right before it is signed.
 * For each pending withdrawal `dispatch`:
 *   1. forgets it once the vault says `processed` (released by anyone);
 *   2. signs the payload the bridge presents (`l1Withdrawal`: current L1 signer epoch) with the L1 vault's
 *      EIP-712 domain from the config, after checking that the bridge's digest equals ours, through the journal
 *      (one payload per id, persisted before it leaves the process), and stores it with `submitSignature`
 *      unless the bridge already has it;
 *   3. once M signatures of current vault signers are stored, releases on L1 if it is this relayer's turn:
 *      relayer (id mod count) at once, the next one in the ring after one turn timeout, and so on.
 */
import {
  type Address,
  getAddress,
  type Hex,
  hashTypedData,
  type LocalAccount,
  type PublicClient,
  toHex,
} from 'viem'
import type { Logger } from '../../chain/lib/logger.ts'
import { BridgeError } from '../core/errors.ts'
import {
  bridgeVaultAbi,
  sidechainBridgeAbi,
  signWithdrawal,
  vaultDomain,
  type WithdrawalMessage,
  withdrawalTypes,
} from '../deploy/index.ts'
import type { RelayerJournal, ScanCursor, WithdrawalRecord } from '../journal/journal.ts'
import type { CrashHook } from './crash-hook.ts'
import type { ItemRunner } from './item-runner.ts'
import type { RelayerMetrics } from './metrics.ts'
import type { TxSender } from './tx-sender.ts'
import { SIDECHAIN_BRIDGE_SLOTS, type WithdrawalProver } from './withdrawal-proof.ts'

export interface WithdrawalPipelineOptions {
  vault: Address
  bridge: Address
  l1ChainId: number
  /** Chain id of the sidechain (checked against its RPC at start): withdrawals are bound to it on L1. */
  sidechainChainId: number
  index: number
  count: number
  releaseTurnTimeoutMs: number
  /** Most gas one release may use (a release estimated above it is refused before it is signed). */
  releaseGasCap?: bigint
  /** New withdrawals taken per scan at most. */
  maxPerScan?: number
}

export interface WithdrawalPipelineModules {
  l1: PublicClient
  sidechain: PublicClient
  account: LocalAccount
  sidechainSender: TxSender
  l1Sender: TxSender
  journal: RelayerJournal
  metrics: RelayerMetrics
  logger: Logger
  crash: CrashHook
  /** Proves the bridge's withdrawals against light-client-verified headers. */
  prover: Pick<WithdrawalProver, 'follow' | 'prove' | 'proveWithdrawal'>
  now?: () => number
}

interface VaultView {
  epoch: bigint
  threshold: bigint
  signers: Set<string>
  paused: boolean
}

/** How many turn timeouts relayer `index` waits before releasing withdrawal `id`. */
export function releaseTurnDelay(id: bigint, index: number, count: number): number {
  const owner = Number(id % BigInt(count))
  return (index - owner + count) % count
}

export class WithdrawalPipeline {
  private readonly options: WithdrawalPipelineOptions
  private readonly m: WithdrawalPipelineModules
  private readonly now: () => number
  private cursor: ScanCursor | undefined
  private readonly pending = new Map<bigint, WithdrawalRecord>()
  /** When this process first saw each pending withdrawal (journaled ones: when it loaded them), for the age metric. */
  private readonly pendingSince = new Map<bigint, number>()
  /** When this relayer first saw M usable signatures for an id (turn clock). */
  private readonly readySince = new Map<bigint, number>()
  /** "id:epoch" whose signature the bridge is known to hold. */
  private readonly submitted = new Set<string>()
  /** "id:bridgeEpoch:vaultEpoch" already warned about. */
  private readonly epochWarned = new Set<string>()
  private vault: VaultView | undefined

  constructor(options: WithdrawalPipelineOptions, modules: WithdrawalPipelineModules) {
    this.options = options
    this.m = modules
    this.now = modules.now ?? Date.now
  }

  async load(): Promise<void> {
    this.cursor = (await this.m.journal.getCursor('sidechain')) ?? { nextBlock: 0n, nextId: 0n }
    for (const w of await this.m.journal.pendingWithdrawals()) {
      this.pending.set(w.withdrawalId, w)
      this.pendingSince.set(w.withdrawalId, this.now())
    }
    this.reportPending()
  }

  get pendingCount(): number {
    return this.pending.size
  }

  /** Burned and not yet released, per L1 token (what the vault still owes for the journaled withdrawals). */
  pendingAmounts(): Map<Address, bigint> {
    const out = new Map<Address, bigint>()
    for (const w of this.pending.values()) {
      const token = getAddress(w.token)
      out.set(token, (out.get(token) ?? 0n) + w.amount)
    }
    return out
  }

  get scanCursor(): ScanCursor | undefined {
    return this.cursor
  }

  async scan(): Promise<void> {
    const { prover, sidechain } = this.m
    // What the endpoint says its head is: the scan-lag alert compares the verified scan with it,
    // so a light client that stops following shows as lag.
    const endpointHead = await sidechain.getBlockNumber({ cacheTime: 0 })
    this.m.metrics.scanTargetBlock.set({ chain: 'sidechain' }, Number(endpointHead))
    const cursor = this.cursor!
    const verified = await prover.follow()
    // The endpoint's word only decides whether a proof is worth asking for: hiding a withdrawal
    // is no worse than not answering, and a proof costs the node far more than one storage read.
    const hint = await sidechain.getStorageAt({
      address: this.options.bridge,
      slot: toHex(SIDECHAIN_BRIDGE_SLOTS.withdrawalCount, { size: 32 }),
    })
    if (BigInt(hint ?? '0x0') <= cursor.nextId) {
      this.m.metrics.lastScannedBlock.set({ chain: 'sidechain' }, Number(verified.number))
      this.reportPending()
      return
    }
    // Count and records are proven at the newest verified header, never read from the endpoint. The next id is
    // asked with the count, so the usual tick (no withdrawal or one) takes one proof.
    const first = await prover.prove([cursor.nextId])
    const end = min(first.withdrawalCount, cursor.nextId + BigInt(this.options.maxPerScan ?? 100))
    const more: bigint[] = []
    for (let id = cursor.nextId + 1n; id < end; id++) more.push(id)
    const proven = more.length === 0 ? first : await prover.prove([cursor.nextId, ...more])
    const head = proven.header.number
    const records: WithdrawalRecord[] = []
    for (const w of proven.withdrawals) {
      if (records.length !== Number(w.withdrawalId - cursor.nextId)) break // keep ids contiguous
      records.push({
        withdrawalId: w.withdrawalId,
        token: w.token,
        recipient: w.recipient,
        amount: w.amount,
        seenAtBlock: head,
      })
    }
    const nextId = cursor.nextId + BigInt(records.length)
    const next: ScanCursor = { nextBlock: head + 1n, nextId }
    // The block is informational (withdrawals are read from state): persist only when ids advance.
    if (records.length > 0) await this.m.journal.recordWithdrawals(records, next)
    this.cursor = next
    for (const r of records) {
      this.pending.set(r.withdrawalId, r)
      this.pendingSince.set(r.withdrawalId, this.now())
      this.m.logger.info(
        {
          withdrawalId: r.withdrawalId.toString(),
          token: r.token,
          recipient: r.recipient,
          amount: r.amount.toString(),
        },
        'withdrawal seen on the sidechain',
      )
    }
    this.reportPending()
    this.m.metrics.lastScannedBlock.set({ chain: 'sidechain' }, Number(head))
  }

  /** Reads the vault's signer set, threshold, epoch and pause flag once per tick. */
  async refreshVault(): Promise<void> {
    if (this.pending.size === 0) return
    const { l1 } = this.m
    const vault = this.options.vault
    const [epoch, threshold, signers, paused] = await Promise.all([
      l1.readContract({ address: vault, abi: bridgeVaultAbi, functionName: 'signerEpoch' }),
      l1.readContract({ address: vault, abi: bridgeVaultAbi, functionName: 'threshold' }),
      l1.readContract({ address: vault, abi: bridgeVaultAbi, functionName: 'signers' }),
      l1.readContract({ address: vault, abi: bridgeVaultAbi, functionName: 'paused' }),
    ])
    this.vault = { epoch, threshold, signers: new Set(signers.map((s) => s.toLowerCase())), paused }
  }

  dispatch(runner: ItemRunner): void {
    for (const record of this.pending.values()) {
      runner.run(`withdrawal:${record.withdrawalId}`, () => this.process(record.withdrawalId))
    }
  }

  private async process(id: bigint): Promise<void> {
    const record = this.pending.get(id)
    if (record === undefined) return
    const { l1, sidechain } = this.m
    const processed = await l1.readContract({
      address: this.options.vault,
      abi: bridgeVaultAbi,
      functionName: 'isProcessed',
      args: [BigInt(this.options.sidechainChainId), this.options.bridge, id],
    })
    if (processed) return this.complete(id, 'released')

    const w = await sidechain.readContract({
      address: this.options.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'l1Withdrawal',
      args: [id],
    })
    if (
      w.sourceChainId !== BigInt(this.options.sidechainChainId) ||
      w.sourceBridge.toLowerCase() !== this.options.bridge.toLowerCase()
    ) {
      throw new BridgeError(
        'RELAYER_CHAIN_MISMATCH',
        `withdrawal ${id}: the bridge presents source chain ${w.sourceChainId} and bridge ${w.sourceBridge}, not the configured ones`,
        { details: { withdrawalId: id.toString() } },
      )
    }
    if (
      w.token.toLowerCase() !== record.token.toLowerCase() ||
      w.recipient.toLowerCase() !== record.recipient.toLowerCase() ||
      w.amount !== record.amount
    ) {
      throw new BridgeError(
        'RELAYER_PAYLOAD_CONFLICT',
        `withdrawal ${id} changed on the sidechain`,
        {
          details: { withdrawalId: id.toString() },
        },
      )
    }
    const message: WithdrawalMessage = {
      sourceChainId: BigInt(this.options.sidechainChainId),
      sourceBridge: this.options.bridge,
      withdrawalId: id,
      token: w.token,
      recipient: w.recipient,
      amount: w.amount,
      epoch: w.epoch,
    }
    const submittedKey = `${id}:${w.epoch}`
    if (!this.submitted.has(submittedKey)) {
      const signed = await sidechain.readContract({
        address: this.options.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'hasSigned',
        args: [id, w.epoch, this.m.account.address],
      })
      if (!signed) await this.signAndSubmit(message)
      this.submitted.add(submittedKey)
    }
    await this.maybeRelease(message)
  }

  private async signAndSubmit(w: WithdrawalMessage): Promise<void> {
    const domain = { chainId: this.options.l1ChainId, verifyingContract: this.options.vault }
    const digest = hashTypedData({
      domain: vaultDomain(domain),
      types: withdrawalTypes,
      primaryType: 'Withdrawal',
      message: w,
    })
    const bridgeDigest = await this.m.sidechain.readContract({
      address: this.options.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'withdrawalDigest',
      args: [w.withdrawalId],
    })
    if (bridgeDigest !== digest) {
      // The bridge presents a payload or domain other than ours: signing it would be signing blind.
      throw new BridgeError(
        'RELAYER_CHAIN_MISMATCH',
        `withdrawal ${w.withdrawalId}: the bridge's digest differs from the one computed for the configured vault`,
        { details: { ours: digest, bridge: bridgeDigest } },
      )
    }
    // No signature of this relayer leaves the process (sidechain calls, estimateGas included) unless the exact
    // payload is proven against a header sealed by a quorum of the sidechain's validators.
    await this.m.prover.proveWithdrawal({
      withdrawalId: w.withdrawalId,
      token: w.token,
      recipient: w.recipient,
      amount: w.amount,
      epoch: w.epoch,
    })
    const { signature, fresh } = await this.m.journal.signOnce(
      w.withdrawalId,
      { token: w.token, recipient: w.recipient, amount: w.amount },
      w.epoch,
      digest,
      () => signWithdrawal(this.m.account, domain, w),
    )
    if (fresh) this.m.crash('after-sign')
    const receipt = await this.m.sidechainSender.send({
      address: this.options.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'submitSignature',
      args: [w.withdrawalId, signature],
      label: `submitSignature(${w.withdrawalId})`,
    })
    this.m.metrics.signaturesSubmitted.inc()
    this.m.logger.info(
      {
        withdrawalId: w.withdrawalId.toString(),
        epoch: w.epoch.toString(),
        tx: receipt.transactionHash,
      },
      'withdrawal signature stored on the sidechain',
    )
  }

  private async maybeRelease(w: WithdrawalMessage): Promise<void> {
    const vault = this.vault
    if (vault === undefined) return
    const id = w.withdrawalId
    if (w.epoch !== vault.epoch) {
      // Once per withdrawal and epoch pair: releases stall until the sidechain follows the vault's rotation
      // (or the other way round), which an operator must see.
      const key = `${id}:${w.epoch}:${vault.epoch}`
      if (this.epochWarned.has(key)) return
      this.epochWarned.add(key)
      this.m.logger.warn(
        {
          withdrawalId: id.toString(),
          bridgeEpoch: w.epoch.toString(),
          vaultEpoch: vault.epoch.toString(),
        },
        'sidechain and vault signer epochs differ; waiting',
      )
      return
    }
    const [signers, signatures] = await this.m.sidechain.readContract({
      address: this.options.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'getSignatures',
      args: [id],
    })
    // Sorted ascending by the bridge; only current vault signers count, exactly `threshold` of them.
    const usable: Hex[] = []
    for (let i = 0; i < signers.length && BigInt(usable.length) < vault.threshold; i++) {
      if (vault.signers.has(signers[i]!.toLowerCase())) usable.push(signatures[i]!)
    }
    if (BigInt(usable.length) < vault.threshold) {
      this.readySince.delete(id)
      return
    }
    const now = this.now()
    const since = this.readySince.get(id) ?? now
    this.readySince.set(id, since)
    const turns = releaseTurnDelay(id, this.options.index, this.options.count)
    if (now - since < turns * this.options.releaseTurnTimeoutMs) return
    if (vault.paused) {
      this.m.logger.debug({ withdrawalId: id.toString() }, 'vault paused; release waits')
      return
    }
    this.m.crash('before-release')
    this.m.logger.info(
      { withdrawalId: id.toString(), turnsWaited: turns, signatures: usable.length },
      'releasing withdrawal on L1',
    )
    const receipt = await this.m.l1Sender.send({
      address: this.options.vault,
      abi: bridgeVaultAbi,
      functionName: 'release',
      args: [w, usable],
      label: `release(${id})`,
      maxGas: this.options.releaseGasCap,
    })
    this.m.metrics.releases.inc()
    this.m.logger.info(
      { withdrawalId: id.toString(), l1Tx: receipt.transactionHash },
      'withdrawal released on L1',
    )
    await this.complete(id, 'released by us')
  }

  private reportPending(): void {
    this.m.metrics.pendingWithdrawals.set(this.pending.size)
    let oldest: number | undefined
    for (const since of this.pendingSince.values()) oldest = Math.min(oldest ?? since, since)
    this.m.metrics.oldestPendingWithdrawalSeconds.set(
      oldest === undefined ? 0 : (this.now() - oldest) / 1000,
    )
  }

  private async complete(id: bigint, how: string): Promise<void> {
    await this.m.journal.completeWithdrawal(id)
    this.pending.delete(id)
    this.pendingSince.delete(id)
    this.readySince.delete(id)
    this.reportPending()
    this.m.logger.info({ withdrawalId: id.toString(), how }, 'withdrawal complete')
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
