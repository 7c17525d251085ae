/**
 * Shared fixture of the contract tests: one real anvil per test file, viem clients, the anvil dev accounts as
 * local accounts (so viem signs and decodes reverts itself), and helpers to assert success or a specific custom
 * error.
 */
import {
  type Abi,
  type Address,
  BaseError,
  type Chain,
  type Client,
  ContractFunctionRevertedError,
  createPublicClient,
  createTestClient,
  createWalletClient,
  decodeErrorResult,
  defineChain,
  type Hash,
  type Hex,
  http,
  type LocalAccount,
  type PublicActions,
  type PublicClient,
  publicActions,
  type TestClient,
  type TransactionReceipt,
  type Transport,
  type WalletActions,
  type WalletRpcSchema,
} from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { DEV_MNEMONIC } from '../../chain/devnet/accounts.ts'
import { type AnvilInstance, startAnvil } from '../../chain/lib/foundry.ts'
import { pollUntil as poll } from '../../chain/lib/poll.ts'
import { contractsUpToDate } from '../../contracts/build.ts'

/** The Foundry/Hardhat dev mnemonic (anvil's accounts), from the one accounts module. */
export const ANVIL_MNEMONIC = DEV_MNEMONIC
export const ANVIL_CHAIN_ID = 31337

export type AccountClient = Client<
  Transport,
  Chain,
  LocalAccount,
  WalletRpcSchema,
  WalletActions<Chain, LocalAccount> & PublicActions<Transport, Chain, LocalAccount>
>

export interface TestChain {
  anvil: AnvilInstance
  chain: Chain
  publicClient: PublicClient
  testClient: TestClient<'anvil'>
  /** The first `count` anvil dev accounts (10000 ETH each). */
  accounts: LocalAccount[]
  /** Wallet client of `account` with the public actions, so reads and simulations run as `account`. */
  wallet(account: LocalAccount): AccountClient
  /** Waits for the receipt of `hash` and throws unless the transaction succeeded. */
  mined(hash: Hash | Promise<Hash>): Promise<TransactionReceipt>
  /** Takes a snapshot and returns a function that reverts to it (and takes it again, anvil forgets it). */
  checkpoint(): Promise<() => Promise<void>>
  stop(): Promise<void>
}

/** Starts anvil and the clients; the caller registers `stop` with `t.teardown`. */
export async function startTestChain(options: { accounts?: number } = {}): Promise<TestChain> {
  await assertContractsBuilt()
  const anvil = await startAnvil({ chainId: ANVIL_CHAIN_ID })
  const chain = defineChain({
    id: ANVIL_CHAIN_ID,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [anvil.url] } },
  })
  const transport = http(anvil.url)
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 20 }) as PublicClient
  const testClient = createTestClient({ chain, transport, mode: 'anvil', pollingInterval: 20 })
  const accounts = Array.from({ length: options.accounts ?? 10 }, (_, i) =>
    mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: i }),
  )
  const wallets = new Map<Address, AccountClient>()
  const wallet = (account: LocalAccount) => {
    let w = wallets.get(account.address)
    if (w === undefined) {
      w = createWalletClient({ chain, transport, account, pollingInterval: 20 }).extend(
        publicActions,
      )
      wallets.set(account.address, w)
    }
    return w
  }
  const mined = async (hash: Hash | Promise<Hash>) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash })
    if (receipt.status !== 'success')
      throw new Error(`transaction ${receipt.transactionHash} reverted`)
    return receipt
  }
  const checkpoint = async () => {
    let id = await testClient.snapshot()
    return async () => {
      await testClient.revert({ id })
      id = await testClient.snapshot()
    }
  }
  return {
    anvil,
    chain,
    publicClient,
    testClient,
    accounts,
    wallet,
    mined,
    checkpoint,
    stop: () => anvil.stop(),
  }
}

async function assertContractsBuilt(): Promise<void> {
  if (!(await contractsUpToDate())) {
    throw new Error('contracts/generated is missing or stale: run `npx node contracts/build.ts`')
  }
}

export interface DecodedRevert {
  name: string
  args: readonly unknown[]
}

/**
 * Resolves with the custom error a call reverted with; rejects if it did not revert or the revert carries no
 * decodable custom error. `abi` decodes raw revert data (deployments, calls without an ABI).
 */
export async function revertOf(promise: Promise<unknown>, abi?: Abi): Promise<DecodedRevert> {
  try {
    await promise
  } catch (err) {
    if (err instanceof BaseError) {
      const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError)
      if (reverted instanceof ContractFunctionRevertedError && reverted.data !== undefined) {
        return { name: reverted.data.errorName, args: reverted.data.args ?? [] }
      }
      // Not in the called contract's ABI (e.g. raised by a token it called): decode with `abi`.
      const raw = err.walk((e) => typeof (e as { data?: unknown }).data === 'string')
      const data =
        reverted instanceof ContractFunctionRevertedError && reverted.raw !== undefined
          ? reverted.raw
          : (raw as { data?: Hex } | null)?.data
      if (abi !== undefined && data !== undefined && data.length >= 10) {
        const decoded = decodeErrorResult({ abi, data })
        return { name: decoded.errorName, args: decoded.args ?? [] }
      }
    }
    throw err
  }
  throw new Error('expected the call to revert, it succeeded')
}

/** Resolves once `condition` holds; polls until `timeoutMs` (no fixed sleeps). */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  await poll(condition, { what: 'the condition', timeoutMs, intervalMs: 10 })
}

/** secp256k1 group order. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** The malleable twin of a 65-byte signature: s -> n - s, v flipped (27 <-> 28). */
export function highSTwin(signature: Hex): Hex {
  const r = signature.slice(2, 66)
  const s = BigInt(`0x${signature.slice(66, 130)}`)
  const v = Number.parseInt(signature.slice(130, 132), 16)
  const twinS = (SECP256K1_N - s).toString(16).padStart(64, '0')
  const twinV = (v === 27 ? 28 : 27).toString(16)
  return `0x${r}${twinS}${twinV}`
}

/** Accounts sorted by ascending address. */
export function sortAccounts<T extends { address: Address }>(accounts: readonly T[]): T[] {
  return [...accounts].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1))
}
