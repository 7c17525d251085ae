/**
 * viem clients for L1 and the sidechain. Transport retries are off: whether a failure is retried is decided in
 * one place (core/classify.ts), not silently inside the transport.
 */
import { type Chain, createPublicClient, defineChain, http, type PublicClient } from 'viem'

export interface ClientOptions {
  url: string
  chainId: number
  name?: string
  timeoutMs?: number
  pollingIntervalMs?: number
}

export function chainFor(chainId: number, url: string, name = `chain-${chainId}`): Chain {
  return defineChain({
    id: chainId,
    name,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  })
}

export function makePublicClient(options: ClientOptions): PublicClient {
  return createPublicClient({
    chain: chainFor(options.chainId, options.url, options.name),
    transport: http(options.url, { retryCount: 0, timeout: options.timeoutMs ?? 10_000 }),
    pollingInterval: options.pollingIntervalMs ?? 250,
    cacheTime: 0,
  }) as PublicClient
}
