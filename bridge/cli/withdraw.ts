/**
 * `sidechain bridge withdraw`: burns wrapped tokens on the sidechain for an L1 recipient, then follows the
 * withdrawal: relayer signatures m/M, released on L1 (with `--claim`, the user releases it as soon as the
 * signatures are stored). A withdrawal that could never be released (above the vault's per-transaction limit,
 * unknown token) or would wait on a pause is refused before anything is burned.
 */
import { type Address, erc20Abi, getAddress, isAddress, parseEventLogs, zeroAddress } from 'viem'
import { BridgeError } from '../core/errors.ts'
import { checkWithdrawal } from '../core/preflight.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../deploy/index.ts'
import { runClaim } from './claim.ts'
import type { BridgeContext } from './context.ts'
import { followWithdrawal, type WithdrawalStatus } from './track.ts'
import { parseAmount, send, tokenInfo } from './util.ts'

export interface WithdrawOptions {
  amount: string
  token?: string
  /** L1 recipient (default: the sender). */
  to?: string
  wait: boolean
  /** Release on L1 yourself once the signatures are stored (pays L1 gas). */
  claim: boolean
}

export interface WithdrawResult {
  status: 'sent' | 'released'
  withdrawalId: bigint
  l1Token: Address
  wrappedToken: Address
  amount: bigint
  symbol: string
  decimals: number
  recipient: Address
  sidechainTx: `0x${string}`
  withdrawal?: WithdrawalStatus
  warnings: string[]
}

/** The wrapped token and its L1 token, from `--token` (ETH, symbol, L1 token or wrapped token address). */
export async function resolveWrapped(
  ctx: BridgeContext,
  token: string | undefined,
): Promise<{ l1Token: Address; wrapped: Address }> {
  const read = <T>(functionName: string, args: readonly unknown[]) =>
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName,
      args,
    } as never) as Promise<T>
  let l1Token: Address
  if (token === undefined || token.toUpperCase() === 'ETH') l1Token = zeroAddress
  else if (ctx.tokens.has(token.toLowerCase())) l1Token = ctx.tokens.get(token.toLowerCase())!
  else if (isAddress(token, { strict: false })) {
    const a = getAddress(token)
    if (await read<boolean>('isWrappedToken', [a])) {
      return { l1Token: getAddress(await read<Address>('l1TokenOf', [a])), wrapped: a }
    }
    l1Token = a
  } else {
    throw new BridgeError(
      'BRIDGE_UNKNOWN_TOKEN',
      `unknown token "${token}": give ETH, an address, or a symbol from the network file`,
    )
  }
  const wrapped = await read<Address>('wrappedTokenOf', [l1Token])
  if (wrapped === zeroAddress) {
    throw new BridgeError(
      'BRIDGE_UNKNOWN_TOKEN',
      `the bridge has no wrapped token for ${l1Token === zeroAddress ? 'ETH' : l1Token} (nothing was ever deposited)`,
    )
  }
  return { l1Token, wrapped: getAddress(wrapped) }
}

export async function runWithdraw(ctx: BridgeContext, o: WithdrawOptions): Promise<WithdrawResult> {
  const account = ctx.account!
  const { l1Token, wrapped } = await resolveWrapped(ctx, o.token)
  // Amounts are the same base units on both chains; users think in the L1 token's units.
  const display = await tokenInfo(ctx.l1, l1Token)
  const amount = parseAmount(o.amount, display.decimals)
  if (o.to !== undefined && !isAddress(o.to, { strict: false })) {
    throw new BridgeError('BRIDGE_ARGUMENT_INVALID', `--to is not an address: ${o.to}`)
  }
  const recipient = o.to === undefined ? account.address : getAddress(o.to)
  if (recipient === zeroAddress)
    throw new BridgeError('BRIDGE_ARGUMENT_INVALID', '--to is the zero address')
  const warnings: string[] = []

  const [bridgePaused, vaultPaused, config, [, available], balance, limits] = await Promise.all([
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'paused',
    }),
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'paused' }),
    ctx.l1.readContract({
      address: ctx.vault,
      abi: bridgeVaultAbi,
      functionName: 'tokenConfig',
      args: [l1Token],
    }),
    ctx.l1.readContract({
      address: ctx.vault,
      abi: bridgeVaultAbi,
      functionName: 'releaseWindow',
      args: [l1Token],
    }),
    ctx.sidechain.readContract({
      address: wrapped,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [account.address],
    }),
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'withdrawalLimits',
      args: [wrapped],
    }),
  ])
  const check = checkWithdrawal({
    unit: display,
    amount,
    bridgePaused,
    vaultPaused,
    maxPerTransaction: config.maxPerTransaction,
    windowAvailable: available,
    minAmount: limits.minAmount,
    maxAmount: limits.maxAmount,
    balance,
  })
  if (check.refusal !== undefined) throw check.refusal
  warnings.push(...check.warnings)
  for (const w of warnings) ctx.reporter.note(`warning: ${w}`)

  ctx.reporter.stage('burn', 'sidechain withdrawal', { info: 'sending' })
  const receipt = await send(
    ctx.sidechainWallet(),
    {
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'withdraw',
      args: [wrapped, amount, recipient],
    },
    'withdrawal',
    (hash) => ctx.reporter.stage('burn', 'sidechain withdrawal', { info: `${hash} (pending)` }),
  )
  const log = parseEventLogs({
    abi: sidechainBridgeAbi,
    eventName: 'WithdrawalInitiated',
    logs: receipt.logs,
  }).find((l) => l.address.toLowerCase() === ctx.bridge.toLowerCase())
  if (log === undefined)
    throw new BridgeError(
      'BRIDGE_TX_REVERTED',
      'the withdrawal emitted no WithdrawalInitiated event',
    )
  const result: WithdrawResult = {
    status: 'sent',
    withdrawalId: log.args.withdrawalId,
    l1Token,
    wrappedToken: wrapped,
    amount,
    symbol: display.symbol,
    decimals: display.decimals,
    recipient,
    sidechainTx: receipt.transactionHash,
    warnings,
  }
  ctx.reporter.stage('burn', 'sidechain withdrawal', {
    done: true,
    info: `${receipt.transactionHash} (withdrawal #${result.withdrawalId})`,
  })
  if (!o.wait) return result
  const status = await followWithdrawal(
    ctx,
    result.withdrawalId,
    receipt.transactionHash,
    o.claim
      ? async () => {
          await runClaim(ctx, { withdrawalId: result.withdrawalId, quiet: true })
        }
      : undefined,
  )
  return { ...result, status: 'released', withdrawal: status }
}
