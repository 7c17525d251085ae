/**
 * A lying JSON-RPC endpoint for relayer tests: an HTTP server on 127.0.0.1 that forwards every
 * request to a real sidechain node and, depending on its mode, lies in the answers:
 *
 * - `honest`: forwards untouched;
 * - `forge-withdrawal`: invents withdrawal 0 (50 ETH to a thief) in every SidechainBridge read
 *   (`withdrawalCount`, `getWithdrawal`, `l1Withdrawal`, `withdrawalDigest`, `hasSigned`, and
 *   the count's storage slot), the attack of the bridge review (case 2);
 * - `forge-headers`: changes the `stateRoot` of every block it serves (the claimed hash kept), as
 *   a proxy would to back forged state with a header.
 *
 * Whatever the mode, it watches every request that carries calldata (eth_call, eth_estimateGas,
 * eth_fillTransaction, eth_sendRawTransaction) for a `submitSignature` whose signature recovers,
 * over the forged withdrawal's digest, to one of the relayers: a signature of the forged payload
 * that left the relayer process.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type Address,
  decodeFunctionData,
  encodeFunctionResult,
  type Hex,
  hashTypedData,
  keccak256,
  parseTransaction,
  recoverAddress,
  zeroAddress,
} from 'viem'
import { sidechainBridgeAbi, vaultDomain, withdrawalTypes } from '../../../bridge/deploy/index.ts'

export type ProxyMode = 'honest' | 'forge-withdrawal' | 'forge-headers'

export interface LyingProxyOptions {
  target: string
  bridge: Address
  l1ChainId: number
  vault: Address
  sidechainChainId: number
  thief: Address
  amount: bigint
  /** Whose signatures count as leaked (any signature recovers to some address). */
  relayers: Address[]
}

export interface LyingProxy {
  url: string
  mode: ProxyMode
  /** Requests served, by method. */
  counts: Map<string, number>
  /** Signatures of the forged withdrawal seen leaving a relayer, with the address they recover to. */
  leaks: Array<{ method: string; signer: Address }>
  /** The digest of the forged withdrawal (L1 vault domain). */
  forgedDigest: Hex
  close(): Promise<void>
}

interface RpcRequest {
  id: unknown
  method: string
  params?: unknown[]
}

export async function startLyingProxy(options: LyingProxyOptions): Promise<LyingProxy> {
  const forged = {
    sourceChainId: BigInt(options.sidechainChainId),
    sourceBridge: options.bridge,
    withdrawalId: 0n,
    token: zeroAddress,
    recipient: options.thief,
    amount: options.amount,
    epoch: 0n,
  }
  const forgedDigest = hashTypedData({
    domain: vaultDomain({ chainId: options.l1ChainId, verifyingContract: options.vault }),
    types: withdrawalTypes,
    primaryType: 'Withdrawal',
    message: forged,
  })
  const bridge = options.bridge.toLowerCase()
  const relayers = new Set(options.relayers.map((r) => r.toLowerCase()))

  const forward = async (body: unknown): Promise<unknown> => {
    const res = await fetch(options.target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return res.json()
  }

  const watchForLeak = (req: RpcRequest) => {
    let data: Hex | undefined
    const first = req.params?.[0] as { data?: Hex; input?: Hex } | Hex | undefined
    if (req.method === 'eth_sendRawTransaction' && typeof first === 'string') {
      data = parseTransaction(first as Hex).data
    } else if (first !== null && typeof first === 'object') {
      data = first.data ?? first.input
    }
    if (data === undefined) return
    let decoded: ReturnType<typeof decodeFunctionData<typeof sidechainBridgeAbi>>
    try {
      decoded = decodeFunctionData({ abi: sidechainBridgeAbi, data })
    } catch {
      return
    }
    if (decoded.functionName !== 'submitSignature') return
    const [, signature] = decoded.args as [bigint, Hex]
    void recoverAddress({ hash: forgedDigest, signature })
      .then((signer) => {
        if (relayers.has(signer.toLowerCase())) proxy.leaks.push({ method: req.method, signer })
      })
      .catch(() => {})
  }

  /** The forged answer to `req`, or undefined to forward it. */
  const lie = (req: RpcRequest): unknown => {
    if (proxy.mode !== 'forge-withdrawal') return undefined
    if (req.method === 'eth_getStorageAt') {
      // withdrawalCount (slot 6 of SidechainBridge) reads 1.
      const [to, slot] = (req.params ?? []) as [string, string]
      if (to?.toLowerCase() === bridge && BigInt(slot) === 6n) return `0x${'00'.repeat(31)}01`
      return undefined
    }
    if (req.method !== 'eth_call') return undefined
    const call = req.params?.[0] as { to?: string; data?: Hex; input?: Hex } | undefined
    if (call?.to?.toLowerCase() !== bridge) return undefined
    const data = call.data ?? call.input
    if (data === undefined) return undefined
    let decoded: ReturnType<typeof decodeFunctionData<typeof sidechainBridgeAbi>>
    try {
      decoded = decodeFunctionData({ abi: sidechainBridgeAbi, data })
    } catch {
      return undefined
    }
    const result = (functionName: string, value: unknown) =>
      encodeFunctionResult({
        abi: sidechainBridgeAbi,
        functionName: functionName as never,
        result: value as never,
      })
    const id = (decoded.args?.[0] as bigint | undefined) ?? -1n
    switch (decoded.functionName) {
      case 'withdrawalCount':
        return result('withdrawalCount', 1n)
      case 'getWithdrawal':
        if (id !== 0n) return undefined
        return result('getWithdrawal', {
          l1Token: zeroAddress,
          token: zeroAddress,
          from: options.thief,
          l1Recipient: options.thief,
          amount: options.amount,
        })
      case 'l1Withdrawal':
        return id === 0n ? result('l1Withdrawal', forged) : undefined
      case 'withdrawalDigest':
        return id === 0n ? result('withdrawalDigest', forgedDigest) : undefined
      case 'hasSigned':
        return id === 0n ? result('hasSigned', false) : undefined
      default:
        return undefined
    }
  }

  const tamper = (req: RpcRequest, response: { result?: unknown }): void => {
    if (proxy.mode !== 'forge-headers') return
    if (req.method !== 'eth_getBlockByNumber' && req.method !== 'eth_getBlockByHash') return
    const block = response.result as { stateRoot?: Hex; number?: Hex } | null | undefined
    if (block?.stateRoot === undefined || block.number === '0x0') return
    block.stateRoot = keccak256(block.stateRoot)
  }

  const handle = async (req: RpcRequest): Promise<unknown> => {
    proxy.counts.set(req.method, (proxy.counts.get(req.method) ?? 0) + 1)
    watchForLeak(req)
    const forgedResult = lie(req)
    if (forgedResult !== undefined) return { jsonrpc: '2.0', id: req.id, result: forgedResult }
    const response = (await forward(req)) as { result?: unknown }
    tamper(req, response)
    return response
  }

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (c: Buffer) => chunks.push(c))
    request.on('end', () => {
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as
            | RpcRequest
            | RpcRequest[]
          const answer = Array.isArray(body)
            ? await Promise.all(body.map(handle))
            : await handle(body)
          response.writeHead(200, { 'content-type': 'application/json' })
          response.end(JSON.stringify(answer))
        } catch (err) {
          response.writeHead(502)
          response.end(String(err))
        }
      })()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const proxy: LyingProxy = {
    url: `http://127.0.0.1:${port}`,
    mode: 'honest',
    counts: new Map(),
    leaks: [],
    forgedDigest,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return proxy
}
