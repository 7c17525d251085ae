/**
 * The RPC's read side of the chain: block-parameter resolution (tags, numbers, EIP-1898
 * hashes), blocks with their receipts, and log extraction. It reads through the narrow
 * `RpcLedger` interface (a subset of the ledger's ChainReader) and keeps a small cache of decoded
 * receipts, which receipts/log queries hit repeatedly for recent blocks.
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import type { StoredReceipt } from '../execution/receipts.ts'
import type { ChainReader } from '../ledger/chain-reader.ts'
import { setRecent } from '../util/recent-map.ts'
import { headerNotFound, invalidParams, serverError } from './errors.ts'
import { formatLogs, type RpcLog } from './format.ts'
import type { BlockId, BlockRef, LogFilter } from './params.ts'

/** What the RPC reads from the ledger. */
export type RpcLedger = Pick<
  ChainReader,
  | 'head'
  | 'common'
  | 'chainId'
  | 'genesis'
  | 'getCanonicalHash'
  | 'getHeader'
  | 'getBlock'
  | 'getBlockByNumber'
  | 'getReceipts'
  | 'getTxLocation'
  | 'stateAt'
  | 'cachedStateAt'
  | 'headState'
  | 'on'
  | 'off'
>

export interface BlockWithReceipts {
  block: Block
  receipts: StoredReceipt[]
}

export class ChainView {
  readonly ledger: RpcLedger
  private readonly receiptCache = new Map<string, StoredReceipt[]>()
  private readonly receiptCacheSize: number

  constructor(ledger: RpcLedger, options: { receiptCacheSize?: number } = {}) {
    this.ledger = ledger
    this.receiptCacheSize = options.receiptCacheSize ?? 256
  }

  get head(): BlockHeader {
    return this.ledger.head
  }

  /** Number a tag or number refers to; tags never fail (every block is final: safe = finalized = latest). */
  numberOf(ref: BlockRef): bigint {
    if (ref.kind === 'number') return ref.number
    return ref.tag === 'earliest' ? 0n : this.ledger.head.number
  }

  async header(id: BlockId): Promise<BlockHeader | undefined> {
    if (id.kind === 'hash') {
      const header = await this.ledger.getHeader(id.hash)
      if (header === undefined) return undefined
      if (id.requireCanonical) {
        const canonical = await this.ledger.getCanonicalHash(header.number)
        if (canonical === undefined || !equalsBytes(canonical, id.hash)) return undefined
      }
      return header
    }
    const number = this.numberOf(id)
    if (number === this.ledger.head.number) return this.ledger.head
    const hash = await this.ledger.getCanonicalHash(number)
    return hash === undefined ? undefined : this.ledger.getHeader(hash)
  }

  /** Header for state queries; unknown blocks are -32000 "header not found" (geth). */
  async requireHeader(id: BlockId): Promise<BlockHeader> {
    const header = await this.header(id)
    if (header === undefined) {
      if (id.kind === 'hash') throw serverError(`header for hash ${bytesToHex(id.hash)} not found`)
      throw headerNotFound()
    }
    return header
  }

  async block(id: BlockId): Promise<Block | undefined> {
    if (id.kind === 'hash') {
      const header = await this.header(id)
      return header === undefined ? undefined : this.ledger.getBlock(header.hash())
    }
    return this.ledger.getBlockByNumber(this.numberOf(id))
  }

  async receipts(blockHash: Uint8Array): Promise<StoredReceipt[]> {
    const key = bytesToHex(blockHash)
    const cached = this.receiptCache.get(key)
    if (cached !== undefined) return cached
    const receipts = await this.ledger.getReceipts(blockHash)
    if (receipts === undefined) throw serverError(`receipts of block ${key} are missing`)
    setRecent(this.receiptCache, key, receipts, this.receiptCacheSize)
    return receipts
  }

  /** Remember receipts we got for free with a new head (filters, subscriptions). */
  rememberReceipts(blockHash: Uint8Array, receipts: StoredReceipt[]): void {
    setRecent(this.receiptCache, bytesToHex(blockHash), receipts, this.receiptCacheSize)
  }

  async blockWithReceipts(id: BlockId): Promise<BlockWithReceipts | undefined> {
    const block = await this.block(id)
    if (block === undefined) return undefined
    return { block, receipts: await this.receipts(block.hash()) }
  }

  /** Resolves a filter's block range to numbers; refuses reversed ranges. */
  filterRange(filter: LogFilter): { from: bigint; to: bigint } {
    const head = this.ledger.head.number
    const from = filter.fromBlock === undefined ? head : this.numberOf(filter.fromBlock)
    const to = filter.toBlock === undefined ? head : this.numberOf(filter.toBlock)
    if (from > to)
      throw invalidParams(
        `invalid block range params: fromBlock (${from}) is after toBlock (${to})`,
      )
    return { from, to }
  }
}

/** Does a log match the address and topic criteria of a filter? */
export function logMatches(
  filter: Pick<LogFilter, 'addresses' | 'topics'>,
  log: { address: string; topics: readonly string[] },
): boolean {
  if (filter.addresses.length > 0 && !filter.addresses.includes(log.address)) return false
  for (let i = 0; i < filter.topics.length; i++) {
    const wanted = filter.topics[i]
    if (wanted === undefined) continue
    const topic = log.topics[i]
    if (topic === undefined || !wanted.includes(topic)) return false
  }
  return true
}

/** Could the block contain matching logs, judging by its bloom? (No false negatives.) */
export function bloomMayMatch(
  bloom: Uint8Array,
  filter: Pick<LogFilter, 'addresses' | 'topics'>,
  keccak: (b: Uint8Array) => Uint8Array,
): boolean {
  const contains = (value: Uint8Array) => {
    const hash = keccak(value)
    for (let i = 0; i < 6; i += 2) {
      const bit = ((hash[i]! << 8) | hash[i + 1]!) & 2047
      const byte = 255 - Math.floor(bit / 8)
      if ((bloom[byte]! & (1 << (bit % 8))) === 0) return false
    }
    return true
  }
  if (
    filter.addresses.length > 0 &&
    !filter.addresses.some((a) => contains(Buffer.from(a.slice(2), 'hex')))
  )
    return false
  for (const wanted of filter.topics) {
    if (wanted === undefined) continue
    if (!wanted.some((t) => contains(Buffer.from(t.slice(2), 'hex')))) return false
  }
  return true
}

/** Every log of a block, formatted, optionally filtered. */
export function blockLogs(
  { block, receipts }: BlockWithReceipts,
  filter?: Pick<LogFilter, 'addresses' | 'topics'>,
): RpcLog[] {
  const out: RpcLog[] = []
  let logIndex = 0
  const { header } = block
  const blockHash = header.hash()
  receipts.forEach((receipt, txIndex) => {
    const logs = formatLogs(receipt.logs, {
      blockHash,
      blockNumber: header.number,
      timestamp: header.timestamp,
      txHash: block.transactions[txIndex]!.hash(),
      txIndex,
      firstLogIndex: logIndex,
    })
    logIndex += receipt.logs.length
    for (const log of logs) if (filter === undefined || logMatches(filter, log)) out.push(log)
  })
  return out
}
