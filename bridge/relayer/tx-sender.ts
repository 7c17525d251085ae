/**
 * Sends contract calls from one key on one chain and sees them mined:
 * - gas is estimated first, so a call that would revert fails before a nonce is used (and its custom error is
 *   classified by the caller);
 * - nonces are assigned locally under a lock and consumed only by a successful broadcast, so a refused
 *   transaction never leaves a hole; a nonce race resyncs from the node's pending count;
 * - a transaction not mined after `stuckAfterMs` is replaced (same nonce) with fees raised by `bumpPercent`,
 *   never above `maxFeePerGas`;
 * - a call may carry a gas cap (`maxGas`): one whose estimate is above it is refused before anything is signed
 *   (RELAYER_GAS_CAP), so a recipient or state that makes a call expensive cannot make the relayer pay for it;
 * - on L1, every version's worst-case cost is reserved against the spend cap before it is broadcast, and the
 *   real cost (gas used x effective price) is added to the journal when it is mined. The cap limits what is spent
 *   within a sliding window (`spendWindowMs`), so hitting it delays work instead of stopping the relayer for
 *   good. In-flight L1 transactions are journaled, so a restarted relayer keeps watching (and bumping) them and
 *   counts what they spent.
 */
import {
  type Abi,
  type Address,
  encodeFunctionData,
  type Hash,
  type Hex,
  keccak256,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
} from 'viem'
import type { Logger } from '../../chain/lib/logger.ts'
import { classifyError, isKnownTransaction, revertName } from '../core/classify.ts'
import { BridgeError } from '../core/errors.ts'
import type { InflightL1Tx, RelayerJournal } from '../journal/journal.ts'

export interface TxSenderOptions {
  chain: 'l1' | 'sidechain'
  chainId: number
  stuckAfterMs: number
  bumpPercent: number
  receiptPollMs: number
  /** Highest fee per gas ever offered. */
  maxFeePerGas?: bigint
  /** Headroom added to the gas estimate, in percent (default 25). */
  gasMarginPercent?: number
  /** Spend allowed within `spendWindowMs` (L1); requires `journal`. */
  spendCapWei?: bigint
  /** Length of the sliding spend window (absent: the cap is over the relayer's whole history). */
  spendWindowMs?: number
}

export interface TxSenderMetrics {
  replaced(chain: string): void
  spent(chain: string, totalWei: bigint): void
  /** Spend within the window plus in-flight reservations (L1). */
  windowSpend?(wei: bigint): void
}

export interface TxSenderModules {
  client: PublicClient
  account: LocalAccount
  logger: Logger
  signal: AbortSignal
  /** Persists spend and in-flight transactions (L1). */
  journal?: RelayerJournal
  metrics?: TxSenderMetrics
  /** Clock of the spend window (tests). */
  now?: () => number
}

export interface ContractCall {
  address: Address
  abi: Abi
  functionName: string
  args: readonly unknown[]
  /** For logs: what this transaction does. */
  label: string
  /** Gas limit floor, for calls whose cost depends on what lands before them (the minting vote). */
  minGas?: bigint
  /** Gas limit cap: a call estimated above it is refused (RELAYER_GAS_CAP) before anything is signed. */
  maxGas?: bigint
}

interface Fees {
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
}

interface Pending {
  nonce: number
  to: Address
  data: Hex
  gas: bigint
  fees: Fees
  /** Newest last. */
  hashes: Hash[]
  raw: Hex
  reservedWei: bigint
  label: string
}

function toInflight(p: Pending): InflightL1Tx {
  return {
    nonce: p.nonce,
    label: p.label,
    to: p.to,
    data: p.data,
    gas: p.gas,
    maxFeePerGas: p.fees.maxFeePerGas,
    maxPriorityFeePerGas: p.fees.maxPriorityFeePerGas,
    hashes: p.hashes,
    raw: p.raw,
    reservedWei: p.reservedWei,
  }
}

export class TxSender {
  readonly options: TxSenderOptions
  private readonly client: PublicClient
  private readonly account: LocalAccount
  private readonly logger: Logger
  private readonly signal: AbortSignal
  private readonly journal: RelayerJournal | undefined
  private readonly metrics: TxSenderMetrics | undefined
  private nextNonce: number | undefined
  private lock: Promise<unknown> = Promise.resolve()
  private spentWei = 0n
  /** Mined costs within the spend window, oldest first. */
  private windowLog: Array<{ atMs: number; wei: bigint }> = []
  private readonly reserved = new Map<number, bigint>()
  private readonly now: () => number

  constructor(options: TxSenderOptions, modules: TxSenderModules) {
    if (options.spendCapWei !== undefined && modules.journal === undefined) {
      throw new Error('a spend cap needs a journal')
    }
    this.options = options
    this.client = modules.client
    this.account = modules.account
    this.logger = modules.logger.child({ chain: options.chain })
    this.signal = modules.signal
    this.journal = modules.journal
    this.metrics = modules.metrics
    this.now = modules.now ?? Date.now
  }

  get address(): Address {
    return this.account.address
  }

  /** Total cost of this key's mined transactions (L1, from the journal). */
  get totalSpentWei(): bigint {
    return this.spentWei
  }

  get reservedWei(): bigint {
    let sum = 0n
    for (const v of this.reserved.values()) sum += v
    return sum
  }

  /**
   * Loads the spend total and resumes watching journaled in-flight transactions of a previous run (in the
   * background; they are bumped like new ones). Call once before `send`.
   */
  async init(): Promise<void> {
    if (this.journal === undefined) return
    this.spentWei = await this.journal.getSpentWei()
    if (this.options.spendWindowMs !== undefined) {
      this.windowLog = await this.journal.l1SpendSince(this.now() - this.options.spendWindowMs)
    }
    this.metrics?.spent(this.options.chain, this.spentWei)
    for (const tx of await this.journal.inflightL1Txs()) {
      this.reserved.set(tx.nonce, tx.reservedWei)
      const pending = await this.restore(tx)
      if (pending === undefined) continue
      this.logger.info(
        { nonce: tx.nonce, label: tx.label, hashes: tx.hashes },
        'resuming an in-flight transaction',
      )
      this.waitMined(pending).catch((err) => {
        const c = classifyError(err)
        this.logger.warn(
          { nonce: tx.nonce, kind: c.kind, detail: c.detail },
          'resumed transaction failed',
        )
      })
    }
  }

  /** Estimates, signs, broadcasts and waits for a successful receipt. Throws a classifiable error otherwise. */
  async send(call: ContractCall): Promise<TransactionReceipt> {
    this.throwIfStopped()
    const data = encodeFunctionData({
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
    })
    const estimate = await this.client.estimateContractGas({
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
      account: this.account,
    } as Parameters<PublicClient['estimateContractGas']>[0])
    if (call.maxGas !== undefined && estimate > call.maxGas) {
      throw new BridgeError(
        'RELAYER_GAS_CAP',
        `${call.label} needs ${estimate} gas, above the cap of ${call.maxGas}`,
        { details: { estimate: estimate.toString(), cap: call.maxGas.toString() } },
      )
    }
    let gas = max(
      (estimate * BigInt(100 + (this.options.gasMarginPercent ?? 25))) / 100n,
      call.minGas ?? 0n,
    )
    if (call.maxGas !== undefined && gas > call.maxGas) gas = call.maxGas
    const fees = await this.currentFees()
    const worst = gas * fees.maxFeePerGas

    const pending = await this.withLock(async () => {
      // Checked and reserved under the lock, so concurrent sends cannot overshoot the cap together.
      this.checkSpend(worst, undefined)
      for (let attempt = 0; ; attempt++) {
        this.throwIfStopped()
        if (this.nextNonce === undefined) {
          this.nextNonce = await this.client.getTransactionCount({
            address: this.account.address,
            blockTag: 'pending',
          })
        }
        const nonce = this.nextNonce
        const raw = await this.sign(nonce, call.address, data, gas, fees)
        const hash = keccak256(raw)
        const p: Pending = {
          nonce,
          to: call.address,
          data,
          gas,
          fees,
          hashes: [hash],
          raw,
          reservedWei: worst,
          label: call.label,
        }
        // Journal before broadcasting: a crash right after the broadcast still knows what to watch.
        this.reserved.set(nonce, worst)
        await this.journal?.putInflightL1Tx(toInflight(p))
        try {
          await this.broadcast(raw)
        } catch (err) {
          this.reserved.delete(nonce)
          await this.journal?.deleteInflightL1Tx(nonce)
          if (classifyError(err).kind === 'nonce' && attempt < 3) {
            this.nextNonce = undefined
            continue
          }
          throw err
        }
        this.nextNonce = nonce + 1
        this.logger.debug({ nonce, hash, label: call.label }, 'transaction sent')
        return p
      }
    })
    return this.waitMined(pending)
  }

  private async waitMined(p: Pending): Promise<TransactionReceipt> {
    let lastBroadcast = Date.now()
    let polls = 0
    let nonceUsedPolls = 0
    for (;;) {
      this.throwIfStopped()
      const receipt = await this.findReceipt(p.hashes)
      if (receipt !== undefined) return this.onMined(p, receipt)
      polls++
      if (polls % 5 === 0) {
        // Our nonce taken by a transaction we do not know about (e.g. sent before a crash and not journaled).
        const latest = await this.client.getTransactionCount({
          address: this.account.address,
          blockTag: 'latest',
        })
        nonceUsedPolls = latest > p.nonce ? nonceUsedPolls + 1 : 0
        if (nonceUsedPolls >= 3) {
          this.reserved.delete(p.nonce)
          await this.journal?.deleteInflightL1Tx(p.nonce)
          throw new BridgeError(
            'RELAYER_TX_LOST',
            `nonce ${p.nonce} was used by another transaction`,
            {
              details: { nonce: p.nonce, hashes: p.hashes },
            },
          )
        }
      }
      if (Date.now() - lastBroadcast >= this.options.stuckAfterMs) {
        await this.replace(p)
        lastBroadcast = Date.now()
      }
      await sleep(this.options.receiptPollMs, this.signal)
    }
  }

  /** Replaces a stuck transaction with higher fees (or re-broadcasts it if it cannot go higher). */
  private async replace(p: Pending): Promise<void> {
    const current = await this.currentFees().catch(() => p.fees)
    const bump = (v: bigint) => (v * BigInt(100 + this.options.bumpPercent)) / 100n + 1n
    let maxPriorityFeePerGas = max(bump(p.fees.maxPriorityFeePerGas), current.maxPriorityFeePerGas)
    let maxFeePerGas = max(bump(p.fees.maxFeePerGas), current.maxFeePerGas)
    const cap = this.options.maxFeePerGas
    if (cap !== undefined && maxFeePerGas > cap) maxFeePerGas = cap
    if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas
    const worst = p.gas * maxFeePerGas
    const canBump =
      maxFeePerGas > p.fees.maxFeePerGas &&
      maxPriorityFeePerGas > p.fees.maxPriorityFeePerGas &&
      this.fitsSpend(worst, p.nonce)
    if (!canBump) {
      this.logger.warn(
        { nonce: p.nonce, label: p.label },
        'transaction stuck and cannot be bumped further; re-broadcasting',
      )
      await this.broadcast(p.raw).catch(() => {})
      return
    }
    const fees = { maxFeePerGas, maxPriorityFeePerGas }
    const raw = await this.sign(p.nonce, p.to, p.data, p.gas, fees)
    const hash = keccak256(raw)
    const reservedWei = max(p.reservedWei, worst)
    this.reserved.set(p.nonce, reservedWei)
    await this.journal?.putInflightL1Tx(
      toInflight({ ...p, hashes: [...p.hashes, hash], raw, fees, reservedWei }),
    )
    try {
      await this.broadcast(raw)
    } catch (err) {
      const c = classifyError(err)
      if (c.kind === 'underpriced') {
        // The pool wants more: remember these fees so the next bump starts from them.
        p.fees = fees
        p.reservedWei = reservedWei
        this.logger.warn(
          { nonce: p.nonce, detail: c.detail },
          'replacement refused as underpriced; will bump again',
        )
        return
      }
      if (c.kind === 'nonce') return // a version was mined meanwhile: the receipt shows up on the next poll
      this.logger.warn({ nonce: p.nonce, kind: c.kind, detail: c.detail }, 'replacement failed')
      return
    }
    p.hashes.push(hash)
    p.raw = raw
    p.fees = fees
    p.reservedWei = reservedWei
    this.metrics?.replaced(this.options.chain)
    this.logger.info(
      { nonce: p.nonce, hash, label: p.label, maxFeePerGas: maxFeePerGas.toString() },
      'replaced a stuck transaction with higher fees',
    )
  }

  private async onMined(p: Pending, receipt: TransactionReceipt): Promise<TransactionReceipt> {
    this.reserved.delete(p.nonce)
    if (this.journal !== undefined) {
      const cost = receipt.gasUsed * receipt.effectiveGasPrice
      this.spentWei += cost
      const window = this.options.spendWindowMs
      const atMs = this.now()
      if (window !== undefined) this.windowLog.push({ atMs, wei: cost })
      await this.journal.recordL1Spend(
        this.spentWei,
        p.nonce,
        window === undefined ? undefined : { atMs, wei: cost, pruneBeforeMs: atMs - window },
      )
      this.metrics?.spent(this.options.chain, this.spentWei)
      this.metrics?.windowSpend?.(this.spentInWindow() + this.reservedWei)
    }
    if (receipt.status === 'success') return receipt
    if (receipt.gasUsed * 100n >= p.gas * 95n) {
      // Out of gas: state changed between the estimate and the block (e.g. this vote became the minting one).
      throw new BridgeError('RELAYER_OUT_OF_GAS', `${p.label} ran out of gas`, {
        details: {
          transactionHash: receipt.transactionHash,
          gas: p.gas.toString(),
          gasUsed: receipt.gasUsed.toString(),
        },
      })
    }
    const errorName = await this.revertReason(p, receipt.blockNumber)
    throw new BridgeError(
      'RELAYER_TX_REVERTED',
      `${p.label} reverted${errorName ? ` (${errorName})` : ''}`,
      {
        details: { transactionHash: receipt.transactionHash, errorName },
      },
    )
  }

  /** Replays the call on the state after its block to learn the custom error. */
  private async revertReason(p: Pending, blockNumber: bigint): Promise<string | undefined> {
    try {
      await this.client.call({ account: this.account, to: p.to, data: p.data, blockNumber })
      return undefined
    } catch (err) {
      return revertName(err)
    }
  }

  private async restore(tx: InflightL1Tx): Promise<Pending | undefined> {
    const receipt = await this.findReceipt(tx.hashes)
    const p: Pending = {
      nonce: tx.nonce,
      to: tx.to,
      data: tx.data,
      gas: tx.gas,
      fees: { maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas },
      hashes: [...tx.hashes],
      raw: tx.raw,
      reservedWei: tx.reservedWei,
      label: tx.label,
    }
    if (receipt !== undefined) {
      await this.onMined(p, receipt).catch(() => {})
      return undefined
    }
    const latest = await this.client.getTransactionCount({
      address: this.account.address,
      blockTag: 'latest',
    })
    if (latest > tx.nonce) {
      this.reserved.delete(tx.nonce)
      await this.journal?.deleteInflightL1Tx(tx.nonce)
      return undefined
    }
    return p
  }

  private async findReceipt(hashes: readonly Hash[]): Promise<TransactionReceipt | undefined> {
    for (let i = hashes.length - 1; i >= 0; i--) {
      try {
        return await this.client.getTransactionReceipt({ hash: hashes[i]! })
      } catch (err) {
        if (err instanceof TransactionReceiptNotFoundError) continue
        throw err
      }
    }
    return undefined
  }

  private async currentFees(): Promise<Fees> {
    const estimate = await this.client.estimateFeesPerGas()
    let maxFeePerGas = estimate.maxFeePerGas
    let maxPriorityFeePerGas = estimate.maxPriorityFeePerGas
    const cap = this.options.maxFeePerGas
    if (cap !== undefined && maxFeePerGas > cap) maxFeePerGas = cap
    if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas
    return { maxFeePerGas, maxPriorityFeePerGas }
  }

  private async sign(nonce: number, to: Address, data: Hex, gas: bigint, fees: Fees): Promise<Hex> {
    return this.account.signTransaction({
      type: 'eip1559',
      chainId: this.options.chainId,
      nonce,
      to,
      data,
      gas,
      value: 0n,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    })
  }

  private async broadcast(raw: Hex): Promise<void> {
    try {
      await this.client.request({ method: 'eth_sendRawTransaction', params: [raw] })
    } catch (err) {
      // The node has it already (a re-broadcast, or a response lost on the way back): that is success.
      if (isKnownTransaction(err)) return
      throw err
    }
  }

  /** What counts against the cap: the spend within the window, or the whole spend without a window. */
  spentInWindow(): bigint {
    const window = this.options.spendWindowMs
    if (window === undefined) return this.spentWei
    const since = this.now() - window
    while (this.windowLog.length > 0 && this.windowLog[0]!.atMs < since) this.windowLog.shift()
    let sum = 0n
    for (const e of this.windowLog) sum += e.wei
    return sum
  }

  private checkSpend(worst: bigint, nonce: number | undefined): void {
    if (!this.fitsSpend(worst, nonce)) {
      throw new BridgeError('RELAYER_SPEND_CAP', 'the L1 spend cap would be exceeded', {
        details: {
          capWei: this.options.spendCapWei?.toString(),
          windowMs: this.options.spendWindowMs,
          spentInWindowWei: this.spentInWindow().toString(),
          spentWei: this.spentWei.toString(),
          reservedWei: this.reservedWei.toString(),
          neededWei: worst.toString(),
        },
      })
    }
  }

  private fitsSpend(worst: bigint, nonce: number | undefined): boolean {
    const cap = this.options.spendCapWei
    if (cap === undefined) return true
    const others = this.reservedWei - (nonce === undefined ? 0n : (this.reserved.get(nonce) ?? 0n))
    return this.spentInWindow() + others + worst <= cap
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn)
    this.lock = run.catch(() => {})
    return run
  }

  private throwIfStopped(): void {
    if (this.signal.aborted) throw new BridgeError('RELAYER_STOPPED', 'relayer is stopping')
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b
}

/** Resolves after `ms`, or rejects with RELAYER_STOPPED when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new BridgeError('RELAYER_STOPPED', 'relayer is stopping'))
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new BridgeError('RELAYER_STOPPED', 'relayer is stopping'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
