/**
 * Where a deposit or a withdrawal stands, read from the chains (the source of truth), and a follower that renders
 * the stages live until the end (`deposit`, `withdraw`, `status --wait`).
 *
 *   deposit:    L1 transaction -> L1 confirmations k/N -> relayer confirmations m/M -> minted
 *   withdrawal: sidechain transaction -> relayer signatures m/M -> released on L1
 */
import {
  type Address,
  formatEther,
  type Hash,
  parseEventLogs,
  TransactionReceiptNotFoundError,
  zeroAddress,
  zeroHash,
} from 'viem'
import { BridgeError } from '../core/errors.ts'
import { GAS_DROP_REFUSALS, type GasDropRefusalName } from '../core/gas-drop.ts'
import {
  bridgeVaultAbi,
  depositPayloadHash,
  sidechainBridgeAbi,
  withdrawalKeyOf,
} from '../deploy/index.ts'
import type { BridgeContext } from './context.ts'
import { pollUntil } from './util.ts'

/** What reading a transfer's status needs: the chains and the bridge's addresses (the CLI context has them;
 * the web app builds one from its network file). */
export type TrackContext = Pick<
  BridgeContext,
  | 'l1'
  | 'sidechain'
  | 'vault'
  | 'bridge'
  | 'l1ChainId'
  | 'sidechainChainId'
  | 'confirmations'
  | 'l1FromBlock'
  | 'sidechainFromBlock'
>

export interface DepositStatus {
  kind: 'deposit'
  depositId: bigint
  token: Address
  from: Address
  to: Address
  amount: bigint
  l1Tx: Hash
  l1Block: bigint
  confirmations: number
  requiredConfirmations: number | 'finalized'
  /** Past the configured confirmations (or finalized). */
  confirmed: boolean
  votes: bigint
  threshold: bigint
  minted: boolean
  mintTx: Hash | undefined
  wrappedToken: Address | undefined
  /** What the mint brought in native coin (gas on arrival); undefined until minted or when it did not qualify. */
  gasDrop: GasDropResult | undefined
  stage: 'confirming' | 'voting' | 'minted'
}

export type GasDropResult = { dropped: bigint } | { refused: GasDropRefusalName }

export interface WithdrawalStatus {
  kind: 'withdrawal'
  withdrawalId: bigint
  l1Token: Address
  wrappedToken: Address
  from: Address
  recipient: Address
  amount: bigint
  sidechainTx: Hash | undefined
  signatures: number
  threshold: bigint
  released: boolean
  releaseTx: Hash | undefined
  /**
   * The release paid nothing yet: the transfer to the recipient failed (`ReleaseDeferred`) and the amount was
   * credited to it in the vault, to be pulled with `claim` (or paid out by anyone with `claimFor`).
   */
  deferred: boolean
  /** What the vault owes the recipient in this token now (all its deferred releases not yet pulled). */
  claimable: bigint
  stage: 'signing' | 'signed' | 'released'
}

/** Deposit status from its L1 transaction (re-read every time: a reorg may move or drop it). */
export async function depositStatusByTx(ctx: TrackContext, l1Tx: Hash): Promise<DepositStatus> {
  let receipt: Awaited<ReturnType<typeof ctx.l1.getTransactionReceipt>>
  try {
    receipt = await ctx.l1.getTransactionReceipt({ hash: l1Tx })
  } catch (err) {
    if (err instanceof TransactionReceiptNotFoundError) {
      throw new BridgeError(
        'BRIDGE_TX_DROPPED',
        `deposit transaction ${l1Tx} is no longer on L1 (dropped by a reorg); nothing was locked, send it again`,
      )
    }
    throw err
  }
  const log = parseEventLogs({
    abi: bridgeVaultAbi,
    eventName: 'Deposited',
    logs: receipt.logs,
  }).find((l) => l.address.toLowerCase() === ctx.vault.toLowerCase())
  if (receipt.status !== 'success' || log === undefined) {
    throw new BridgeError(
      'BRIDGE_NOT_FOUND',
      `transaction ${l1Tx} is not a deposit into vault ${ctx.vault}`,
    )
  }
  const latest = await ctx.l1.getBlockNumber({ cacheTime: 0 })
  const confirmations = Number(latest - receipt.blockNumber + 1n)
  let confirmed: boolean
  if (ctx.confirmations === 'finalized') {
    const finalized = await ctx.l1.getBlock({ blockTag: 'finalized' })
    confirmed = finalized.number >= receipt.blockNumber
  } else {
    confirmed = confirmations >= ctx.confirmations
  }
  const d = {
    depositId: log.args.depositId,
    token: log.args.token,
    to: log.args.to,
    amount: log.args.amount,
  }
  const payload = depositPayloadHash({ l1ChainId: ctx.l1ChainId, vault: ctx.vault }, d)
  const [mintedPayload, votes, threshold] = await Promise.all([
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'mintedPayload',
      args: [d.depositId],
    }),
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'votesFor',
      args: [d.depositId, payload],
    }),
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'threshold',
    }),
  ])
  const minted = mintedPayload === payload
  if (mintedPayload !== zeroHash && !minted) {
    throw new BridgeError(
      'BRIDGE_TX_REVERTED',
      `deposit ${d.depositId} was minted with a different payload`,
      {
        details: { expected: payload, minted: mintedPayload },
      },
    )
  }
  let mintTx: Hash | undefined
  let wrappedToken: Address | undefined
  let gasDrop: GasDropResult | undefined
  if (minted) {
    const logs = await ctx.sidechain.getContractEvents({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      eventName: 'DepositMinted',
      args: { depositId: d.depositId },
      fromBlock: ctx.sidechainFromBlock,
      toBlock: 'latest',
    })
    mintTx = logs[0]?.transactionHash ?? undefined
    wrappedToken = logs[0]?.args.token
    if (mintTx !== undefined) gasDrop = await gasDropOfMint(ctx, mintTx, d.depositId)
  }
  return {
    kind: 'deposit',
    ...d,
    from: log.args.from,
    l1Tx,
    l1Block: receipt.blockNumber,
    confirmations,
    requiredConfirmations: ctx.confirmations,
    confirmed,
    votes: minted ? threshold : votes,
    threshold,
    minted,
    mintTx,
    wrappedToken,
    gasDrop,
    stage: minted ? 'minted' : confirmed ? 'voting' : 'confirming',
  }
}

/** The gas drop (or its refusal) that the mint transaction `mintTx` of `depositId` emitted. */
export async function gasDropOfMint(
  ctx: Pick<TrackContext, 'sidechain' | 'bridge'>,
  mintTx: Hash,
  depositId: bigint,
): Promise<GasDropResult | undefined> {
  const receipt = await ctx.sidechain.getTransactionReceipt({ hash: mintTx })
  const logs = receipt.logs.filter((l) => l.address.toLowerCase() === ctx.bridge.toLowerCase())
  const drop = parseEventLogs({ abi: sidechainBridgeAbi, eventName: 'GasDropped', logs }).find(
    (l) => l.args.depositId === depositId,
  )
  if (drop !== undefined) return { dropped: drop.args.amount }
  const refusal = parseEventLogs({
    abi: sidechainBridgeAbi,
    eventName: 'GasDropRefused',
    logs,
  }).find((l) => l.args.depositId === depositId)
  if (refusal !== undefined)
    return { refused: GAS_DROP_REFUSALS[refusal.args.reason] ?? 'reserve-empty' }
  return undefined
}

/** Deposit status from its id (finds its L1 transaction through the indexed `Deposited` log). */
export async function depositStatusById(
  ctx: TrackContext,
  depositId: bigint,
): Promise<DepositStatus> {
  const logs = await ctx.l1.getContractEvents({
    address: ctx.vault,
    abi: bridgeVaultAbi,
    eventName: 'Deposited',
    args: { depositId },
    fromBlock: ctx.l1FromBlock,
    toBlock: 'latest',
  })
  const log = logs[0]
  if (log === undefined)
    throw new BridgeError('BRIDGE_NOT_FOUND', `no deposit ${depositId} in vault ${ctx.vault}`)
  return depositStatusByTx(ctx, log.transactionHash)
}

export async function withdrawalStatus(
  ctx: TrackContext,
  withdrawalId: bigint,
  sidechainTx?: Hash,
): Promise<WithdrawalStatus> {
  const count = await ctx.sidechain.readContract({
    address: ctx.bridge,
    abi: sidechainBridgeAbi,
    functionName: 'withdrawalCount',
  })
  if (withdrawalId >= count)
    throw new BridgeError('BRIDGE_NOT_FOUND', `no withdrawal ${withdrawalId} on the bridge`)
  const [w, [signers], threshold, vaultSigners, released] = await Promise.all([
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'getWithdrawal',
      args: [withdrawalId],
    }),
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'getSignatures',
      args: [withdrawalId],
    }),
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'threshold' }),
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'signers' }),
    ctx.l1.readContract({
      address: ctx.vault,
      abi: bridgeVaultAbi,
      functionName: 'isProcessed',
      args: [BigInt(ctx.sidechainChainId), ctx.bridge, withdrawalId],
    }),
  ])
  const current = new Set(vaultSigners.map((s) => s.toLowerCase()))
  const signatures = signers.filter((s) => current.has(s.toLowerCase())).length
  let tx = sidechainTx
  if (tx === undefined) {
    const logs = await ctx.sidechain.getContractEvents({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      eventName: 'WithdrawalInitiated',
      args: { withdrawalId },
      fromBlock: ctx.sidechainFromBlock,
      toBlock: 'latest',
    })
    tx = logs[0]?.transactionHash ?? undefined
  }
  let releaseTx: Hash | undefined
  if (released) {
    const logs = await ctx.l1.getContractEvents({
      address: ctx.vault,
      abi: bridgeVaultAbi,
      eventName: 'Released',
      // Matched by the key of this bridge's withdrawal: the same id of another bridge instance is not ours.
      args: {
        withdrawalKey: withdrawalKeyOf(BigInt(ctx.sidechainChainId), ctx.bridge, withdrawalId),
      },
      fromBlock: ctx.l1FromBlock,
      toBlock: 'latest',
    })
    releaseTx = logs[0]?.transactionHash ?? undefined
  }
  let deferred = false
  let claimable = 0n
  if (released) {
    claimable = await ctx.l1.readContract({
      address: ctx.vault,
      abi: bridgeVaultAbi,
      functionName: 'claimable',
      args: [w.l1Token, w.l1Recipient],
    })
    if (releaseTx !== undefined) {
      const receipt = await ctx.l1.getTransactionReceipt({ hash: releaseTx })
      deferred = parseEventLogs({
        abi: bridgeVaultAbi,
        eventName: 'ReleaseDeferred',
        logs: receipt.logs,
      }).some(
        (l) =>
          l.address.toLowerCase() === ctx.vault.toLowerCase() &&
          l.args.token.toLowerCase() === w.l1Token.toLowerCase() &&
          l.args.recipient.toLowerCase() === w.l1Recipient.toLowerCase() &&
          l.args.amount === w.amount,
      )
    }
  }
  return {
    kind: 'withdrawal',
    withdrawalId,
    l1Token: w.l1Token,
    wrappedToken: w.token,
    from: w.from,
    recipient: w.l1Recipient,
    amount: w.amount,
    sidechainTx: tx,
    signatures,
    threshold,
    released,
    releaseTx,
    deferred,
    claimable,
    stage: released ? 'released' : BigInt(signatures) >= threshold ? 'signed' : 'signing',
  }
}

export function renderDeposit(ctx: BridgeContext, s: DepositStatus): void {
  const r = ctx.reporter
  r.stage('l1tx', 'L1 deposit', {
    done: true,
    info: `${s.l1Tx} (block ${s.l1Block}, deposit #${s.depositId})`,
  })
  if (s.requiredConfirmations === 'finalized') {
    r.stage('confirmations', 'L1 finality', {
      done: s.confirmed,
      info: s.confirmed ? 'finalized' : 'waiting',
    })
  } else {
    r.stage('confirmations', 'L1 confirmations', {
      current: Math.min(s.confirmations, s.requiredConfirmations),
      total: s.requiredConfirmations,
      done: s.confirmed,
    })
  }
  r.stage('votes', 'relayer confirmations', {
    current: Number(s.votes),
    total: Number(s.threshold),
    done: s.minted,
  })
  r.stage('minted', 'minted on the sidechain', {
    done: s.minted,
    info: s.minted ? `${s.mintTx ?? ''}` : undefined,
  })
  if (s.gasDrop !== undefined) {
    r.stage('gas', 'gas on arrival', {
      done: true,
      info:
        'dropped' in s.gasDrop
          ? `${formatEther(s.gasDrop.dropped)} native coin sent to ${s.to}`
          : `none: ${describeGasDropRefusal(s.gasDrop.refused)}`,
    })
  }
}

/** A refused gas drop in words (CLI and web app). */
export function describeGasDropRefusal(reason: GasDropRefusalName): string {
  switch (reason) {
    case 'reserve-empty':
      return "the bridge's gas reserve is empty (the operator must fund it)"
    case 'window-full':
      return 'the 24 h gas drop cap is used up'
    case 'recipient-rejected':
      return 'the recipient contract refused the coin'
  }
}

export function renderWithdrawal(ctx: BridgeContext, s: WithdrawalStatus): void {
  const r = ctx.reporter
  r.stage('burn', 'sidechain withdrawal', {
    done: true,
    info: `${s.sidechainTx ?? ''} (withdrawal #${s.withdrawalId})`.trim(),
  })
  r.stage('signatures', 'relayer signatures', {
    current: Math.min(s.signatures, Number(s.threshold)),
    total: Number(s.threshold),
    done: BigInt(s.signatures) >= s.threshold,
  })
  r.stage('released', 'released on L1', {
    done: s.released,
    info: s.released ? (s.releaseTx ?? '') : undefined,
  })
  if (s.deferred) {
    r.stage('claimable', 'paid to the recipient', {
      done: s.claimable === 0n,
      info:
        s.claimable === 0n
          ? 'pulled with claim'
          : `the transfer failed; ${s.claimable} credited to ${s.recipient} in the vault: \`sidechain bridge claim ${s.withdrawalId}\` pays it out`,
    })
  }
}

/** Follows a deposit until minted, rendering every change. */
export async function followDeposit(ctx: BridgeContext, l1Tx: Hash): Promise<DepositStatus> {
  return pollUntil(ctx, 'the deposit to be minted', async () => {
    const s = await depositStatusByTx(ctx, l1Tx)
    renderDeposit(ctx, s)
    return s.minted ? s : undefined
  })
}

/**
 * Follows a withdrawal until released. `onSigned` runs once when M signatures are stored (to claim it).
 */
export async function followWithdrawal(
  ctx: BridgeContext,
  withdrawalId: bigint,
  sidechainTx: Hash | undefined,
  onSigned?: (s: WithdrawalStatus) => Promise<void>,
): Promise<WithdrawalStatus> {
  let signedHandled = false
  return pollUntil(ctx, 'the withdrawal to be released', async () => {
    const s = await withdrawalStatus(ctx, withdrawalId, sidechainTx)
    renderWithdrawal(ctx, s)
    if (s.released) return s
    if (s.stage === 'signed' && onSigned !== undefined && !signedHandled) {
      signedHandled = true
      await onSigned(s)
    }
    return undefined
  })
}

export function isEth(token: Address): boolean {
  return token === zeroAddress
}
