/**
 * Fee suggestions and history. The tip suggestion follows geth's gas price oracle: the
 * lowest few effective tips of each of the last blocks, the 60th percentile of those,
 * or a small default tip when recent blocks carry no paying transactions (a quiet
 * sidechain). eth_gasPrice is the next block's base fee plus that tip.
 */
import type { BlockHeader } from '@ethereumjs/block'
import { bytesToHex } from '@ethereumjs/util'
import { nextBaseFee } from '../ledger/base-fee.ts'
import type { ChainView } from './chain-view.ts'
import { serverError } from './errors.ts'
import { effectiveGasPrice, quantity } from './format.ts'

export interface FeeOracleOptions {
  /** Tip suggested when recent blocks have no samples (wei). */
  defaultTip: bigint
  /** Never suggest more than this tip (wei). */
  maxTip: bigint
  /** Blocks sampled for the tip suggestion. */
  sampleBlocks: number
  /** Most blocks one eth_feeHistory may cover. */
  maxHistoryBlocks: number
}

/** Tips below this are ignored as samples (geth's ignorePrice). */
const IGNORE_TIP = 2n
const SAMPLES_PER_BLOCK = 3
const PERCENTILE = 60

export class FeeOracle {
  private readonly options: FeeOracleOptions
  private readonly chain: ChainView
  private readonly baseFeeFloor: bigint
  private cached: { head: string; tip: bigint } | undefined

  constructor(options: FeeOracleOptions, modules: { chain: ChainView; baseFeeFloor: bigint }) {
    this.options = options
    this.chain = modules.chain
    this.baseFeeFloor = modules.baseFeeFloor
  }

  /** Base fee of the block after `header` (default: after the head). */
  nextBaseFee(header: BlockHeader = this.chain.head): bigint {
    return nextBaseFee(header, this.baseFeeFloor)
  }

  async suggestTip(): Promise<bigint> {
    const head = this.chain.head
    const key = bytesToHex(head.hash())
    if (this.cached?.head === key) return this.cached.tip
    const samples: bigint[] = []
    const first = head.number - BigInt(this.options.sampleBlocks) + 1n
    for (let n = head.number; n >= (first < 0n ? 0n : first); n--) {
      const block = await this.chain.ledger.getBlockByNumber(n)
      if (block === undefined) break
      const baseFee = block.header.baseFeePerGas ?? 0n
      const coinbase = block.header.coinbase
      const tips = block.transactions
        .filter((tx) => !tx.getSenderAddress().equals(coinbase))
        .map((tx) => effectiveGasPrice(tx, baseFee) - baseFee)
        .filter((tip) => tip >= IGNORE_TIP)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      samples.push(...tips.slice(0, SAMPLES_PER_BLOCK))
    }
    let tip = this.options.defaultTip
    if (samples.length > 0) {
      samples.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      tip = samples[Math.floor(((samples.length - 1) * PERCENTILE) / 100)]!
    }
    if (tip > this.options.maxTip) tip = this.options.maxTip
    this.cached = { head: key, tip }
    return tip
  }

  async gasPrice(): Promise<bigint> {
    return this.nextBaseFee() + (await this.suggestTip())
  }

  /** eth_feeHistory over `count` blocks ending at `newest` (oldest first). */
  async feeHistory(
    count: number,
    newest: bigint,
    percentiles: readonly number[],
  ): Promise<Record<string, unknown>> {
    const head = this.chain.head.number
    if (newest > head)
      throw serverError(`request beyond head block: requested ${newest}, head ${head}`)
    const blocks = BigInt(Math.min(count, this.options.maxHistoryBlocks))
    if (blocks === 0n) return { oldestBlock: quantity(0), baseFeePerGas: [], gasUsedRatio: [] }
    const oldest = newest - blocks + 1n < 0n ? 0n : newest - blocks + 1n
    const baseFees: string[] = []
    const ratios: number[] = []
    const blobFees: string[] = []
    const blobRatios: number[] = []
    const rewards: string[][] = []
    let last: BlockHeader | undefined
    for (let n = oldest; n <= newest; n++) {
      const block = await this.chain.ledger.getBlockByNumber(n)
      if (block === undefined) throw serverError(`block ${n} not found`)
      const { header } = block
      last = header
      baseFees.push(quantity(header.baseFeePerGas ?? 0n))
      ratios.push(header.gasLimit === 0n ? 0 : Number(header.gasUsed) / Number(header.gasLimit))
      blobFees.push(quantity(blobBaseFee(header)))
      blobRatios.push(0)
      if (percentiles.length > 0) {
        const receipts = await this.chain.receipts(block.hash())
        rewards.push(blockRewards(block.transactions, receipts, header, percentiles).map(quantity))
      }
    }
    baseFees.push(quantity(this.nextBaseFee(last!)))
    blobFees.push(blobFees[blobFees.length - 1]!)
    const out: Record<string, unknown> = {
      oldestBlock: quantity(oldest),
      baseFeePerGas: baseFees,
      gasUsedRatio: ratios,
      baseFeePerBlobGas: blobFees,
      blobGasUsedRatio: blobRatios,
    }
    if (percentiles.length > 0) out.reward = rewards
    return out
  }
}

function blobBaseFee(header: BlockHeader): bigint {
  try {
    return header.getBlobGasPrice()
  } catch {
    return 0n
  }
}

/** geth's reward percentiles: effective tips weighted by the gas each transaction used. */
function blockRewards(
  txs: readonly import('@ethereumjs/tx').TypedTransaction[],
  receipts: readonly { gasUsed: bigint }[],
  header: BlockHeader,
  percentiles: readonly number[],
): bigint[] {
  if (txs.length === 0) return percentiles.map(() => 0n)
  const baseFee = header.baseFeePerGas ?? 0n
  const sorted = txs
    .map((tx, i) => ({
      tip: effectiveGasPrice(tx, baseFee) - baseFee,
      gas: receipts[i]?.gasUsed ?? 0n,
    }))
    .sort((a, b) => (a.tip < b.tip ? -1 : a.tip > b.tip ? 1 : 0))
  const totalGas = sorted.reduce((sum, t) => sum + t.gas, 0n)
  const out: bigint[] = []
  let index = 0
  let sum = sorted[0]!.gas
  for (const p of percentiles) {
    const threshold = (Number(totalGas) * p) / 100
    while (Number(sum) < threshold && index < sorted.length - 1) {
      index++
      sum += sorted[index]!.gas
    }
    out.push(sorted[index]!.tip)
  }
  return out
}
