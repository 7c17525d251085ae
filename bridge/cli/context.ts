/**
 * Everything a user command needs, resolved once at the edge: endpoints and addresses from flags, else from the
 * network file (`--network FILE` or SIDECHAIN_NETWORK, the devnet writes `.devnet/devnet.json`), the signing key
 * (`--private-key`, `--key-file` or SIDECHAIN_PRIVATE_KEY), clients for both chains, and a check that the
 * sidechain bridge really belongs to the vault (so a wrong flag fails before anything is sent).
 */
import { readFileSync } from 'node:fs'
import { bytesToHex } from '@ethereumjs/util'
import {
  type Account,
  type Address,
  type Chain,
  createWalletClient,
  getAddress,
  http,
  isAddress,
  type LocalAccount,
  type PublicClient,
  publicActions,
  type Transport,
  type WalletClient,
  zeroAddress,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { z } from 'zod'
import { readKeyFile } from '../../chain/lib/keys.ts'
import { classifyError } from '../core/classify.ts'
import { chainFor, makePublicClient } from '../core/clients.ts'
import { BridgeError } from '../core/errors.ts'
import { sidechainBridgeAbi } from '../deploy/index.ts'
import { createReporter, type StageReporter } from './progress.ts'

export const NETWORK_ENV = 'SIDECHAIN_NETWORK'
export const PRIVATE_KEY_ENV = 'SIDECHAIN_PRIVATE_KEY'

export interface CommonFlags {
  network?: string
  l1Rpc?: string
  sidechainRpc?: string
  vault?: string
  bridge?: string
  privateKey?: string
  keyFile?: string
  confirmations?: string
  json?: boolean
  timeout?: number
  l1FromBlock?: number
  sidechainFromBlock?: number
}

const tokenEntry = z
  .object({ address: z.string(), symbol: z.string().optional(), name: z.string().optional() })
  .passthrough()
const networkSchema = z
  .object({
    l1: z
      .object({
        rpcUrl: z.string().optional(),
        chainId: z.number().int().optional(),
        vault: z.string().optional(),
        tokens: z
          .union([
            z.record(z.string(), z.union([z.string(), tokenEntry])),
            z.array(z.union([z.string(), tokenEntry])),
          ])
          .optional(),
        confirmations: z.union([z.number().int().min(1), z.literal('finalized')]).optional(),
        startBlock: z.number().int().min(0).optional(),
        deployBlock: z.number().int().min(0).optional(),
      })
      .passthrough()
      .optional(),
    l2: z
      .object({
        rpcUrls: z.array(z.string()).optional(),
        rpcUrl: z.string().optional(),
        chainId: z.number().int().optional(),
        bridge: z.string().optional(),
        startBlock: z.number().int().min(0).optional(),
      })
      .passthrough()
      .optional(),
    bridge: z
      .object({
        confirmations: z.union([z.number().int().min(1), z.literal('finalized')]).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough()

export type NetworkFile = z.output<typeof networkSchema>

export type AnyWallet = WalletClient<Transport, Chain, LocalAccount> &
  ReturnType<typeof publicActions>

export interface BridgeContext {
  l1: PublicClient
  sidechain: PublicClient
  l1ChainId: number
  sidechainChainId: number
  vault: Address
  bridge: Address
  /** Lower-case symbol -> L1 token address, from the network file. */
  tokens: Map<string, Address>
  confirmations: number | 'finalized'
  l1FromBlock: bigint
  sidechainFromBlock: bigint
  account: LocalAccount | undefined
  l1Wallet(): AnyWallet
  sidechainWallet(): AnyWallet
  reporter: StageReporter
  json: boolean
  timeoutMs: number
}

export function readNetworkFile(file: string): NetworkFile {
  let json: unknown
  try {
    json = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new BridgeError('BRIDGE_NETWORK_INVALID', `cannot read network file ${file}`, { cause })
  }
  const parsed = networkSchema.safeParse(json)
  if (!parsed.success) {
    throw new BridgeError(
      'BRIDGE_NETWORK_INVALID',
      `network file ${file} is invalid:\n${z.prettifyError(parsed.error)}`,
    )
  }
  return parsed.data
}

function address(value: string, what: string): Address {
  if (!isAddress(value, { strict: false })) {
    throw new BridgeError('BRIDGE_ARGUMENT_INVALID', `${what} is not an address: ${value}`)
  }
  return getAddress(value)
}

export function parseConfirmations(
  value: string | number | undefined,
): number | 'finalized' | undefined {
  if (value === undefined) return undefined
  if (value === 'finalized') return value
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new BridgeError(
      'BRIDGE_ARGUMENT_INVALID',
      `--confirmations must be a positive number or "finalized"`,
    )
  }
  return n
}

function networkTokens(net: NetworkFile | undefined): Map<string, Address> {
  const out = new Map<string, Address>()
  const tokens = net?.l1?.tokens
  if (tokens === undefined) return out
  const add = (symbol: string | undefined, value: string) => {
    if (!isAddress(value, { strict: false })) return
    const a = getAddress(value)
    if (symbol !== undefined) out.set(symbol.toLowerCase(), a)
    out.set(a.toLowerCase(), a)
  }
  if (Array.isArray(tokens)) {
    for (const t of tokens) {
      if (typeof t === 'string') add(undefined, t)
      else add(t.symbol ?? t.name, t.address)
    }
  } else {
    for (const [key, t] of Object.entries(tokens)) {
      if (typeof t === 'string') add(key, t)
      else add(t.symbol ?? key, t.address)
    }
  }
  return out
}

export function resolveAccount(flags: CommonFlags): LocalAccount | undefined {
  const fromKey = (hex: string, source: string) => {
    const key = hex.startsWith('0x') ? hex : `0x${hex}`
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
      throw new BridgeError('BRIDGE_KEY_INVALID', `${source} is not a 32-byte hex private key`)
    }
    return privateKeyToAccount(key as `0x${string}`)
  }
  if (flags.privateKey !== undefined) return fromKey(flags.privateKey, '--private-key')
  if (flags.keyFile !== undefined) {
    const pair = readKeyFile(flags.keyFile)
    return privateKeyToAccount(bytesToHex(pair.privateKey) as `0x${string}`)
  }
  const env = process.env[PRIVATE_KEY_ENV]
  if (env !== undefined && env !== '') return fromKey(env, PRIVATE_KEY_ENV)
  return undefined
}

export async function createContext(
  flags: CommonFlags,
  options: { needsKey: boolean },
): Promise<BridgeContext> {
  const networkPath = flags.network ?? process.env[NETWORK_ENV]
  const net = networkPath === undefined ? undefined : readNetworkFile(networkPath)
  const l1Url = flags.l1Rpc ?? net?.l1?.rpcUrl
  const sidechainUrl = flags.sidechainRpc ?? net?.l2?.rpcUrls?.[0] ?? net?.l2?.rpcUrl
  if (l1Url === undefined) {
    throw new BridgeError(
      'BRIDGE_ARGUMENT_INVALID',
      'no L1 RPC URL: pass --l1-rpc or --network FILE',
    )
  }
  if (sidechainUrl === undefined) {
    throw new BridgeError(
      'BRIDGE_ARGUMENT_INVALID',
      'no sidechain RPC URL: pass --sidechain-rpc or --network FILE',
    )
  }
  const bridgeFlag = flags.bridge ?? net?.l2?.bridge
  if (bridgeFlag === undefined) {
    throw new BridgeError(
      'BRIDGE_ARGUMENT_INVALID',
      'no bridge address: pass --bridge or --network FILE',
    )
  }
  const bridge = address(bridgeFlag, 'bridge')
  const account = resolveAccount(flags)
  if (options.needsKey && account === undefined) {
    throw new BridgeError(
      'BRIDGE_KEY_INVALID',
      `no key: pass --key-file FILE, set ${PRIVATE_KEY_ENV}, or pass --private-key (visible to other local users)`,
    )
  }

  const probe = makePublicClient({ url: l1Url, chainId: 1 })
  const probeSidechain = makePublicClient({ url: sidechainUrl, chainId: 1 })
  const chainId = async (client: PublicClient, url: string, which: string) => {
    try {
      return await client.getChainId()
    } catch (cause) {
      throw new BridgeError(
        'BRIDGE_RPC_UNAVAILABLE',
        `cannot reach the ${which} RPC at ${url}: ${classifyError(cause).detail}`,
        {
          cause,
        },
      )
    }
  }
  const [l1ChainId, sidechainChainId] = await Promise.all([
    chainId(probe, l1Url, 'L1'),
    chainId(probeSidechain, sidechainUrl, 'sidechain'),
  ])
  if (net?.l1?.chainId !== undefined && net.l1.chainId !== l1ChainId) {
    throw new BridgeError(
      'BRIDGE_NETWORK_INVALID',
      `L1 RPC serves chain ${l1ChainId}, the network file says ${net.l1.chainId}`,
    )
  }
  if (net?.l2?.chainId !== undefined && net.l2.chainId !== sidechainChainId) {
    throw new BridgeError(
      'BRIDGE_NETWORK_INVALID',
      `sidechain RPC serves chain ${sidechainChainId}, the network file says ${net.l2.chainId}`,
    )
  }
  const timeoutMs = (flags.timeout ?? 600) * 1000
  const l1 = makePublicClient({
    url: l1Url,
    chainId: l1ChainId,
    name: 'L1',
    pollingIntervalMs: 250,
  })
  const sidechain = makePublicClient({
    url: sidechainUrl,
    chainId: sidechainChainId,
    name: 'sidechain',
    pollingIntervalMs: 250,
  })

  const bridgeCode = await sidechain.getCode({ address: bridge })
  if (bridgeCode === undefined || bridgeCode === '0x') {
    throw new BridgeError(
      'BRIDGE_NETWORK_INVALID',
      `no contract at bridge ${bridge} on the sidechain`,
    )
  }
  const [linkedVault, linkedChainId] = await Promise.all([
    sidechain.readContract({ address: bridge, abi: sidechainBridgeAbi, functionName: 'l1Vault' }),
    sidechain.readContract({ address: bridge, abi: sidechainBridgeAbi, functionName: 'l1ChainId' }),
  ])
  const vaultFlag = flags.vault ?? net?.l1?.vault
  const vault = vaultFlag === undefined ? getAddress(linkedVault) : address(vaultFlag, 'vault')
  if (vault !== getAddress(linkedVault) || linkedChainId !== BigInt(l1ChainId)) {
    throw new BridgeError(
      'BRIDGE_NETWORK_INVALID',
      `the bridge ${bridge} belongs to vault ${linkedVault} on chain ${linkedChainId}, not ${vault} on chain ${l1ChainId}`,
    )
  }
  const vaultCode = await l1.getCode({ address: vault })
  if (vaultCode === undefined || vaultCode === '0x') {
    throw new BridgeError('BRIDGE_NETWORK_INVALID', `no contract at vault ${vault} on L1`)
  }

  const l1Chain = chainFor(l1ChainId, l1Url, 'L1')
  const sidechainChain = chainFor(sidechainChainId, sidechainUrl, 'sidechain')
  const wallet = (chain: Chain, url: string) => {
    if (account === undefined)
      throw new BridgeError('BRIDGE_KEY_INVALID', 'this command needs a key')
    return createWalletClient({
      chain,
      transport: http(url, { retryCount: 0 }),
      account,
      pollingInterval: 250,
    }).extend(publicActions) as unknown as AnyWallet
  }
  const confirmations =
    parseConfirmations(flags.confirmations) ??
    net?.l1?.confirmations ??
    net?.bridge?.confirmations ??
    12
  return {
    l1,
    sidechain,
    l1ChainId,
    sidechainChainId,
    vault,
    bridge,
    tokens: networkTokens(net),
    confirmations,
    l1FromBlock: BigInt(flags.l1FromBlock ?? net?.l1?.startBlock ?? net?.l1?.deployBlock ?? 0),
    sidechainFromBlock: BigInt(flags.sidechainFromBlock ?? net?.l2?.startBlock ?? 0),
    account,
    l1Wallet: () => wallet(l1Chain, l1Url),
    sidechainWallet: () => wallet(sidechainChain, sidechainUrl),
    reporter: createReporter(flags.json === true ? 'json' : 'auto'),
    json: flags.json === true,
    timeoutMs,
  }
}

/** L1 token of `--token` (ETH, a symbol from the network file, or an address). */
export function resolveL1Token(ctx: BridgeContext, token: string | undefined): Address {
  if (token === undefined || token.toUpperCase() === 'ETH') return zeroAddress
  const known = ctx.tokens.get(token.toLowerCase())
  if (known !== undefined) return known
  if (isAddress(token, { strict: false })) return getAddress(token)
  throw new BridgeError(
    'BRIDGE_UNKNOWN_TOKEN',
    `unknown token "${token}": give ETH, an address, or a symbol from the network file`,
  )
}

export type { Account }
