/**
 * `sidechain bridge deposit`: locks ETH or an allow-listed ERC-20 in the vault for a sidechain recipient, then
 * follows it: L1 confirmations k/N, relayer confirmations m/M, minted. Everything that would make the deposit
 * fail or get stuck is checked before anything is sent.
 */
import {
  type Address,
  erc20Abi,
  formatEther,
  getAddress,
  isAddress,
  parseEventLogs,
  zeroAddress,
} from 'viem'
import { BridgeError } from '../core/errors.ts'
import { gasDropOutlook } from '../core/gas-drop.ts'
import { checkDeposit } from '../core/preflight.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../deploy/index.ts'
import { type BridgeContext, resolveL1Token } from './context.ts'
import { type DepositStatus, describeGasDropRefusal, followDeposit } from './track.ts'
import { parseAmount, send, tokenInfo } from './util.ts'

export interface DepositOptions {
  amount: string
  token?: string
  /** Sidechain recipient (default: the sender). */
  to?: string
  /** Follow the deposit until minted (default true). */
  wait: boolean
}

export interface DepositResult {
  status: 'sent' | 'minted'
  depositId: bigint
  token: Address
  amount: bigint
  symbol: string
  decimals: number
  to: Address
  l1Tx: `0x${string}`
  approveTx?: `0x${string}`
  deposit?: DepositStatus
  warnings: string[]
}

export async function runDeposit(ctx: BridgeContext, o: DepositOptions): Promise<DepositResult> {
  const account = ctx.account!
  const wallet = ctx.l1Wallet()
  const token = resolveL1Token(ctx, o.token)
  const info = await tokenInfo(ctx.l1, token)
  const amount = parseAmount(o.amount, info.decimals)
  if (o.to !== undefined && !isAddress(o.to, { strict: false })) {
    throw new BridgeError('BRIDGE_ARGUMENT_INVALID', `--to is not an address: ${o.to}`)
  }
  const to = o.to === undefined ? account.address : getAddress(o.to)
  if (to === zeroAddress)
    throw new BridgeError('BRIDGE_ARGUMENT_INVALID', '--to is the zero address')
  const warnings: string[] = []

  const [paused, config, bridgePaused] = await Promise.all([
    ctx.l1.readContract({ address: ctx.vault, abi: bridgeVaultAbi, functionName: 'paused' }),
    ctx.l1.readContract({
      address: ctx.vault,
      abi: bridgeVaultAbi,
      functionName: 'tokenConfig',
      args: [token],
    }),
    ctx.sidechain.readContract({
      address: ctx.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'paused',
    }),
  ])
  const balance =
    token === zeroAddress
      ? await ctx.l1.getBalance({ address: account.address })
      : await ctx.l1.readContract({
          address: token,
          abi: erc20Abi,
          functionName: 'balanceOf',
          args: [account.address],
        })
  const check = checkDeposit({
    token,
    unit: info,
    amount,
    vaultPaused: paused,
    bridgePaused,
    depositsEnabled: config.depositsEnabled,
    maxPerTransaction: config.maxPerTransaction,
    balance,
  })
  if (check.refusal !== undefined) throw check.refusal
  warnings.push(...check.warnings)
  // Gas on arrival: say before sending whether the recipient will be able to move on the sidechain. A bridge
  // deployed before the gas drop existed has no preview; it then drops nothing.
  const gas = await gasDropOutlook(ctx.sidechain, ctx.bridge, to).catch(() => undefined)
  if (gas?.kind === 'will-drop') {
    ctx.reporter.note(
      `gas on arrival: ${to} holds too little sidechain coin; the mint also sends it ${formatEther(gas.amount)}`,
    )
  } else if (gas?.kind === 'refused') {
    warnings.push(
      `${to} holds too little sidechain coin and gets no gas with this mint: ${describeGasDropRefusal(gas.reason)}`,
    )
  }
  for (const w of warnings) ctx.reporter.note(`warning: ${w}`)

  let approveTx: `0x${string}` | undefined
  if (token !== zeroAddress) {
    const allowance = await ctx.l1.readContract({
      address: token,
      abi: erc20Abi,
      functionName: 'allowance',
      args: [account.address, ctx.vault],
    })
    if (allowance < amount) {
      ctx.reporter.stage('approve', 'approve the vault', {})
      const receipt = await send(
        wallet,
        { address: token, abi: erc20Abi, functionName: 'approve', args: [ctx.vault, amount] },
        'approval',
        (hash) => ctx.reporter.stage('approve', 'approve the vault', { info: hash }),
      )
      approveTx = receipt.transactionHash
      ctx.reporter.stage('approve', 'approve the vault', { done: true, info: approveTx })
    }
  }

  ctx.reporter.stage('l1tx', 'L1 deposit', { info: 'sending' })
  const receipt = await send(
    wallet,
    token === zeroAddress
      ? {
          address: ctx.vault,
          abi: bridgeVaultAbi,
          functionName: 'depositETH',
          args: [to],
          value: amount,
        }
      : {
          address: ctx.vault,
          abi: bridgeVaultAbi,
          functionName: 'depositERC20',
          args: [token, amount, to],
        },
    'deposit',
    (hash) => ctx.reporter.stage('l1tx', 'L1 deposit', { info: `${hash} (pending)` }),
  )
  const log = parseEventLogs({
    abi: bridgeVaultAbi,
    eventName: 'Deposited',
    logs: receipt.logs,
  }).find((l) => l.address.toLowerCase() === ctx.vault.toLowerCase())
  if (log === undefined)
    throw new BridgeError(
      'BRIDGE_TX_REVERTED',
      'the deposit transaction emitted no Deposited event',
    )
  const result: DepositResult = {
    status: 'sent',
    depositId: log.args.depositId,
    token,
    // What the vault credited (less than sent for fee-on-transfer tokens).
    amount: log.args.amount,
    symbol: info.symbol,
    decimals: info.decimals,
    to,
    l1Tx: receipt.transactionHash,
    approveTx,
    warnings,
  }
  ctx.reporter.stage('l1tx', 'L1 deposit', {
    done: true,
    info: `${receipt.transactionHash} (block ${receipt.blockNumber}, deposit #${result.depositId})`,
  })
  if (!o.wait) return result
  const status = await followDeposit(ctx, receipt.transactionHash)
  return { ...result, status: 'minted', depositId: status.depositId, deposit: status }
}
