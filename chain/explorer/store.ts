/**
 * The explorer's index in its own LevelDB. Every block is written in ONE batch together with
 * the cursor (the last indexed block), so a crash or a power cut leaves either the whole
 * block or none of it: a restart resumes at cursor + 1 with no gap and no duplicate (every
 * key is derived from the block, transaction and log position, so re-writing a block is
 * idempotent too).
 *
 * Keys (strings; numbers are fixed-width hex so that keys sort by height):
 *   m:cursor, m:chainId           meta
 *   b:<height>                    block summary
 *   t:<tx hash>                   transaction with its receipt fields and logs
 *   a:<address>:<height>:<index>  the transactions an address sent, received or created
 *   x:<address>:<height>:<index>:<log>  token transfers from or to an address
 *   h:<holder>:<token>            tokens an address ever held (balances are read live)
 *   k:<token>                     token metadata;  s:<symbol>:<token> search by symbol
 *   c:<contract>                  contract creation;  v:<contract> verified source
 */
import { ClassicLevel } from 'classic-level'

export interface IndexedBlock {
  number: number
  hash: `0x${string}`
  parentHash: `0x${string}`
  timestamp: number
  proposer: `0x${string}`
  round: number
  gasUsed: string
  gasLimit: string
  baseFeePerGas: string | null
  transactions: `0x${string}`[]
  /** Validators listed in this block's extraData (the set for the next height). */
  validators: `0x${string}`[]
  /** Who signed the PARENT's commit seals (carried in this header), and at which round. */
  parentSealers: `0x${string}`[]
  parentCommitRound: number
}

export interface IndexedLog {
  address: `0x${string}`
  topics: `0x${string}`[]
  data: `0x${string}`
  logIndex: number
}

export interface IndexedTransaction {
  hash: `0x${string}`
  blockNumber: number
  blockHash: `0x${string}`
  index: number
  from: `0x${string}`
  to: `0x${string}` | null
  value: string
  input: `0x${string}`
  nonce: number
  gas: string
  type: string
  status: 'success' | 'reverted'
  gasUsed: string
  effectiveGasPrice: string
  contractAddress: `0x${string}` | null
  logs: IndexedLog[]
}

export interface TokenTransfer {
  token: `0x${string}`
  kind: 'erc20' | 'erc721'
  from: `0x${string}`
  to: `0x${string}`
  /** Amount for ERC-20, token id for ERC-721 (decimal string). */
  value: string
  txHash: `0x${string}`
  blockNumber: number
  logIndex: number
}

export interface TokenInfo {
  address: `0x${string}`
  kind: 'erc20' | 'erc721'
  name: string | null
  symbol: string | null
  decimals: number | null
}

export interface ContractCreation {
  address: `0x${string}`
  creator: `0x${string}`
  txHash: `0x${string}`
  blockNumber: number
}

export interface VerifiedSource {
  address: `0x${string}`
  contractName: string
  /** `path:Name` as submitted. */
  contractPath: string
  compilerVersion: string
  match: 'full' | 'partial'
  abi: unknown[]
  /** The standard JSON input as submitted (sources and settings). */
  input: { language: string; sources: Record<string, { content: string }>; settings?: unknown }
  constructorArguments: string
  verifiedAt: number
}

export interface Cursor {
  number: number
  hash: `0x${string}`
}

/** What one indexed block writes (built by the indexer, written atomically here). */
export interface BlockWrite {
  block: IndexedBlock
  transactions: IndexedTransaction[]
  transfers: TokenTransfer[]
  creations: ContractCreation[]
  tokens: TokenInfo[]
}

const height = (n: number) => n.toString(16).padStart(12, '0')
const pos = (n: number) => n.toString(16).padStart(6, '0')
const lower = (a: string) => a.toLowerCase()

export class IndexStore {
  readonly #db: ClassicLevel<string, string>

  constructor(location: string) {
    this.#db = new ClassicLevel<string, string>(location, { valueEncoding: 'utf8' })
  }

  async open(): Promise<void> {
    await this.#db.open()
  }

  async close(): Promise<void> {
    await this.#db.close()
  }

  async #get<T>(key: string): Promise<T | undefined> {
    const value = await this.#db.get(key)
    return value === undefined ? undefined : (JSON.parse(value) as T)
  }

  cursor(): Promise<Cursor | undefined> {
    return this.#get<Cursor>('m:cursor')
  }

  chainId(): Promise<number | undefined> {
    return this.#get<number>('m:chainId')
  }

  async setChainId(chainId: number): Promise<void> {
    await this.#db.put('m:chainId', JSON.stringify(chainId))
  }

  /** Writes a whole block, its index entries and the new cursor in one atomic batch. */
  async writeBlock(write: BlockWrite): Promise<void> {
    const { block } = write
    const batch = this.#db.batch()
    batch.put(`b:${height(block.number)}`, JSON.stringify(block))
    for (const tx of write.transactions) {
      batch.put(`t:${lower(tx.hash)}`, JSON.stringify(tx))
      const touched = new Set([lower(tx.from)])
      if (tx.to !== null) touched.add(lower(tx.to))
      if (tx.contractAddress !== null) touched.add(lower(tx.contractAddress))
      for (const a of touched)
        batch.put(`a:${a}:${height(tx.blockNumber)}:${pos(tx.index)}`, tx.hash)
    }
    for (const tr of write.transfers) {
      const tx = write.transactions.find((t) => t.hash === tr.txHash)
      const key = `${height(tr.blockNumber)}:${pos(tx?.index ?? 0)}:${pos(tr.logIndex)}`
      const value = JSON.stringify(tr)
      batch.put(`x:${lower(tr.from)}:${key}`, value)
      if (lower(tr.to) !== lower(tr.from)) batch.put(`x:${lower(tr.to)}:${key}`, value)
      batch.put(`h:${lower(tr.to)}:${lower(tr.token)}`, '1')
      // Token pages list transfers per token too.
      batch.put(`y:${lower(tr.token)}:${key}`, value)
    }
    for (const c of write.creations) batch.put(`c:${lower(c.address)}`, JSON.stringify(c))
    for (const token of write.tokens) {
      batch.put(`k:${lower(token.address)}`, JSON.stringify(token))
      if (token.symbol !== null && token.symbol.length > 0)
        batch.put(`s:${token.symbol.toLowerCase()}:${lower(token.address)}`, token.address)
    }
    batch.put('m:cursor', JSON.stringify({ number: block.number, hash: block.hash }))
    await batch.write({ sync: true })
  }

  block(number: number): Promise<IndexedBlock | undefined> {
    return this.#get<IndexedBlock>(`b:${height(number)}`)
  }

  transaction(hash: string): Promise<IndexedTransaction | undefined> {
    return this.#get<IndexedTransaction>(`t:${lower(hash)}`)
  }

  token(address: string): Promise<TokenInfo | undefined> {
    return this.#get<TokenInfo>(`k:${lower(address)}`)
  }

  creation(address: string): Promise<ContractCreation | undefined> {
    return this.#get<ContractCreation>(`c:${lower(address)}`)
  }

  verified(address: string): Promise<VerifiedSource | undefined> {
    return this.#get<VerifiedSource>(`v:${lower(address)}`)
  }

  async putVerified(source: VerifiedSource): Promise<void> {
    await this.#db.put(`v:${lower(source.address)}`, JSON.stringify(source), { sync: true })
  }

  /** Newest first; `before` is an opaque page token from the previous page. */
  async #page(
    prefix: string,
    limit: number,
    before: string | undefined,
  ): Promise<{ values: string[]; next: string | null }> {
    const entries: Array<[string, string]> = []
    for await (const entry of this.#db.iterator({
      gte: prefix,
      lt: before === undefined ? `${prefix}\xff` : `${prefix}${before}`,
      reverse: true,
      limit: limit + 1,
    }))
      entries.push(entry)
    const more = entries.length > limit
    const shown = entries.slice(0, limit)
    const last = shown.at(-1)
    return {
      values: shown.map(([, value]) => value),
      next: more && last !== undefined ? last[0].slice(prefix.length) : null,
    }
  }

  async addressTransactions(
    address: string,
    limit: number,
    before?: string,
  ): Promise<{ transactions: IndexedTransaction[]; next: string | null }> {
    const page = await this.#page(`a:${lower(address)}:`, limit, before)
    const transactions: IndexedTransaction[] = []
    for (const hash of page.values) {
      const tx = await this.transaction(hash)
      if (tx !== undefined) transactions.push(tx)
    }
    return { transactions, next: page.next }
  }

  async addressTransfers(
    address: string,
    limit: number,
    before?: string,
  ): Promise<{ transfers: TokenTransfer[]; next: string | null }> {
    const page = await this.#page(`x:${lower(address)}:`, limit, before)
    return { transfers: page.values.map((v) => JSON.parse(v) as TokenTransfer), next: page.next }
  }

  async tokenTransfers(
    token: string,
    limit: number,
    before?: string,
  ): Promise<{ transfers: TokenTransfer[]; next: string | null }> {
    const page = await this.#page(`y:${lower(token)}:`, limit, before)
    return { transfers: page.values.map((v) => JSON.parse(v) as TokenTransfer), next: page.next }
  }

  async heldTokens(holder: string): Promise<`0x${string}`[]> {
    const prefix = `h:${lower(holder)}:`
    const tokens: `0x${string}`[] = []
    for await (const key of this.#db.keys({ gte: prefix, lt: `${prefix}\xff`, limit: 200 }))
      tokens.push(key.slice(prefix.length) as `0x${string}`)
    return tokens
  }

  async tokensBySymbol(symbol: string): Promise<`0x${string}`[]> {
    const prefix = `s:${symbol.toLowerCase()}:`
    const tokens: `0x${string}`[] = []
    for await (const value of this.#db.values({ gte: prefix, lt: `${prefix}\xff`, limit: 20 }))
      tokens.push(value as `0x${string}`)
    return tokens
  }

  /** Tokens seen so far (first 500 by address). */
  async tokens(): Promise<TokenInfo[]> {
    const tokens: TokenInfo[] = []
    for await (const value of this.#db.values({ gte: 'k:', lt: 'k:\xff', limit: 500 }))
      tokens.push(JSON.parse(value) as TokenInfo)
    return tokens
  }

  /** The most recent indexed blocks, newest first. */
  async recentBlocks(limit: number): Promise<IndexedBlock[]> {
    const blocks: IndexedBlock[] = []
    for await (const value of this.#db.values({ gte: 'b:', lt: 'b:\xff', reverse: true, limit }))
      blocks.push(JSON.parse(value) as IndexedBlock)
    return blocks
  }
}
