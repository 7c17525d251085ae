/**
 * A browser wallet for page tests: an EIP-1193 provider injected into the page (announced over EIP-6963 and set
 * as `window.ethereum`) whose every request crosses to this process through `page.exposeFunction`, where a viem
 * wallet client signs with a test key. It knows the first chain it is given; others must be added with
 * `wallet_addEthereumChain` first (4902 otherwise), as in MetaMask. Every request is recorded, so a test can
 * assert that nothing was sent.
 */
import type { Page } from 'playwright-core'
import { type Chain, createWalletClient, type Hex, http, numberToHex, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

export interface TestWallet {
  address: `0x${string}`
  /** Every request, in order: method and params. */
  requests: Array<{ method: string; params: unknown }>
  /** Requests of one method. */
  calls(method: string): unknown[]
  chainId(): number
}

interface RpcError {
  code: number
  message: string
}

const WALLET_INFO = {
  uuid: '5f1d6a3e-0c1b-4b8e-9d1e-7a6c2f0b9e11',
  name: 'Test Wallet',
  icon: 'data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/%3E',
  rdns: 'test.sidechain.wallet',
}

export async function injectWallet(
  page: Page,
  options: { privateKey: Hex; chains: readonly Chain[] },
): Promise<TestWallet> {
  const account = privateKeyToAccount(options.privateKey)
  const clients = new Map(
    options.chains.map((chain) => [
      chain.id,
      createWalletClient({ account, chain, transport: http(chain.rpcUrls.default.http[0]) }).extend(
        publicActions,
      ),
    ]),
  )
  const known = new Set<number>([options.chains[0]!.id])
  let chainId = options.chains[0]!.id
  const requests: TestWallet['requests'] = []

  const handle = async (method: string, params: unknown[]): Promise<unknown> => {
    const client = clients.get(chainId)!
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [account.address]
      case 'eth_chainId':
        return numberToHex(chainId)
      case 'wallet_addEthereumChain': {
        const id = Number((params[0] as { chainId: string }).chainId)
        if (!clients.has(id))
          throw { code: 4901, message: `the test wallet has no RPC for chain ${id}` }
        known.add(id)
        return null
      }
      case 'wallet_switchEthereumChain': {
        const id = Number((params[0] as { chainId: string }).chainId)
        if (!known.has(id)) throw { code: 4902, message: `unrecognized chain ${id}` }
        chainId = id
        return null
      }
      case 'wallet_watchAsset':
        return true
      case 'eth_sendTransaction': {
        const tx = params[0] as { to?: Hex; data?: Hex; value?: Hex; gas?: Hex }
        return client.sendTransaction({
          to: tx.to,
          data: tx.data,
          value: tx.value === undefined ? undefined : BigInt(tx.value),
          gas: tx.gas === undefined ? undefined : BigInt(tx.gas),
        })
      }
      default:
        return client.request({ method: method as never, params: params as never })
    }
  }

  await page.exposeFunction('__testWalletRequest', async (method: string, paramsJson: string) => {
    const params = JSON.parse(paramsJson) as unknown
    requests.push({ method, params })
    try {
      const result = await handle(method, Array.isArray(params) ? params : [params])
      return JSON.stringify({ result, chainId: numberToHex(chainId) })
    } catch (err) {
      const e = err as Partial<RpcError> & { shortMessage?: string }
      return JSON.stringify({
        error: { code: e.code ?? -32603, message: e.shortMessage ?? e.message ?? String(err) },
      })
    }
  })
  await page.addInitScript((info) => {
    type Listener = (...args: unknown[]) => void
    const listeners = new Map<string, Listener[]>()
    const bridge = (
      window as unknown as { __testWalletRequest(m: string, p: string): Promise<string> }
    ).__testWalletRequest
    const provider = {
      isTestWallet: true,
      async request({ method, params }: { method: string; params?: unknown }) {
        const out = JSON.parse(await bridge(method, JSON.stringify(params ?? []))) as {
          result?: unknown
          chainId: string
          error?: { code: number; message: string }
        }
        if (out.error !== undefined) {
          throw Object.assign(new Error(out.error.message), { code: out.error.code })
        }
        if (method === 'wallet_switchEthereumChain') {
          for (const f of listeners.get('chainChanged') ?? []) f(out.chainId)
        }
        return out.result
      },
      on(event: string, f: Listener) {
        listeners.set(event, [...(listeners.get(event) ?? []), f])
      },
      removeListener(event: string, f: Listener) {
        listeners.set(
          event,
          (listeners.get(event) ?? []).filter((g) => g !== f),
        )
      },
    }
    const announce = () =>
      window.dispatchEvent(
        new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }),
      )
    window.addEventListener('eip6963:requestProvider', announce)
    announce()
    ;(window as unknown as { ethereum: unknown }).ethereum = provider
  }, WALLET_INFO)
  return {
    address: account.address,
    requests,
    calls: (method) => requests.filter((r) => r.method === method).map((r) => r.params),
    chainId: () => chainId,
  }
}

/** The EIP-6963 id the bridge app gives the test wallet's connect button. */
export const TEST_WALLET_OPTION = `eip6963:${WALLET_INFO.uuid}`
