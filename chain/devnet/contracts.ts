/**
 * Bridge contracts of a devnet: on L1 the vault with ETH and a test ERC-20 allow-listed, the token minted to the
 * dev accounts and the relayers given L1 gas; on the sidechain the bridge, deployed by a normal transaction once
 * the validators finalize blocks, with its gas drop reserve funded. Dev account #0 deploys, owns and guards everything, so developers can try the
 * admin functions (pause, limits) with a key they already have.
 */
import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  parseEther,
  type Transport,
  type WalletClient,
  zeroAddress,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import {
  bridgeVaultAbi,
  configureGasDrop,
  deploySidechainBridge,
  deployTestToken,
  deployVault,
  type GasDropParams,
  sidechainBridgeAbi,
  testTokenAbi,
} from '../../bridge/deploy/index.ts'
import { DEV_ACCOUNTS } from './accounts.ts'
import { DevnetError } from './errors.ts'

export const TEST_TOKEN = { name: 'Devnet Test Token', symbol: 'TST', decimals: 18 } as const
/** TST minted on L1 to every dev account. */
export const TOKEN_MINT = parseEther('1000000')
/** L1 ETH of every relayer (they pay gas for releases). */
export const RELAYER_L1_BALANCE = parseEther('100')
/** Release limits of the vault for ETH and TST: per transaction and per rolling 24 h. */
export const VAULT_LIMITS = {
  maxPerTransaction: parseEther('1000'),
  windowLimit: parseEther('100000'),
}

/**
 * Gas on arrival of the devnet bridge: a key funded only on L1 gets enough sidechain coin with its first mint to
 * withdraw and make a few hundred transactions at the base fee floor. Dev account #0 funds the reserve.
 */
export const GAS_DROP = {
  amount: parseEther('0.01'),
  balanceThreshold: parseEther('0.005'),
  windowCap: parseEther('10'),
  fund: parseEther('100'),
}

type AnyWallet = WalletClient<Transport, Chain, Account>

export interface ChainClients {
  public: PublicClient
  wallet: AnyWallet
}

/** Clients for one chain; the sender is dev account #0 unless another key is given. */
export function chainClients(
  url: string,
  chainId: number,
  name: string,
  privateKey: Hex = DEV_ACCOUNTS[0].privateKey,
): ChainClients {
  const chain = defineChain({
    id: chainId,
    name,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  })
  const transport = http(url, { retryCount: 2, timeout: 15_000 })
  return {
    public: createPublicClient({ chain, transport, pollingInterval: 200 }) as PublicClient,
    wallet: createWalletClient({
      chain,
      transport,
      account: privateKeyToAccount(privateKey),
      pollingInterval: 200,
    }),
  }
}

export interface L1Deployment {
  vault: Address
  vaultBlock: number
  /** The anyone-can-mint TestToken, deployed and allow-listed only on development L1s or when asked for. */
  token?: Address
  tokenSymbol?: string
}

/** L1 chain ids of development chains (anvil/Hardhat, geth --dev): the test token is deployed there by default. */
export const DEV_L1_CHAIN_IDS: readonly number[] = [31337, 1337]

/**
 * Whether to deploy and allow-list the TestToken, which ANYONE can mint: allow-listed in a real vault, it lets
 * anyone mint unbacked tokens on L1 and bridge them. Only on anvil, a development chain id, or an explicit flag.
 */
export function wantsTestToken(params: {
  anvil: boolean
  l1ChainId: number
  testToken?: boolean
}): boolean {
  return params.anvil || DEV_L1_CHAIN_IDS.includes(params.l1ChainId) || params.testToken === true
}

/**
 * Deploys the vault, and the test token if `testToken` (see {@link wantsTestToken}). On anvil (`anvil: true`)
 * every transaction is mined at once while this runs (automine, then back to interval blocks), TST is minted to
 * the dev accounts and the relayers get L1 ETH; on another L1 the deployer pays and the operator funds the
 * relayers.
 */
export async function deployL1(
  l1: ChainClients,
  params: {
    relayers: readonly Address[]
    threshold: number
    /** anvil's block time to restore after deploying. */
    blockTimeS: number
    anvil: boolean
    /** Deploy and allow-list the anyone-can-mint TestToken (development L1s only, or an explicit test flag). */
    testToken: boolean
  },
): Promise<L1Deployment> {
  const request = (method: string, params: unknown[]) =>
    l1.public.request({ method: method as never, params: params as never })
  if (params.anvil) await request('evm_setAutomine', [true])
  try {
    const owner = l1.wallet.account.address
    const token = params.testToken
      ? await deployTestToken(l1.wallet, l1.public, TEST_TOKEN)
      : undefined
    const vault = await deployVault(l1.wallet, l1.public, {
      owner,
      guardian: owner,
      signers: params.relayers,
      threshold: params.threshold,
      tokens: [
        { token: zeroAddress, depositsEnabled: true, ...VAULT_LIMITS },
        ...(token === undefined
          ? []
          : [{ token: token.address, depositsEnabled: true, ...VAULT_LIMITS }]),
      ],
    })
    if (params.anvil && token !== undefined) {
      for (const account of DEV_ACCOUNTS) {
        const hash = await l1.wallet.writeContract({
          address: token.address,
          abi: testTokenAbi,
          functionName: 'mint',
          args: [account.address, TOKEN_MINT],
        })
        const receipt = await l1.public.waitForTransactionReceipt({ hash })
        if (receipt.status !== 'success') {
          throw new DevnetError('DEVNET_DEPLOY_FAILED', `minting ${TEST_TOKEN.symbol} reverted`)
        }
      }
    }
    if (params.anvil) {
      for (const relayer of params.relayers) {
        await request('anvil_setBalance', [relayer, `0x${RELAYER_L1_BALANCE.toString(16)}`])
      }
    }
    return {
      vault: vault.address,
      vaultBlock: Number(vault.blockNumber),
      ...(token === undefined ? {} : { token: token.address, tokenSymbol: TEST_TOKEN.symbol }),
    }
  } finally {
    if (params.anvil) await request('evm_setIntervalMining', [params.blockTimeS])
  }
}

/** Whether the L1 is anvil (it has the anvil_ methods the devnet uses to fund and mine). */
export async function isAnvil(l1: ChainClients): Promise<boolean> {
  const version = await l1.public.request({ method: 'web3_clientVersion' }).catch(() => '')
  return /^anvil\//i.test(String(version))
}

/**
 * Deploys the sidechain bridge for `vault`. The bridge starts where the vault is: its signer
 * set, threshold and epoch must be the relayers given (who mints is who releases).
 * `firstDepositId` is 0 for the vault's first bridge (every deposit, including those made
 * before the bridge existed, is minted by it); a bridge that replaces another one starts at
 * the vault's `depositCount` read after the old one was paused, so nothing is minted twice.
 */
export async function deployBridge(
  l1: ChainClients,
  sidechain: ChainClients,
  params: {
    relayers: readonly Address[]
    threshold: number
    l1ChainId: number
    vault: Address
    firstDepositId: bigint
    /** Gas on arrival (default GAS_DROP, reserve funded by the deployer). */
    gasDrop?: GasDropParams
  },
): Promise<{ bridge: Address; bridgeBlock: number }> {
  const read = <F extends 'depositCount' | 'signerEpoch' | 'threshold' | 'signers'>(
    functionName: F,
  ) => l1.public.readContract({ address: params.vault, abi: bridgeVaultAbi, functionName })
  const [depositCount, signerEpoch, vaultThreshold, signers] = await Promise.all([
    read('depositCount'),
    read('signerEpoch'),
    read('threshold'),
    read('signers'),
  ])
  const sameSet =
    signers.length === params.relayers.length &&
    signers.every((s, i) => s.toLowerCase() === params.relayers[i]?.toLowerCase())
  if (!sameSet || vaultThreshold !== BigInt(params.threshold)) {
    throw new DevnetError(
      'DEVNET_DEPLOY_FAILED',
      `the vault's signers (${signers.join(', ')}, threshold ${vaultThreshold}) are not the relayers given (${params.relayers.join(', ')}, threshold ${params.threshold}): who mints must be who releases`,
    )
  }
  if (params.firstDepositId > depositCount) {
    throw new DevnetError(
      'DEVNET_DEPLOY_FAILED',
      `firstDepositId ${params.firstDepositId} is past the vault's ${depositCount} deposits`,
    )
  }
  const owner = sidechain.wallet.account.address
  const deployed = await deploySidechainBridge(sidechain.wallet, sidechain.public, {
    owner,
    guardian: owner,
    // In the vault's order: a rotation names the set it replaces by a hash of the ordered members.
    relayers: signers,
    threshold: params.threshold,
    l1ChainId: params.l1ChainId,
    l1Vault: params.vault,
    l1SignerEpoch: signerEpoch,
    firstDepositId: params.firstDepositId,
  })
  await configureGasDrop(
    sidechain.wallet,
    sidechain.public,
    deployed.address,
    params.gasDrop ?? GAS_DROP,
  )
  return { bridge: deployed.address, bridgeBlock: Number(deployed.blockNumber) }
}

/** On resume: the saved vault must still be on L1 (anvil's state file could be missing or older). */
export async function checkL1(l1: ChainClients, saved: L1Deployment, stateFile: string) {
  const code = await l1.public.getCode({ address: saved.vault })
  if (code === undefined || code === '0x') {
    throw new DevnetError(
      'DEVNET_STATE_LOST',
      `the L1 vault ${saved.vault} is not in anvil's state (${stateFile} is missing or was saved before the deployment, e.g. after anvil was killed). Start over with --fresh`,
    )
  }
  // Reading a getter proves it is our vault, not just any code.
  await l1.public.readContract({
    address: saved.vault,
    abi: bridgeVaultAbi,
    functionName: 'threshold',
  })
}

/** On resume: the saved bridge must be on the sidechain and linked to the vault. */
export async function checkBridge(
  sidechain: ChainClients,
  saved: { bridge: Address; vault: Address },
): Promise<void> {
  const code = await sidechain.public.getCode({ address: saved.bridge })
  if (code === undefined || code === '0x') {
    throw new DevnetError(
      'DEVNET_STATE_LOST',
      `the sidechain bridge ${saved.bridge} is not on the chain the validators serve; start over with --fresh`,
    )
  }
  const vault = await sidechain.public.readContract({
    address: saved.bridge,
    abi: sidechainBridgeAbi,
    functionName: 'l1Vault',
  })
  if (vault.toLowerCase() !== saved.vault.toLowerCase()) {
    throw new DevnetError(
      'DEVNET_STATE_LOST',
      `the sidechain bridge ${saved.bridge} is linked to vault ${vault}, not ${saved.vault}; start over with --fresh`,
    )
  }
}
