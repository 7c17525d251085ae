/**
 * Deployment of the bridge contracts with viem, plus the EIP-712 helpers relayers and users need to sign and
 * submit L1 releases. Every input is checked here, before anything is sent, with the same rules the contracts
 * enforce (threshold 1..N, no zero address, no duplicates, set size cap), so a bad configuration fails fast with
 * a typed error instead of a reverted transaction.
 */
import {
  type Account,
  type Address,
  type Chain,
  encodeAbiParameters,
  encodePacked,
  getAddress,
  type Hash,
  type Hex,
  isAddress,
  keccak256,
  type LocalAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
  zeroAddress,
} from 'viem'
import type { ErrorCodeOf } from '../../chain/lib/error-codes.ts'
import { SidechainError } from '../../chain/lib/errors.ts'
import {
  bridgeVaultAbi,
  bridgeVaultBytecode,
  feeOnTransferTokenAbi,
  feeOnTransferTokenBytecode,
  sidechainBridgeAbi,
  sidechainBridgeBytecode,
  testTokenAbi,
  testTokenBytecode,
} from '../../contracts/generated/index.ts'

export type BridgeContractsErrorCode = ErrorCodeOf<'bridgeDeploy'>

export class BridgeContractsError extends SidechainError<BridgeContractsErrorCode> {
  override readonly name: string = 'BridgeContractsError'
}

/** EIP-712 domain name of the L1 vault (`BridgeMessages.DOMAIN_NAME`). */
export const VAULT_DOMAIN_NAME = 'BridgeVault'
/** EIP-712 domain version of the L1 vault (`BridgeMessages.DOMAIN_VERSION`). */
export const VAULT_DOMAIN_VERSION = '1'
/** Largest signer set of the vault and relayer set of the sidechain bridge. */
export const MAX_SIGNERS = 32
/** Largest `windowLimit` the vault's rate limiter stores (2^208 - 1). */
export const MAX_WINDOW_LIMIT = (1n << 208n) - 1n

/**
 * EIP-712 types of a withdrawal release: `Withdrawal(uint256 sourceChainId,address sourceBridge,uint256
 * withdrawalId,address token,address recipient,uint256 amount,uint256 epoch)`. The source chain and bridge bind
 * the id to the bridge instance that burned it.
 */
export const withdrawalTypes = {
  Withdrawal: [
    { name: 'sourceChainId', type: 'uint256' },
    { name: 'sourceBridge', type: 'address' },
    { name: 'withdrawalId', type: 'uint256' },
    { name: 'token', type: 'address' },
    { name: 'recipient', type: 'address' },
    { name: 'amount', type: 'uint256' },
    { name: 'epoch', type: 'uint256' },
  ],
} as const

/**
 * EIP-712 types of a signer rotation: `SignerSetUpdate(bytes32 previousSetHash,address[] signers,uint256
 * threshold,uint256 epoch)`. `previousSetHash` ({@link memberSetHash} of the set being replaced) makes the update
 * apply only over that set, on the vault and on the sidechain bridge alike.
 */
export const signerSetUpdateTypes = {
  SignerSetUpdate: [
    { name: 'previousSetHash', type: 'bytes32' },
    { name: 'signers', type: 'address[]' },
    { name: 'threshold', type: 'uint256' },
    { name: 'epoch', type: 'uint256' },
  ],
} as const

/** The L1 vault a deposit came from: part of the payload the sidechain bridge mints, so a deposit id is
 * never confused with the same id of another vault or chain. */
export interface DepositSource {
  l1ChainId: number | bigint
  vault: Address
}

/** Hash relayers vote on for a deposit (`SidechainBridge.depositPayloadHash`). */
export function depositPayloadHash(
  source: DepositSource,
  d: { depositId: bigint; token: Address; to: Address; amount: bigint },
): Hash {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'uint256' },
        { type: 'address' },
        { type: 'uint256' },
        { type: 'address' },
        { type: 'address' },
        { type: 'uint256' },
      ],
      [BigInt(source.l1ChainId), source.vault, d.depositId, d.token, d.to, d.amount],
    ),
  )
}

/** Hash of an M-of-N set, its members in order and its threshold (`BridgeMessages.memberSetHash`). */
export function memberSetHash(members: readonly Address[], threshold: bigint): Hash {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint256' }],
      [keccak256(encodePacked(['address[]'], [members])), threshold],
    ),
  )
}

/** Key under which the vault records a withdrawal as released (`BridgeMessages.withdrawalKey`): ids are
 * unique per source bridge only. */
export function withdrawalKeyOf(
  sourceChainId: bigint,
  sourceBridge: Address,
  withdrawalId: bigint,
): Hash {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'uint256' }, { type: 'address' }, { type: 'uint256' }],
      [sourceChainId, sourceBridge, withdrawalId],
    ),
  )
}

/** Where a vault lives; name and version are fixed. */
export interface VaultDomainInput {
  chainId: number | bigint
  verifyingContract: Address
}

export interface VaultDomain {
  name: typeof VAULT_DOMAIN_NAME
  version: typeof VAULT_DOMAIN_VERSION
  chainId: bigint
  verifyingContract: Address
}

/** A withdrawal as `BridgeVault.release` takes it (`SidechainBridge.l1Withdrawal` returns it). */
export interface WithdrawalMessage {
  /** Chain id of the sidechain whose bridge burned it. */
  sourceChainId: bigint
  /** The sidechain bridge that burned it. */
  sourceBridge: Address
  withdrawalId: bigint
  /** L1 token, `address(0)` for ETH. */
  token: Address
  recipient: Address
  amount: bigint
  /** Signer-set epoch of the vault. */
  epoch: bigint
}

export interface SignerSetUpdateMessage {
  /** {@link memberSetHash} of the set being replaced (the vault's `signerSetHash()`). */
  previousSetHash: Hash
  signers: readonly Address[]
  threshold: bigint
  /** The epoch the new set gets: the vault's current `signerEpoch + 1`. */
  epoch: bigint
}

export interface SignerSignature {
  signer: Address
  signature: Hex
}

/** What the signing helpers need from an account: a viem local account fits. */
export type TypedDataSigner = Pick<LocalAccount, 'address' | 'signTypedData'>

/** Release limits and deposit permission of one token (`address(0)` is ETH). */
export interface TokenSetting {
  token: Address
  depositsEnabled: boolean
  /** Largest amount one release may move. */
  maxPerTransaction: bigint
  /** Largest total released within any 24 h (at most 2^208 - 1). */
  windowLimit: bigint
}

export interface DeployVaultParams {
  owner: Address
  guardian: Address
  signers: readonly Address[]
  threshold: number | bigint
  /** Tokens allowed at deployment, with their limits; more can be configured later by the owner. */
  tokens?: readonly TokenSetting[]
}

export interface DeploySidechainBridgeParams {
  owner: Address
  guardian: Address
  relayers: readonly Address[]
  threshold: number | bigint
  l1ChainId: number | bigint
  l1Vault: Address
  /** The vault's current `signerEpoch` (default 0, a freshly deployed vault). */
  l1SignerEpoch?: number | bigint
  /** Lowest vault deposit id this bridge mints: 0 (default) for the vault's first bridge, the vault's
   * `depositCount` when a new bridge takes over, so the old bridge's deposits are never minted again. */
  firstDepositId?: number | bigint
  /** Id of the bridge's first withdrawal (default 0). */
  firstWithdrawalId?: number | bigint
}

export interface DeployTestTokenParams {
  name: string
  symbol: string
  /** Default 18. */
  decimals?: number
}

export interface DeployFeeOnTransferTokenParams {
  name: string
  symbol: string
  /** Fee burned on every transfer, in basis points (0 to 10000). */
  feeBps: number
}

export interface DeployedContract {
  address: Address
  transactionHash: Hash
  blockNumber: bigint
}

type AnyWalletClient = WalletClient<Transport, Chain | undefined, Account | undefined>

/** Deploys the L1 {BridgeVault}. Throws a {BridgeContractsError} on bad input before sending anything. */
export async function deployVault(
  walletClient: AnyWalletClient,
  publicClient: PublicClient,
  params: DeployVaultParams,
): Promise<DeployedContract> {
  const owner = requireAddress('owner', params.owner)
  const guardian = requireAddress('guardian', params.guardian)
  const { members, threshold } = validateMemberSet('signers', params.signers, params.threshold)
  const tokens = validateTokenSettings(params.tokens ?? [])
  return deploy(walletClient, publicClient, (account, chain) =>
    walletClient.deployContract({
      abi: bridgeVaultAbi,
      bytecode: bridgeVaultBytecode,
      args: [owner, guardian, members, threshold, tokens],
      account,
      chain,
    }),
  )
}

/** Deploys the {SidechainBridge}. Throws a {BridgeContractsError} on bad input before sending anything. */
export async function deploySidechainBridge(
  walletClient: AnyWalletClient,
  publicClient: PublicClient,
  params: DeploySidechainBridgeParams,
): Promise<DeployedContract> {
  const owner = requireAddress('owner', params.owner)
  const guardian = requireAddress('guardian', params.guardian)
  const { members, threshold } = validateMemberSet('relayers', params.relayers, params.threshold)
  const l1ChainId = requireInteger('l1ChainId', params.l1ChainId, 1n)
  const l1Vault = requireAddress('l1Vault', params.l1Vault)
  const l1SignerEpoch = requireInteger('l1SignerEpoch', params.l1SignerEpoch ?? 0n, 0n)
  const firstDepositId = requireInteger('firstDepositId', params.firstDepositId ?? 0n, 0n)
  const firstWithdrawalId = requireInteger('firstWithdrawalId', params.firstWithdrawalId ?? 0n, 0n)
  return deploy(walletClient, publicClient, (account, chain) =>
    walletClient.deployContract({
      abi: sidechainBridgeAbi,
      bytecode: sidechainBridgeBytecode,
      args: [
        owner,
        guardian,
        members,
        threshold,
        l1ChainId,
        l1Vault,
        l1SignerEpoch,
        firstDepositId,
        firstWithdrawalId,
      ],
      account,
      chain,
    }),
  )
}

/** Gas on arrival of a {SidechainBridge} (native coin, wei). */
export interface GasDropParams {
  /** Native coin dropped once to a depositor that holds less than `balanceThreshold` (0 disables drops). */
  amount: bigint
  balanceThreshold: bigint
  /** Most native coin dropped per 24 h, at least `amount`. */
  windowCap: bigint
  /** Native coin sent to the bridge's reserve now (default none). */
  fund?: bigint
}

/**
 * Sets the gas drop of `bridge` (the wallet must be its owner) and funds its reserve. Throws a
 * {BridgeContractsError} on bad input before sending anything, and if a transaction reverts.
 */
export async function configureGasDrop(
  walletClient: AnyWalletClient,
  publicClient: PublicClient,
  bridge: Address,
  params: GasDropParams,
): Promise<void> {
  const limit = (1n << 128n) - 1n
  for (const [name, value] of [
    ['amount', params.amount],
    ['balanceThreshold', params.balanceThreshold],
    ['windowCap', params.windowCap],
  ] as const) {
    if (value < 0n || value > limit) {
      throw new BridgeContractsError(
        'BRIDGE_INVALID_PARAMETER',
        `${name} must be from 0 to 2^128 - 1`,
        {
          details: { [name]: value.toString() },
        },
      )
    }
  }
  if (params.amount > params.windowCap) {
    throw new BridgeContractsError(
      'BRIDGE_INVALID_PARAMETER',
      'the gas drop amount is above its 24 h cap',
      {
        details: { amount: params.amount.toString(), windowCap: params.windowCap.toString() },
      },
    )
  }
  const account = walletClient.account
  if (account === undefined) {
    throw new BridgeContractsError(
      'BRIDGE_NO_ACCOUNT',
      'the wallet client has no account to send from',
    )
  }
  const chain = walletClient.chain ?? null
  const mined = async (hash: Hash, what: string) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') {
      throw new BridgeContractsError('BRIDGE_DEPLOY_FAILED', `${what} reverted`, {
        details: { hash },
      })
    }
  }
  await mined(
    await walletClient.writeContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'setGasDrop',
      args: [params.amount, params.balanceThreshold, params.windowCap],
      account,
      chain,
    }),
    'setGasDrop',
  )
  if ((params.fund ?? 0n) > 0n) {
    await mined(
      await walletClient.sendTransaction({ to: bridge, value: params.fund, account, chain }),
      'funding the gas reserve',
    )
  }
}

/** Deploys a {TestToken}: a plain ERC-20 that ANYONE can mint (tests and devnet only). */
export async function deployTestToken(
  walletClient: AnyWalletClient,
  publicClient: PublicClient,
  params: DeployTestTokenParams,
): Promise<DeployedContract> {
  const decimals = params.decimals ?? 18
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 255) {
    throw new BridgeContractsError(
      'BRIDGE_INVALID_PARAMETER',
      'decimals must be an integer from 0 to 255',
      {
        details: { decimals },
      },
    )
  }
  requireText('name', params.name)
  requireText('symbol', params.symbol)
  return deploy(walletClient, publicClient, (account, chain) =>
    walletClient.deployContract({
      abi: testTokenAbi,
      bytecode: testTokenBytecode,
      args: [params.name, params.symbol, decimals],
      account,
      chain,
    }),
  )
}

/** Deploys a {FeeOnTransferToken} that burns `feeBps` of every transfer (tests only; anyone can mint). */
export async function deployFeeOnTransferToken(
  walletClient: AnyWalletClient,
  publicClient: PublicClient,
  params: DeployFeeOnTransferTokenParams,
): Promise<DeployedContract> {
  if (!Number.isInteger(params.feeBps) || params.feeBps < 0 || params.feeBps > 10_000) {
    throw new BridgeContractsError(
      'BRIDGE_INVALID_PARAMETER',
      'feeBps must be an integer from 0 to 10000',
      {
        details: { feeBps: params.feeBps },
      },
    )
  }
  requireText('name', params.name)
  requireText('symbol', params.symbol)
  return deploy(walletClient, publicClient, (account, chain) =>
    walletClient.deployContract({
      abi: feeOnTransferTokenAbi,
      bytecode: feeOnTransferTokenBytecode,
      args: [params.name, params.symbol, BigInt(params.feeBps)],
      account,
      chain,
    }),
  )
}

/** The full EIP-712 domain of a vault. */
export function vaultDomain(input: VaultDomainInput): VaultDomain {
  return {
    name: VAULT_DOMAIN_NAME,
    version: VAULT_DOMAIN_VERSION,
    chainId: requireInteger('chainId', input.chainId, 1n),
    verifyingContract: requireAddress('verifyingContract', input.verifyingContract),
  }
}

/** Signs `withdrawal` for the vault at `domain` (EIP-712 typed data, 65-byte low-s signature). */
export async function signWithdrawal(
  account: TypedDataSigner,
  domain: VaultDomainInput,
  withdrawal: WithdrawalMessage,
): Promise<Hex> {
  return account.signTypedData({
    domain: vaultDomain(domain),
    types: withdrawalTypes,
    primaryType: 'Withdrawal',
    message: {
      sourceChainId: withdrawal.sourceChainId,
      sourceBridge: requireAddress('sourceBridge', withdrawal.sourceBridge),
      withdrawalId: withdrawal.withdrawalId,
      token: requireAddress('token', withdrawal.token, { allowZero: true }),
      recipient: requireAddress('recipient', withdrawal.recipient),
      amount: withdrawal.amount,
      epoch: withdrawal.epoch,
    },
  })
}

/** Signs a signer rotation of the vault at `domain` (for `BridgeVault.rotateSigners`). */
export async function signSignerSetUpdate(
  account: TypedDataSigner,
  domain: VaultDomainInput,
  update: SignerSetUpdateMessage,
): Promise<Hex> {
  // Addresses are signed as given: the contract hashes exactly the array it receives.
  return account.signTypedData({
    domain: vaultDomain(domain),
    types: signerSetUpdateTypes,
    primaryType: 'SignerSetUpdate',
    message: {
      previousSetHash: update.previousSetHash,
      signers: update.signers,
      threshold: update.threshold,
      epoch: update.epoch,
    },
  })
}

/**
 * Orders signatures by strictly ascending signer address, as `BridgeVault` requires. Returns a new array; throws
 * `BRIDGE_DUPLICATE_SIGNER` if a signer appears twice. The signer is taken as given: the vault recovers it.
 */
export function sortSignaturesBySigner(signatures: readonly SignerSignature[]): SignerSignature[] {
  const sorted = signatures
    .map((s) => ({ signer: requireAddress('signer', s.signer), signature: s.signature }))
    .sort((a, b) => compareAddresses(a.signer, b.signer))
  for (let i = 1; i < sorted.length; i++) {
    if (compareAddresses(sorted[i - 1]!.signer, sorted[i]!.signer) === 0) {
      throw new BridgeContractsError(
        'BRIDGE_DUPLICATE_SIGNER',
        `signer ${sorted[i]!.signer} appears twice`,
        {
          details: { signer: sorted[i]!.signer },
        },
      )
    }
  }
  return sorted
}

function compareAddresses(a: Address, b: Address): number {
  const x = BigInt(a)
  const y = BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}

// ----------------------------------------------------------------------------------------------- validation

function requireAddress(
  field: string,
  value: unknown,
  options: { allowZero?: boolean } = {},
): Address {
  if (typeof value !== 'string' || !isAddress(value, { strict: false })) {
    throw new BridgeContractsError('BRIDGE_INVALID_ADDRESS', `${field} is not an address`, {
      details: { field, value },
    })
  }
  const address = getAddress(value)
  if (address === zeroAddress && options.allowZero !== true) {
    throw new BridgeContractsError('BRIDGE_INVALID_ADDRESS', `${field} is the zero address`, {
      details: { field },
    })
  }
  return address
}

function requireInteger(field: string, value: unknown, min: bigint): bigint {
  let n: bigint
  if (typeof value === 'bigint') n = value
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value)
  else {
    throw new BridgeContractsError('BRIDGE_INVALID_PARAMETER', `${field} must be an integer`, {
      details: { field, value: String(value) },
    })
  }
  if (n < min || n >= 1n << 256n) {
    throw new BridgeContractsError('BRIDGE_INVALID_PARAMETER', `${field} is out of range`, {
      details: { field, value: n.toString(), min: min.toString() },
    })
  }
  return n
}

function requireText(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new BridgeContractsError(
      'BRIDGE_INVALID_PARAMETER',
      `${field} must be a non-empty string`,
      {
        details: { field },
      },
    )
  }
}

/** Same rules as `MemberSetValidation._validateMemberSet`. */
function validateMemberSet(
  field: string,
  members: readonly Address[],
  thresholdInput: number | bigint,
): { members: Address[]; threshold: bigint } {
  if (!Array.isArray(members)) {
    throw new BridgeContractsError('BRIDGE_INVALID_PARAMETER', `${field} must be an array`, {
      details: { field },
    })
  }
  if (members.length > MAX_SIGNERS) {
    throw new BridgeContractsError(
      'BRIDGE_SET_TOO_LARGE',
      `${field} has more than ${MAX_SIGNERS} members`,
      {
        details: { field, size: members.length },
      },
    )
  }
  const checked = members.map((m, i) => requireAddress(`${field}[${i}]`, m))
  const seen = new Set<string>()
  for (const m of checked) {
    if (seen.has(m)) {
      throw new BridgeContractsError('BRIDGE_DUPLICATE_ADDRESS', `${field} contains ${m} twice`, {
        details: { field, member: m },
      })
    }
    seen.add(m)
  }
  let threshold: bigint
  try {
    threshold = requireInteger('threshold', thresholdInput, 0n)
  } catch (cause) {
    throw new BridgeContractsError('BRIDGE_INVALID_THRESHOLD', 'threshold must be an integer', {
      details: { threshold: String(thresholdInput) },
      cause,
    })
  }
  if (threshold === 0n || threshold > BigInt(checked.length)) {
    throw new BridgeContractsError(
      'BRIDGE_INVALID_THRESHOLD',
      `threshold must be between 1 and the number of ${field} (${checked.length})`,
      { details: { threshold: threshold.toString(), size: checked.length } },
    )
  }
  return { members: checked, threshold }
}

function validateTokenSettings(tokens: readonly TokenSetting[]): TokenSetting[] {
  const seen = new Set<string>()
  return tokens.map((s, i) => {
    const token = requireAddress(`tokens[${i}].token`, s.token, { allowZero: true })
    if (seen.has(token)) {
      throw new BridgeContractsError(
        'BRIDGE_DUPLICATE_ADDRESS',
        `token ${token} is configured twice`,
        {
          details: { token },
        },
      )
    }
    seen.add(token)
    for (const key of ['maxPerTransaction', 'windowLimit'] as const) {
      const value = s[key]
      if (typeof value !== 'bigint' || value < 0n || value >= 1n << 256n) {
        throw new BridgeContractsError(
          'BRIDGE_INVALID_LIMIT',
          `tokens[${i}].${key} must be a uint256 bigint`,
          {
            details: { token, [key]: String(value) },
          },
        )
      }
    }
    if (s.windowLimit > MAX_WINDOW_LIMIT) {
      throw new BridgeContractsError(
        'BRIDGE_INVALID_LIMIT',
        `tokens[${i}].windowLimit is above 2^208 - 1`,
        {
          details: { token, windowLimit: s.windowLimit.toString() },
        },
      )
    }
    return {
      token,
      depositsEnabled: s.depositsEnabled === true,
      maxPerTransaction: s.maxPerTransaction,
      windowLimit: s.windowLimit,
    }
  })
}

// ------------------------------------------------------------------------------------------------- deploying

async function deploy(
  walletClient: AnyWalletClient,
  publicClient: PublicClient,
  send: (account: Account, chain: Chain | null) => Promise<Hash>,
): Promise<DeployedContract> {
  const account = walletClient.account
  if (account === undefined) {
    throw new BridgeContractsError(
      'BRIDGE_NO_ACCOUNT',
      'the wallet client has no account to deploy from',
    )
  }
  let transactionHash: Hash
  try {
    transactionHash = await send(account, walletClient.chain ?? null)
  } catch (cause) {
    throw new BridgeContractsError(
      'BRIDGE_DEPLOY_FAILED',
      'deployment transaction was not accepted',
      {
        details: { reason: cause instanceof Error ? cause.message : String(cause) },
        cause,
      },
    )
  }
  const receipt = await publicClient.waitForTransactionReceipt({ hash: transactionHash })
  if (receipt.status !== 'success' || receipt.contractAddress == null) {
    throw new BridgeContractsError('BRIDGE_DEPLOY_FAILED', 'deployment transaction reverted', {
      details: { transactionHash, blockNumber: receipt.blockNumber.toString() },
    })
  }
  return {
    address: getAddress(receipt.contractAddress),
    transactionHash,
    blockNumber: receipt.blockNumber,
  }
}
