/**
 * Follows the chain over JSON-RPC and writes each block into the IndexStore, in order, one
 * atomic batch per block. Blocks are final when imported (QBFT), so the index never rewinds:
 * a block whose parent hash differs from the indexed one means the index belongs to another
 * chain or the endpoint lies, and indexing stops with EXPLORER_INDEX_CONFLICT instead of
 * mixing two histories.
 */
import { type Block, type Hex, type PublicClient, parseAbi, type Transaction, toHex } from 'viem'
import { decodeExtraData } from '../consensus/extra-data.ts'
import { commitSealDigest } from '../consensus/seals.ts'
import { bytesToHex, hexToBytes, recoverAddress } from '../crypto/index.ts'
import type { Logger } from '../lib/logger.ts'
import { ExplorerError } from './errors.ts'
import type {
  BlockWrite,
  ContractCreation,
  IndexedBlock,
  IndexedTransaction,
  IndexStore,
  TokenInfo,
  TokenTransfer,
} from './store.ts'

export const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

const TOKEN_METADATA_ABI = parseAbi([
  'function name() view returns (string)',
  'function symbol() view returns (string)',
  'function decimals() view returns (uint8)',
])

export interface IndexerOptions {
  pollIntervalMs: number
  /** Blocks fetched concurrently while catching up. */
  fetchConcurrency: number
}

export interface IndexerModules {
  client: PublicClient
  store: IndexStore
  logger: Logger
}

export interface IndexerStatus {
  head: number | null
  indexed: number | null
  /** Set when indexing stopped for good (a conflicting index); the server keeps serving. */
  failure: string | null
}

export class Indexer {
  readonly #options: IndexerOptions
  readonly #modules: IndexerModules
  readonly #knownTokens = new Set<string>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #running = false
  #loop: Promise<void> | undefined
  #head: number | null = null
  #cursor: { number: number; hash: Hex } | undefined
  #failure: string | null = null
  /** Resolvers waiting for a height to be indexed (tests and the API's "wait" helper). */
  readonly #waiters: Array<{ height: number; resolve: () => void }> = []

  constructor(options: IndexerOptions, modules: IndexerModules) {
    this.#options = options
    this.#modules = modules
  }

  async start(): Promise<void> {
    const { client, store } = this.#modules
    const chainId = await this.#rpc(() => client.getChainId(), 'eth_chainId')
    const storedChainId = await store.chainId()
    if (storedChainId === undefined) await store.setChainId(chainId)
    else if (storedChainId !== chainId)
      throw new ExplorerError(
        'EXPLORER_CHAIN_MISMATCH',
        `the index was built for chain ${storedChainId} but the RPC serves chain ${chainId}; use another --datadir`,
        { details: { storedChainId, chainId } },
      )
    this.#cursor = await store.cursor()
    if (this.#cursor !== undefined) {
      const block = await this.#rpc(
        () => client.getBlock({ blockNumber: BigInt(this.#cursor!.number) }),
        'eth_getBlockByNumber',
      )
      if (block.hash !== this.#cursor.hash)
        throw new ExplorerError(
          'EXPLORER_INDEX_CONFLICT',
          `indexed block ${this.#cursor.number} is ${this.#cursor.hash} but the chain has ${block.hash}; the index belongs to another chain: delete it or use another --datadir`,
          { details: { height: this.#cursor.number } },
        )
    }
    this.#running = true
    this.#schedule(0)
  }

  async stop(): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    await this.#loop
  }

  status(): IndexerStatus {
    return { head: this.#head, indexed: this.#cursor?.number ?? null, failure: this.#failure }
  }

  /** Resolves once `height` is indexed. */
  indexed(height: number): Promise<void> {
    if ((this.#cursor?.number ?? -1) >= height) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ height, resolve }))
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return
    this.#timer = setTimeout(() => {
      this.#loop = this.#tick().finally(() => {
        this.#schedule(this.#options.pollIntervalMs)
      })
    }, delayMs)
  }

  async #tick(): Promise<void> {
    const { client, logger } = this.#modules
    try {
      const head = Number(await client.getBlockNumber({ cacheTime: 0 }))
      this.#head = head
      let next = (this.#cursor?.number ?? -1) + 1
      while (this.#running && next <= head) {
        const last = Math.min(head, next + this.#options.fetchConcurrency - 1)
        const heights = Array.from({ length: last - next + 1 }, (_, i) => next + i)
        const writes = await Promise.all(heights.map((h) => this.#fetch(h)))
        for (const write of writes) await this.#write(write)
        next = last + 1
      }
    } catch (err) {
      if (err instanceof ExplorerError && err.code === 'EXPLORER_INDEX_CONFLICT') {
        this.#failure = err.message
        this.#running = false
        logger.error({ err }, 'indexing stopped')
        return
      }
      logger.warn({ err }, 'indexing paused; retrying')
    }
  }

  async #write(write: BlockWrite): Promise<void> {
    const cursor = this.#cursor
    if (cursor !== undefined && write.block.parentHash !== cursor.hash)
      throw new ExplorerError(
        'EXPLORER_INDEX_CONFLICT',
        `block ${write.block.number} has parent ${write.block.parentHash} but the indexed block ${cursor.number} is ${cursor.hash}`,
        { details: { height: write.block.number } },
      )
    await this.#modules.store.writeBlock(write)
    for (const token of write.tokens) this.#knownTokens.add(token.address.toLowerCase())
    this.#cursor = { number: write.block.number, hash: write.block.hash }
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!
      if (waiter.height <= write.block.number) {
        this.#waiters.splice(i, 1)
        waiter.resolve()
      }
    }
  }

  async #fetch(height: number): Promise<BlockWrite> {
    const { client } = this.#modules
    const block = await this.#rpc(
      () => client.getBlock({ blockNumber: BigInt(height), includeTransactions: true }),
      'eth_getBlockByNumber',
    )
    const receipts =
      block.transactions.length === 0
        ? []
        : await this.#rpc(
            () =>
              client.request({
                method: 'eth_getBlockReceipts',
                params: [toHex(height)],
              }) as Promise<TransactionReceiptRpc[]>,
            'eth_getBlockReceipts',
          )
    const transactions = (block.transactions as Transaction[]).map((tx, i) =>
      indexedTransaction(tx, receipts[i], block),
    )
    const transfers: TokenTransfer[] = []
    const tokens = new Map<string, TokenInfo['kind']>()
    const creations: ContractCreation[] = []
    for (const tx of transactions) {
      if (tx.contractAddress !== null)
        creations.push({
          address: tx.contractAddress,
          creator: tx.from,
          txHash: tx.hash,
          blockNumber: tx.blockNumber,
        })
      for (const log of tx.logs) {
        const transfer = decodeTransfer(log, tx)
        if (transfer === undefined) continue
        transfers.push(transfer)
        const key = transfer.token.toLowerCase()
        if (!this.#knownTokens.has(key) && !tokens.has(key)) tokens.set(key, transfer.kind)
      }
    }
    const tokenInfos: TokenInfo[] = []
    for (const [address, kind] of tokens) {
      if ((await this.#modules.store.token(address)) !== undefined) {
        this.#knownTokens.add(address)
        continue
      }
      tokenInfos.push(await this.#tokenMetadata(address as Hex, kind))
    }
    return {
      block: indexedBlock(block),
      transactions,
      transfers,
      creations,
      tokens: tokenInfos,
    }
  }

  async #tokenMetadata(address: Hex, kind: TokenInfo['kind']): Promise<TokenInfo> {
    const { client } = this.#modules
    const read = async <T>(functionName: 'name' | 'symbol' | 'decimals'): Promise<T | null> => {
      try {
        return (await client.readContract({
          address,
          abi: TOKEN_METADATA_ABI,
          functionName,
        })) as T
      } catch {
        // Optional in both standards: a token without it shows its address.
        return null
      }
    }
    const decimals = kind === 'erc20' ? await read<number>('decimals') : 0
    return {
      address,
      kind,
      name: sanitize(await read<string>('name')),
      symbol: sanitize(await read<string>('symbol')),
      decimals: decimals === null ? null : Number(decimals),
    }
  }

  async #rpc<T>(call: () => Promise<T>, method: string): Promise<T> {
    try {
      return await call()
    } catch (cause) {
      throw new ExplorerError('EXPLORER_RPC_UNAVAILABLE', `${method} failed on the followed node`, {
        cause,
      })
    }
  }
}

type TransactionReceiptRpc = {
  status: Hex
  gasUsed: Hex
  effectiveGasPrice: Hex
  contractAddress: Hex | null
  transactionHash: Hex
  logs: Array<{ address: Hex; topics: Hex[]; data: Hex; logIndex: Hex }>
}

/** Token names are shown in pages: keep them short and printable. */
function sanitize(text: string | null): string | null {
  if (text === null) return null
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 64)
}

function indexedBlock(block: Block): IndexedBlock {
  const extra = decodeExtraData(hexToBytes(block.extraData))
  let parentSealers: Hex[] = []
  if (block.number !== null && block.number > 0n) {
    const digest = commitSealDigest(hexToBytes(block.parentHash), extra.parentCommitRound)
    parentSealers = extra.parentCommitSeals.flatMap((seal) => {
      try {
        return [bytesToHex(recoverAddress(digest, seal)) as Hex]
      } catch {
        return []
      }
    })
  }
  return {
    number: Number(block.number),
    hash: block.hash as Hex,
    parentHash: block.parentHash,
    timestamp: Number(block.timestamp),
    proposer: block.miner.toLowerCase() as Hex,
    round: extra.round,
    gasUsed: block.gasUsed.toString(),
    gasLimit: block.gasLimit.toString(),
    baseFeePerGas: block.baseFeePerGas === null ? null : block.baseFeePerGas.toString(),
    transactions: (block.transactions as Transaction[]).map((tx) => tx.hash),
    validators: extra.validators.map((v) => bytesToHex(v) as Hex),
    parentSealers,
    parentCommitRound: extra.parentCommitRound,
  }
}

function indexedTransaction(
  tx: Transaction,
  receipt: TransactionReceiptRpc | undefined,
  block: Block,
): IndexedTransaction {
  if (receipt === undefined || receipt.transactionHash !== tx.hash)
    throw new ExplorerError(
      'EXPLORER_RPC_UNAVAILABLE',
      `block ${block.number} receipts do not match its transactions`,
    )
  return {
    hash: tx.hash,
    blockNumber: Number(block.number),
    blockHash: block.hash as Hex,
    index: tx.transactionIndex ?? 0,
    from: tx.from.toLowerCase() as Hex,
    to: tx.to === null ? null : (tx.to.toLowerCase() as Hex),
    value: tx.value.toString(),
    input: tx.input,
    nonce: tx.nonce,
    gas: tx.gas.toString(),
    type: tx.type,
    status: receipt.status === '0x1' ? 'success' : 'reverted',
    gasUsed: BigInt(receipt.gasUsed).toString(),
    effectiveGasPrice: BigInt(receipt.effectiveGasPrice).toString(),
    contractAddress:
      receipt.contractAddress === null ? null : (receipt.contractAddress.toLowerCase() as Hex),
    logs: receipt.logs.map((log) => ({
      address: log.address.toLowerCase() as Hex,
      topics: log.topics,
      data: log.data,
      logIndex: Number(log.logIndex),
    })),
  }
}

function decodeTransfer(
  log: IndexedTransaction['logs'][number],
  tx: IndexedTransaction,
): TokenTransfer | undefined {
  if (log.topics[0] !== TRANSFER_TOPIC) return undefined
  const topicAddress = (topic: Hex | undefined) =>
    topic === undefined || topic.length !== 66 ? null : (`0x${topic.slice(26)}` as Hex)
  const from = topicAddress(log.topics[1])
  const to = topicAddress(log.topics[2])
  if (from === null || to === null) return undefined
  if (log.topics.length === 3 && log.data.length === 66)
    return {
      token: log.address,
      kind: 'erc20',
      from,
      to,
      value: BigInt(log.data).toString(),
      txHash: tx.hash,
      blockNumber: tx.blockNumber,
      logIndex: log.logIndex,
    }
  if (log.topics.length === 4 && log.data === '0x')
    return {
      token: log.address,
      kind: 'erc721',
      from,
      to,
      value: BigInt(log.topics[3]!).toString(),
      txHash: tx.hash,
      blockNumber: tx.blockNumber,
      logIndex: log.logIndex,
    }
  return undefined
}
