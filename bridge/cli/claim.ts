/**
 * `sidechain bridge claim ID`: releases a withdrawal on L1 yourself with the relayer signatures stored on the
 * sidechain (anyone may; the funds go to the withdrawal's recipient whoever sends it). Only signatures of current
 * vault signers are used, exactly `threshold` of them, sorted by signer as the vault requires.
 *
 * A release whose transfer to the recipient failed (`ReleaseDeferred`: a contract recipient that refused the
 * stipend-limited payment) is credited in the vault; `claim` of such a withdrawal pays the credit out to the
 * recipient with `claimFor`, forwarding all gas (the caller pays it, not the relayers).
 */
import { type Hash, type Hex, parseEventLogs } from 'viem'
import { BridgeError } from '../core/errors.ts'
import type { WithdrawalMessage } from '../deploy/index.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../deploy/index.ts'
import type { BridgeContext } from './context.ts'
import { type TrackContext, withdrawalStatus } from './track.ts'
import { send, userError } from './util.ts'

export interface ClaimOptions {
  withdrawalId: bigint
  /** Called from `withdraw --claim`: the withdraw command renders the stages. */
  quiet?: boolean
}

export interface ClaimResult {
  /** `deferred`: released, but the transfer failed and the amount is credited to the recipient in the vault. */
  status: 'released' | 'already-released' | 'deferred' | 'paid-out'
  withdrawalId: bigint
  releaseTx: Hash | undefined
  /** The `claimFor` transaction that paid a deferred release out. */
  claimTx?: Hash
}

export async function runClaim(ctx: BridgeContext, o: ClaimOptions): Promise<ClaimResult> {
  const id = o.withdrawalId
  const status = await withdrawalStatus(ctx, id)
  if (status.released && status.deferred && status.claimable > 0n) {
    const label = 'paid to the recipient'
    if (o.quiet !== true) ctx.reporter.stage('claimable', label, { info: 'sending claimFor' })
    let receipt: Awaited<ReturnType<typeof send>>
    try {
      receipt = await send(
        ctx.l1Wallet(),
        {
          address: ctx.vault,
          abi: bridgeVaultAbi,
          functionName: 'claimFor',
          args: [status.l1Token, status.recipient],
        },
        'claimFor',
      )
    } catch (err) {
      throw userError(err, 'claimFor')
    }
    if (o.quiet !== true)
      ctx.reporter.stage('claimable', label, { done: true, info: receipt.transactionHash })
    return {
      status: 'paid-out',
      withdrawalId: id,
      releaseTx: status.releaseTx,
      claimTx: receipt.transactionHash,
    }
  }
  if (status.released) {
    if (o.quiet !== true)
      ctx.reporter.stage('released', 'released on L1', {
        done: true,
        info: `${status.releaseTx ?? ''} (already)`,
      })
    return { status: 'already-released', withdrawalId: id, releaseTx: status.releaseTx }
  }
  const { withdrawal: w, signatures: usable } = await releaseArguments(ctx, id)
  const label = 'release on L1'
  if (o.quiet !== true) ctx.reporter.stage('released', label, { info: 'sending' })
  let receipt: Awaited<ReturnType<typeof send>>
  try {
    receipt = await send(
      ctx.l1Wallet(),
      { address: ctx.vault, abi: bridgeVaultAbi, functionName: 'release', args: [w, usable] },
      'release',
      (hash) => {
        if (o.quiet !== true) ctx.reporter.stage('released', label, { info: `${hash} (pending)` })
      },
    )
  } catch (err) {
    const e = userError(err, 'release')
    // Someone (a relayer) released it between our check and our transaction: that is the outcome we wanted.
    if (/WithdrawalAlreadyProcessed/.test(e.message)) {
      const again = await withdrawalStatus(ctx, id)
      return { status: 'already-released', withdrawalId: id, releaseTx: again.releaseTx }
    }
    throw e
  }
  const released =
    parseEventLogs({ abi: bridgeVaultAbi, eventName: 'Released', logs: receipt.logs }).length > 0
  if (!released)
    throw new BridgeError('BRIDGE_TX_REVERTED', 'the release emitted no Released event')
  const deferred =
    parseEventLogs({ abi: bridgeVaultAbi, eventName: 'ReleaseDeferred', logs: receipt.logs })
      .length > 0
  if (o.quiet !== true) {
    ctx.reporter.stage('released', label, { done: true, info: receipt.transactionHash })
    if (deferred) {
      ctx.reporter.stage('claimable', 'paid to the recipient', {
        info: `the transfer to ${w.recipient} failed; the amount is credited to it in the vault: run claim again to pay it out with claimFor`,
      })
    }
  }
  return {
    status: deferred ? 'deferred' : 'released',
    withdrawalId: id,
    releaseTx: receipt.transactionHash,
  }
}

/**
 * The arguments of `BridgeVault.release` for withdrawal `id`: the payload the bridge presents and exactly
 * `threshold` stored signatures of current vault signers, ascending. Refuses (BRIDGE_PAUSED,
 * BRIDGE_INSUFFICIENT_SIGNATURES) what the vault would revert. Shared by `claim` and the web app's claim button.
 */
export async function releaseArguments(
  ctx: TrackContext,
  id: bigint,
): Promise<{ withdrawal: WithdrawalMessage; signatures: Hex[] }> {
  const [w, [signers, signatures], vaultSigners, threshold, epoch, paused] = await Promise.all([
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'l1Withdrawal',
      args: [id],
    }),
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'getSignatures',
      args: [id],
    }),
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'signers' }),
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'threshold' }),
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'signerEpoch' }),
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'paused' }),
  ])
  if (paused)
    throw new BridgeError(
      'BRIDGE_PAUSED',
      'the L1 vault is paused: releases wait until it is unpaused',
    )
  if (w.epoch !== epoch) {
    throw new BridgeError(
      'BRIDGE_INSUFFICIENT_SIGNATURES',
      `the stored signatures are for signer epoch ${w.epoch} but the vault is at epoch ${epoch}; wait for the relayers to sign again`,
    )
  }
  const current = new Set(vaultSigners.map((s) => s.toLowerCase()))
  const usable: Hex[] = []
  for (let i = 0; i < signers.length && BigInt(usable.length) < threshold; i++) {
    if (current.has(signers[i]!.toLowerCase())) usable.push(signatures[i]!)
  }
  if (BigInt(usable.length) < threshold) {
    throw new BridgeError(
      'BRIDGE_INSUFFICIENT_SIGNATURES',
      `withdrawal ${id} has ${usable.length} of ${threshold} relayer signatures; try again when the relayers have signed`,
      { details: { signatures: usable.length, threshold: threshold.toString() } },
    )
  }
  return { withdrawal: w, signatures: usable }
}
