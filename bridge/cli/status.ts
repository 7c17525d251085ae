/**
 * `sidechain bridge status ID|TXHASH`: where a deposit or withdrawal stands. A transaction hash is looked up on
 * both chains (a deposit or release on L1; a withdrawal, vote, signature or mint on the sidechain). A bare id can
 * be a deposit or a withdrawal: `--deposit`/`--withdrawal` (or `deposit:ID`, `withdrawal:ID`) choose; without
 * either, every one that exists is shown. `--wait` follows until the end.
 */
import { type Hash, parseEventLogs, TransactionReceiptNotFoundError } from 'viem'
import { BridgeError } from '../core/errors.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../deploy/index.ts'
import type { BridgeContext } from './context.ts'
import {
  type DepositStatus,
  depositStatusById,
  depositStatusByTx,
  followDeposit,
  followWithdrawal,
  renderDeposit,
  renderWithdrawal,
  type TrackContext,
  type WithdrawalStatus,
  withdrawalStatus,
} from './track.ts'

export interface StatusOptions {
  target: string
  kind?: 'deposit' | 'withdrawal'
  wait: boolean
}

export type StatusResult = { items: Array<DepositStatus | WithdrawalStatus> }

export type Target = { kind: 'deposit' | 'withdrawal' | 'any'; id: bigint } | { tx: Hash }

export function parseTarget(text: string, kind?: 'deposit' | 'withdrawal'): Target {
  if (/^0x[0-9a-fA-F]{64}$/.test(text)) return { tx: text as Hash }
  const m = /^(?:(d|deposit|w|withdrawal):)?(\d+)$/.exec(text)
  if (m === null) {
    throw new BridgeError(
      'BRIDGE_ARGUMENT_INVALID',
      `"${text}" is neither an id (5, deposit:5, withdrawal:5) nor a transaction hash`,
    )
  }
  const prefix = m[1]
  const fromPrefix =
    prefix === undefined ? undefined : prefix.startsWith('d') ? 'deposit' : 'withdrawal'
  if (fromPrefix !== undefined && kind !== undefined && fromPrefix !== kind) {
    throw new BridgeError('BRIDGE_ARGUMENT_INVALID', `"${text}" contradicts --${kind}`)
  }
  return { kind: fromPrefix ?? kind ?? 'any', id: BigInt(m[2]!) }
}

async function receiptOn(client: BridgeContext['l1'], hash: Hash) {
  try {
    return await client.getTransactionReceipt({ hash })
  } catch (err) {
    if (err instanceof TransactionReceiptNotFoundError) return undefined
    throw err
  }
}

/** Resolves a transaction hash to the deposit (by its L1 transaction) or withdrawal (by id) it belongs to; the
 * web app's lookup uses it too. */
export async function fromTx(ctx: TrackContext, hash: Hash): Promise<Target> {
  const l1Receipt = await receiptOn(ctx.l1, hash)
  if (l1Receipt !== undefined) {
    const vaultLogs = l1Receipt.logs.filter(
      (l) => l.address.toLowerCase() === ctx.vault.toLowerCase(),
    )
    const deposited = parseEventLogs({
      abi: bridgeVaultAbi,
      eventName: 'Deposited',
      logs: vaultLogs,
    })[0]
    if (deposited !== undefined) return { tx: hash }
    const released = parseEventLogs({
      abi: bridgeVaultAbi,
      eventName: 'Released',
      logs: vaultLogs,
    })[0]
    // Ids are unique per source bridge: a release of another bridge instance is not ours.
    if (
      released !== undefined &&
      released.args.sourceBridge.toLowerCase() === ctx.bridge.toLowerCase() &&
      released.args.sourceChainId === BigInt(ctx.sidechainChainId)
    ) {
      return { kind: 'withdrawal', id: released.args.withdrawalId }
    }
  }
  const receipt = await receiptOn(ctx.sidechain, hash)
  if (receipt !== undefined) {
    const logs = receipt.logs.filter((l) => l.address.toLowerCase() === ctx.bridge.toLowerCase())
    const events = parseEventLogs({ abi: sidechainBridgeAbi, logs })
    for (const e of events) {
      if (e.eventName === 'WithdrawalInitiated' || e.eventName === 'SignatureSubmitted') {
        return { kind: 'withdrawal', id: e.args.withdrawalId }
      }
      if (
        e.eventName === 'DepositMinted' ||
        e.eventName === 'DepositConfirmed' ||
        e.eventName === 'DepositConflict'
      ) {
        return { kind: 'deposit', id: e.args.depositId }
      }
    }
  }
  throw new BridgeError(
    'BRIDGE_NOT_FOUND',
    `transaction ${hash} is not a bridge transaction on either chain`,
  )
}

export async function runStatus(ctx: BridgeContext, o: StatusOptions): Promise<StatusResult> {
  let target = parseTarget(o.target, o.kind)
  if ('tx' in target) {
    const resolved = await fromTx(ctx, target.tx)
    if ('tx' in resolved) {
      const s = o.wait
        ? await followDeposit(ctx, resolved.tx)
        : await depositStatusByTx(ctx, resolved.tx)
      renderDeposit(ctx, s)
      return { items: [s] }
    }
    target = resolved
  }
  const items: Array<DepositStatus | WithdrawalStatus> = []
  const t = target
  const notFound = (err: unknown) => {
    if (err instanceof BridgeError && err.code === 'BRIDGE_NOT_FOUND' && t.kind === 'any')
      return undefined
    throw err
  }
  if (t.kind === 'deposit' || t.kind === 'any') {
    const s = await depositStatusById(ctx, t.id).catch(notFound)
    if (s !== undefined) {
      const final = o.wait ? await followDeposit(ctx, s.l1Tx) : s
      if (!o.wait) renderDeposit(ctx, final)
      items.push(final)
    }
  }
  if (t.kind === 'withdrawal' || t.kind === 'any') {
    const s = await withdrawalStatus(ctx, t.id).catch(notFound)
    if (s !== undefined) {
      const final = o.wait ? await followWithdrawal(ctx, t.id, s.sidechainTx) : s
      if (!o.wait) renderWithdrawal(ctx, final)
      items.push(final)
    }
  }
  if (items.length === 0)
    throw new BridgeError('BRIDGE_NOT_FOUND', `no deposit or withdrawal with id ${t.id}`)
  return { items }
}
