/// <reference lib="dom" />
/**
 * Wallets the page can use: EIP-6963 announced providers, the legacy `window.ethereum`, and on a devnet the dev
 * accounts (signed in the page with their public test keys). Whatever the source, the app sees one `Wallet` that
 * sends a contract call on a given chain (switching or adding the chain in the wallet first) and returns the
 * transaction hash; reads never go through the wallet.
 */
import {
  type Abi,
  type Address,
  type Chain,
  type ContractFunctionArgs,
  type ContractFunctionName,
  createWalletClient,
  custom,
  type EIP1193Provider,
  getAddress,
  type Hash,
  http,
  numberToHex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

export interface WalletOption {
  id: string
  name: string
  connect(): Promise<Wallet>
}

export interface ContractCall {
  address: Address
  abi: Abi
  functionName: string
  args: readonly unknown[]
  value?: bigint
}

export interface Wallet {
  address: Address
  label: string
  /** Sends `call` on `chain` and returns its hash (the caller waits for the receipt with its own client). */
  send(chain: Chain, call: ContractCall): Promise<Hash>
  /** Asks the wallet to add `chain` (injected wallets only). */
  addChain?(chain: Chain): Promise<void>
  /** Asks the wallet to show `token` (injected wallets only). */
  watchToken?(token: { address: Address; symbol: string; decimals: number }): Promise<boolean>
}

interface AnnouncedProvider {
  info: { uuid: string; name: string; rdns?: string }
  provider: EIP1193Provider
}

/** Starts EIP-6963 discovery; the returned list fills as wallets announce themselves. */
export function discoverProviders(onChange: () => void): AnnouncedProvider[] {
  const found: AnnouncedProvider[] = []
  window.addEventListener('eip6963:announceProvider', (event) => {
    const detail = (event as CustomEvent<AnnouncedProvider>).detail
    if (detail?.info?.uuid === undefined || found.some((p) => p.info.uuid === detail.info.uuid))
      return
    found.push(detail)
    // Wallets may answer synchronously inside the request below: tell the caller once it holds the list.
    queueMicrotask(onChange)
  })
  window.dispatchEvent(new Event('eip6963:requestProvider'))
  return found
}

export function walletOptions(
  announced: readonly AnnouncedProvider[],
  devAccounts: ReadonlyArray<{ address: Address; privateKey: `0x${string}` }>,
  chains: { l1: Chain; l2: Chain },
): WalletOption[] {
  const options: WalletOption[] = announced.map((p) => ({
    id: `eip6963:${p.info.uuid}`,
    name: p.info.name,
    connect: () => connectInjected(p.provider, p.info.name),
  }))
  const legacy = (window as { ethereum?: EIP1193Provider }).ethereum
  if (legacy !== undefined && !announced.some((p) => p.provider === legacy)) {
    options.push({
      id: 'injected',
      name: 'Browser wallet',
      connect: () => connectInjected(legacy, 'Browser wallet'),
    })
  }
  devAccounts.forEach((a, i) => {
    options.push({
      id: `dev:${i}`,
      name: `Dev account #${i} ${a.address.slice(0, 8)}…`,
      connect: async () => connectDev(a.privateKey, i, chains),
    })
  })
  return options
}

async function connectInjected(provider: EIP1193Provider, name: string): Promise<Wallet> {
  const accounts = (await provider.request({ method: 'eth_requestAccounts' })) as string[]
  const first = accounts[0]
  if (first === undefined) throw new Error(`${name} gave no account`)
  const address = getAddress(first)
  const addChain = async (chain: Chain) => {
    await provider.request({
      method: 'wallet_addEthereumChain',
      params: [
        {
          chainId: numberToHex(chain.id),
          chainName: chain.name,
          nativeCurrency: chain.nativeCurrency,
          rpcUrls: [...chain.rpcUrls.default.http],
        },
      ],
    })
  }
  const switchTo = async (chain: Chain) => {
    const current = Number(await provider.request({ method: 'eth_chainId' }))
    if (current === chain.id) return
    try {
      await provider.request({
        method: 'wallet_switchEthereumChain',
        params: [{ chainId: numberToHex(chain.id) }],
      })
    } catch (err) {
      // 4902: the wallet does not know the chain yet.
      if ((err as { code?: number }).code !== 4902) throw err
      await addChain(chain)
      await provider.request({
        method: 'wallet_switchEthereumChain',
        params: [{ chainId: numberToHex(chain.id) }],
      })
    }
  }
  return {
    address,
    label: `${name} ${address}`,
    async send(chain, call) {
      await switchTo(chain)
      const client = createWalletClient({ account: address, chain, transport: custom(provider) })
      return client.writeContract(toWrite(call, chain))
    },
    addChain,
    async watchToken(token) {
      return Boolean(
        await provider.request({
          method: 'wallet_watchAsset',
          params: {
            type: 'ERC20',
            options: { address: token.address, symbol: token.symbol, decimals: token.decimals },
          },
        } as never),
      )
    },
  }
}

function connectDev(
  privateKey: `0x${string}`,
  index: number,
  chains: { l1: Chain; l2: Chain },
): Wallet {
  const account = privateKeyToAccount(privateKey)
  const clients = new Map(
    [chains.l1, chains.l2].map((chain) => [
      chain.id,
      createWalletClient({ account, chain, transport: http() }),
    ]),
  )
  return {
    address: account.address,
    label: `Dev account #${index} ${account.address}`,
    async send(chain, call) {
      const client = clients.get(chain.id)
      if (client === undefined) throw new Error(`no RPC for chain ${chain.id}`)
      return client.writeContract(toWrite(call, chain))
    },
  }
}

type AnyWrite = {
  address: Address
  abi: Abi
  functionName: ContractFunctionName<Abi, 'nonpayable' | 'payable'>
  args: ContractFunctionArgs<Abi, 'nonpayable' | 'payable'>
  value?: bigint
  chain: Chain
}

function toWrite(call: ContractCall, chain: Chain): never {
  const write: AnyWrite = {
    address: call.address,
    abi: call.abi,
    functionName: call.functionName as AnyWrite['functionName'],
    args: call.args as AnyWrite['args'],
    chain,
    ...(call.value !== undefined ? { value: call.value } : {}),
  }
  // viem's writeContract is typed per ABI; the calls here are built from our generated ABIs.
  return write as never
}
