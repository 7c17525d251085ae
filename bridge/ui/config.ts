/**
 * What the bridge web app needs to know about a network, served to the page as `/config.json`: RPC URLs, chain
 * ids, the vault and bridge, the allow-listed tokens, the confirmations the relayers wait for, and on a devnet the
 * dev accounts (their public test keys, for the account picker). Built from a network file (`devnet.json` or the
 * user commands' `--network` file) and validated here, at the edge; the page trusts it as its own configuration.
 */
import { type Address, getAddress, isAddress } from 'viem'
import { BridgeError } from '../core/errors.ts'

export interface UiConfig {
  l1: {
    name: string
    rpcUrl: string
    chainId: number
    vault: Address
    tokens: Array<{ symbol: string; address: Address }>
    confirmations: number | 'finalized'
    fromBlock: number
  }
  l2: {
    name: string
    rpcUrl: string
    chainId: number
    bridge: Address
    fromBlock: number
  }
  /** Dev accounts offered by the picker (devnets only: their keys are public). */
  devAccounts: Array<{ address: Address; privateKey: `0x${string}` }>
}

type TokenEntry = string | { address: string; symbol?: string; name?: string }

/** The parts of a network file (the user commands' `--network` file, or `devnet.json`) the app reads. */
export interface UiNetworkInput {
  l1?: {
    rpcUrl?: string
    chainId?: number
    vault?: string
    tokens?: Record<string, TokenEntry> | TokenEntry[]
    confirmations?: number | 'finalized'
    startBlock?: number
    deployBlock?: number
  }
  l2?: {
    rpcUrls?: string[]
    rpcUrl?: string
    chainId?: number
    bridge?: string
    startBlock?: number
  }
  bridge?: { confirmations?: number | 'finalized'; threshold?: number }
  /** devnet.json's dev accounts. */
  accounts?: ReadonlyArray<{ address?: string; privateKey?: string }>
}

/** Default confirmations when the file names none (the user commands' default). */
const DEFAULT_CONFIRMATIONS = 12

export function uiConfigFromNetwork(net: UiNetworkInput, file: string): UiConfig {
  const fail = (what: string): never => {
    throw new BridgeError('BRIDGE_NETWORK_INVALID', `network file ${file}: ${what}`)
  }
  const address = (value: unknown, what: string): Address =>
    typeof value === 'string' && isAddress(value, { strict: false })
      ? getAddress(value)
      : fail(`${what} is missing or not an address`)
  const l1Rpc = net.l1?.rpcUrl ?? fail('l1.rpcUrl is missing')
  const l2Rpc = net.l2?.rpcUrls?.[0] ?? net.l2?.rpcUrl ?? fail('l2.rpcUrls is missing')
  const l1ChainId = net.l1?.chainId ?? fail('l1.chainId is missing')
  const l2ChainId = net.l2?.chainId ?? fail('l2.chainId is missing')
  const tokens: UiConfig['l1']['tokens'] = []
  const raw = net.l1?.tokens
  if (raw !== undefined) {
    const entries = Array.isArray(raw)
      ? raw.map((t) =>
          typeof t === 'string' ? [t, t] : [t.symbol ?? t.name ?? t.address, t.address],
        )
      : Object.entries(raw).map(([k, t]) =>
          typeof t === 'string' ? [k, t] : [t.symbol ?? k, t.address],
        )
    for (const [symbol, value] of entries) {
      tokens.push({ symbol: String(symbol), address: address(value, `token ${symbol}`) })
    }
  }
  const devAccounts: UiConfig['devAccounts'] = []
  if (Array.isArray(net.accounts)) {
    for (const a of net.accounts) {
      if (typeof a.privateKey === 'string' && /^0x[0-9a-fA-F]{64}$/.test(a.privateKey)) {
        devAccounts.push({
          address: address(a.address, 'accounts[].address'),
          privateKey: a.privateKey as `0x${string}`,
        })
      }
    }
  }
  return {
    l1: {
      name: `L1 (chain ${l1ChainId})`,
      rpcUrl: l1Rpc,
      chainId: l1ChainId,
      vault: address(net.l1?.vault, 'l1.vault'),
      tokens,
      confirmations: net.l1?.confirmations ?? net.bridge?.confirmations ?? DEFAULT_CONFIRMATIONS,
      fromBlock: net.l1?.startBlock ?? net.l1?.deployBlock ?? 0,
    },
    l2: {
      name: `Sidechain (chain ${l2ChainId})`,
      rpcUrl: l2Rpc,
      chainId: l2ChainId,
      bridge: address(net.l2?.bridge, 'l2.bridge'),
      fromBlock: net.l2?.startBlock ?? 0,
    },
    devAccounts,
  }
}
