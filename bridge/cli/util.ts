/**
 * Helpers of the user commands: amounts in token units, polling with a deadline, sending a contract call and
 * turning its failure into a clear typed error (paused, over limit, unknown token, ...).
 */
import {
  type Abi,
  type Address,
  erc20Abi,
  formatUnits,
  type Hash,
  type PublicClient,
  parseUnits,
  type TransactionReceipt,
  zeroAddress,
} from 'viem'
import { pollUntil as poll } from '../../chain/lib/poll.ts'
import { classifyError, revertName } from '../core/classify.ts'
import { BridgeError, type BridgeErrorCode } from '../core/errors.ts'
import type { AnyWallet, BridgeContext } from './context.ts'

export interface TokenInfo {
  symbol: string
  decimals: number
}

export async function tokenInfo(client: PublicClient, token: Address): Promise<TokenInfo> {
  if (token === zeroAddress) return { symbol: 'ETH', decimals: 18 }
  const code = await client.getCode({ address: token })
  if (code === undefined || code === '0x') {
    throw new BridgeError('BRIDGE_UNKNOWN_TOKEN', `no token contract at ${token}`)
  }
  const [symbol, decimals] = await Promise.all([
    client
      .readContract({ address: token, abi: erc20Abi, functionName: 'symbol' })
      .catch(() => 'tokens'),
    client
      .readContract({ address: token, abi: erc20Abi, functionName: 'decimals' })
      .catch(() => 18),
  ])
  return { symbol, decimals }
}

/** Parses "1.5" in token units; refuses malformed values, too many decimals and zero. */
export function parseAmount(text: string, decimals: number): bigint {
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw new BridgeError('BRIDGE_ARGUMENT_INVALID', `amount "${text}" is not a decimal number`)
  }
  const fraction = text.split('.')[1] ?? ''
  if (fraction.length > decimals) {
    throw new BridgeError(
      'BRIDGE_ARGUMENT_INVALID',
      `amount "${text}" has more than ${decimals} decimals`,
    )
  }
  const amount = parseUnits(text, decimals)
  if (amount === 0n) {
    throw new BridgeError(
      'BRIDGE_BELOW_MINIMUM',
      `amount must be at least ${formatUnits(1n, decimals)}`,
    )
  }
  return amount
}

export function formatAmount(amount: bigint, info: TokenInfo): string {
  return `${formatUnits(amount, info.decimals)} ${info.symbol}`
}

/** Polls `check` until it returns a value, or fails with BRIDGE_TIMEOUT at the command's deadline. */
export function pollUntil<T>(
  ctx: Pick<BridgeContext, 'timeoutMs'>,
  what: string,
  check: () => Promise<T | undefined>,
  intervalMs = 300,
): Promise<T> {
  return poll(check, {
    what,
    timeoutMs: ctx.timeoutMs,
    intervalMs,
    // A flaky RPC is not a reason to give up on a long wait; anything else is.
    retryIf: (err) => classifyError(err).disposition === 'retryable',
    onTimeout: () =>
      new BridgeError(
        'BRIDGE_TIMEOUT',
        `timed out waiting for ${what} (use --timeout to wait longer)`,
      ),
  })
}

const REVERT_CODES: Record<string, [BridgeErrorCode, string]> = {
  EnforcedPause: ['BRIDGE_PAUSED', 'the contract is paused'],
  TransactionLimitExceeded: ['BRIDGE_OVER_LIMIT', 'the amount is above the per-transaction limit'],
  WindowLimitExceeded: [
    'BRIDGE_OVER_LIMIT',
    'the rolling 24 h release limit is used up; try later',
  ],
  TokenNotAllowed: ['BRIDGE_UNKNOWN_TOKEN', 'the vault does not accept this token'],
  TokenHasNoCode: ['BRIDGE_UNKNOWN_TOKEN', 'the token has no contract'],
  UnknownToken: ['BRIDGE_UNKNOWN_TOKEN', 'not a wrapped token of this bridge'],
  ZeroAmount: ['BRIDGE_BELOW_MINIMUM', 'the amount is zero'],
  NothingReceived: ['BRIDGE_BELOW_MINIMUM', 'the vault received nothing'],
  ERC20InsufficientBalance: ['BRIDGE_INSUFFICIENT_BALANCE', 'insufficient token balance'],
  ERC20InsufficientAllowance: ['BRIDGE_INSUFFICIENT_BALANCE', 'insufficient allowance'],
  InsufficientSignatures: ['BRIDGE_INSUFFICIENT_SIGNATURES', 'not enough relayer signatures'],
  StaleSignerEpoch: ['BRIDGE_INSUFFICIENT_SIGNATURES', 'the signatures are for an old signer set'],
  UnknownWithdrawal: ['BRIDGE_NOT_FOUND', 'no such withdrawal'],
  WithdrawalBelowMinimum: [
    'BRIDGE_BELOW_MINIMUM',
    "the amount is below the bridge's minimum withdrawal of this token",
  ],
  WithdrawalAboveMaximum: [
    'BRIDGE_OVER_LIMIT',
    'the amount is above what the vault releases in one transaction',
  ],
  InsufficientVaultBalance: [
    'BRIDGE_VAULT_UNDERFUNDED',
    'the vault holds less of this token than the release moves; it can be released once deposits or a top-up refill it',
  ],
  NothingToClaim: ['BRIDGE_NOT_FOUND', 'the recipient has nothing to claim'],
}

/** Turns a failed call into a typed user error (its custom error decoded where possible). */
export function userError(err: unknown, action: string): BridgeError {
  if (err instanceof BridgeError) return err
  const name = revertName(err)
  if (name !== undefined) {
    const known = REVERT_CODES[name]
    if (known !== undefined) {
      return new BridgeError(known[0], `${action} refused: ${known[1]} (${name})`, { cause: err })
    }
    return new BridgeError('BRIDGE_TX_REVERTED', `${action} reverted with ${name}`, { cause: err })
  }
  const c = classifyError(err)
  if (c.kind === 'insufficient-funds') {
    return new BridgeError(
      'BRIDGE_INSUFFICIENT_BALANCE',
      `${action}: not enough native coin for the amount and gas`,
      {
        cause: err,
      },
    )
  }
  if (c.kind === 'network' || c.kind === 'timeout') {
    return new BridgeError('BRIDGE_RPC_UNAVAILABLE', `${action}: ${c.detail}`, { cause: err })
  }
  return new BridgeError('BRIDGE_TX_REVERTED', `${action} failed: ${c.detail}`, { cause: err })
}

/**
 * Headroom on the gas estimate, in percent, as the relayers' sender has: gas can depend on
 * the block a call lands in. The vault's release limit writes a new checkpoint when the
 * release lands in a later second than its estimate (about 17k more gas), and an exact
 * estimate then runs out of gas and reverts.
 */
export const GAS_MARGIN_PERCENT = 25n

/** Sends a contract call from the context's account and waits for a successful receipt. */
export async function send(
  wallet: AnyWallet,
  call: {
    address: Address
    abi: Abi
    functionName: string
    args: readonly unknown[]
    value?: bigint
  },
  action: string,
  onHash?: (hash: Hash) => void,
): Promise<TransactionReceipt> {
  let hash: Hash
  try {
    const estimate = await wallet.estimateContractGas({
      ...call,
      account: wallet.account,
    } as never)
    const gas = (estimate * (100n + GAS_MARGIN_PERCENT)) / 100n
    hash = await wallet.writeContract({ ...call, gas } as never)
  } catch (err) {
    throw userError(err, action)
  }
  onHash?.(hash)
  const receipt = await wallet.waitForTransactionReceipt({ hash, pollingInterval: 250 })
  if (receipt.status !== 'success') {
    throw new BridgeError('BRIDGE_TX_REVERTED', `${action} reverted in transaction ${hash}`, {
      details: { transactionHash: hash },
    })
  }
  return receipt
}

/** Short JSON-safe form of results: bigints as decimal strings. */
export function jsonify(value: unknown): unknown {
  if (value === undefined) return undefined
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))
}
