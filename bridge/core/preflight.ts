/**
 * Checks before a deposit or a withdrawal is sent: what would make it fail or get stuck is refused with a stable
 * code, what would only make it wait is a warning. Pure functions over facts read from the chains, so the CLI
 * (`bridge deposit|withdraw`) and the web app refuse the same things with the same codes and words.
 */
import { type Address, formatUnits, zeroAddress } from 'viem'
import { BridgeError } from './errors.ts'

export interface AmountUnit {
  symbol: string
  decimals: number
}

export function formatTokenAmount(amount: bigint, unit: AmountUnit): string {
  return `${formatUnits(amount, unit.decimals)} ${unit.symbol}`
}

export interface PreflightResult {
  /** The first reason the transfer must not be sent, or undefined. */
  refusal: BridgeError | undefined
  warnings: string[]
}

export interface DepositFacts {
  token: Address
  unit: AmountUnit
  amount: bigint
  vaultPaused: boolean
  bridgePaused: boolean
  depositsEnabled: boolean
  /** The vault's per-release limit of the token: a larger deposit can only come back in parts. */
  maxPerTransaction: bigint
  /** The sender's L1 balance of the token. */
  balance: bigint
}

export function checkDeposit(f: DepositFacts): PreflightResult {
  const warnings: string[] = []
  const result = (refusal?: BridgeError) => ({ refusal, warnings })
  if (f.amount === 0n) {
    return result(
      new BridgeError(
        'BRIDGE_BELOW_MINIMUM',
        `amount must be at least ${formatUnits(1n, f.unit.decimals)}`,
      ),
    )
  }
  if (f.vaultPaused) {
    return result(
      new BridgeError(
        'BRIDGE_PAUSED',
        'the L1 vault is paused: deposits are refused until it is unpaused',
      ),
    )
  }
  if (f.bridgePaused) {
    return result(
      new BridgeError(
        'BRIDGE_PAUSED',
        'the sidechain bridge is paused: a deposit now would stay locked on L1 until it is unpaused',
      ),
    )
  }
  if (!f.depositsEnabled) {
    return result(
      new BridgeError(
        'BRIDGE_UNKNOWN_TOKEN',
        `the vault does not accept deposits of ${f.token === zeroAddress ? 'ETH' : f.token}`,
      ),
    )
  }
  if (f.amount > f.maxPerTransaction) {
    warnings.push(
      `${formatTokenAmount(f.amount, f.unit)} is above the vault's per-withdrawal limit of ${formatTokenAmount(f.maxPerTransaction, f.unit)}: withdraw it in parts`,
    )
  }
  if (f.balance < f.amount) {
    return result(
      new BridgeError(
        'BRIDGE_INSUFFICIENT_BALANCE',
        `insufficient balance: ${formatTokenAmount(f.balance, f.unit)} available, ${formatTokenAmount(f.amount, f.unit)} needed`,
        { details: { balance: f.balance.toString(), amount: f.amount.toString() } },
      ),
    )
  }
  return result()
}

export interface WithdrawalFacts {
  unit: AmountUnit
  amount: bigint
  bridgePaused: boolean
  vaultPaused: boolean
  /** The vault's per-release limit of the L1 token. */
  maxPerTransaction: bigint
  /** What the vault's rolling 24 h release window has left. */
  windowAvailable: bigint
  /** The bridge's own bounds of one withdrawal (0: none). */
  minAmount: bigint
  maxAmount: bigint
  /** The sender's wrapped balance. */
  balance: bigint
}

export function checkWithdrawal(f: WithdrawalFacts): PreflightResult {
  const warnings: string[] = []
  const result = (refusal?: BridgeError) => ({ refusal, warnings })
  if (f.amount === 0n || f.amount < f.minAmount) {
    const min = f.minAmount > 1n ? f.minAmount : 1n
    return result(
      new BridgeError(
        'BRIDGE_BELOW_MINIMUM',
        `amount must be at least ${formatTokenAmount(min, f.unit)}`,
        { details: { amount: f.amount.toString(), minimum: min.toString() } },
      ),
    )
  }
  if (f.bridgePaused) {
    return result(
      new BridgeError('BRIDGE_PAUSED', 'the sidechain bridge is paused: withdrawals are refused'),
    )
  }
  if (f.vaultPaused) {
    return result(
      new BridgeError(
        'BRIDGE_PAUSED',
        'the L1 vault is paused: a withdrawal now could not be released until it is unpaused',
      ),
    )
  }
  const limit =
    f.maxAmount !== 0n && f.maxAmount < f.maxPerTransaction ? f.maxAmount : f.maxPerTransaction
  if (f.amount > limit) {
    return result(
      new BridgeError(
        'BRIDGE_OVER_LIMIT',
        `${formatTokenAmount(f.amount, f.unit)} is above the vault's per-withdrawal limit of ${formatTokenAmount(limit, f.unit)}: it could never be released; withdraw in parts`,
        { details: { amount: f.amount.toString(), limit: limit.toString() } },
      ),
    )
  }
  if (f.amount > f.windowAvailable) {
    warnings.push(
      `the vault's rolling 24 h limit has ${formatTokenAmount(f.windowAvailable, f.unit)} left: the release will wait until the window allows it`,
    )
  }
  if (f.balance < f.amount) {
    return result(
      new BridgeError(
        'BRIDGE_INSUFFICIENT_BALANCE',
        `insufficient balance: ${formatTokenAmount(f.balance, f.unit)} wrapped available, ${formatTokenAmount(f.amount, f.unit)} needed`,
        { details: { balance: f.balance.toString(), amount: f.amount.toString() } },
      ),
    )
  }
  return result()
}
