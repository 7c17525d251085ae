/**
 * L1 -> sidechain. `scan` reads `Deposited` logs of the vault only, up to the last block with the configured
 * confirmations (or the `finalized` block), keeps only logs that `verifyDepositLogs` believes, takes deposit ids
 * gap-free, cross-checks the count with the vault's `depositCount` at the newest confirmed block (never at an old
 * one: pruned L1 nodes have no state there), and journals the deposits with
 * the cursor in one batch. `dispatch` then votes for each journaled deposit on the sidechain, after checking the
 * contract (minted? already voted?), and forgets it once it is minted.
 */
import {
  type Address,
  getAbiItem,
  type Hash,
  type PublicClient,
  parseEventLogs,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  zeroAddress,
  zeroHash,
} from 'viem'
import type { Logger } from '../../chain/lib/logger.ts'
import { takeContiguous, verifyDepositLogs } from '../core/deposits.ts'
import { BridgeError } from '../core/errors.ts'
import {
  bridgeVaultAbi,
  type DepositSource,
  depositPayloadHash,
  sidechainBridgeAbi,
} from '../deploy/index.ts'
import type { DepositRecord, RelayerJournal, ScanCursor } from '../journal/journal.ts'
import type { CrashHook } from './crash-hook.ts'
import type { ItemRunner } from './item-runner.ts'
import type { RelayerMetrics } from './metrics.ts'
import type { TxSender } from './tx-sender.ts'

export interface DepositPipelineOptions {
  vault: Address
  /** Chain id of L1 (part of the deposit payload the bridge mints). */
  l1ChainId: number
  bridge: Address
  confirmations: number | 'finalized'
  startBlock: bigint
  maxBlockRange: bigint
  /** Ranges scanned per call at most (catching up is spread over ticks). */
  maxRangesPerScan?: number
}

export interface DepositPipelineModules {
  l1: PublicClient
  /** A second, independent L1 endpoint (config `l1.secondRpcUrl`): its receipt must agree before a vote. */
  l1Second?: PublicClient
  sidechain: PublicClient
  sender: TxSender
  journal: RelayerJournal
  metrics: RelayerMetrics
  logger: Logger
  crash: CrashHook
}

const depositedEvent = getAbiItem({ abi: bridgeVaultAbi, name: 'Deposited' })

/** Gas floors of a confirmation that mints: with the wrapped token's deployment, and without; both include a gas drop
 * to a new account (the bridge refuses to try a drop with less than `GAS_DROP_MIN_GAS` left). */
export const FIRST_MINT_GAS = 2_000_000n
export const MINT_GAS = 350_000n

export class DepositPipeline {
  private readonly options: DepositPipelineOptions
  private readonly m: DepositPipelineModules
  private cursor: ScanCursor | undefined
  private readonly pending = new Map<bigint, DepositRecord>()
  /** Set when L1 turned out to have reorganized below the confirmations: nothing is scanned or voted until an
   * operator restarts the relayer (which finds the same mismatch again unless L1 or the journal changed). */
  private halted: BridgeError | undefined

  constructor(options: DepositPipelineOptions, modules: DepositPipelineModules) {
    this.options = options
    this.m = modules
  }

  private get source(): DepositSource {
    return { l1ChainId: this.options.l1ChainId, vault: this.options.vault }
  }

  async load(): Promise<void> {
    this.cursor = (await this.m.journal.getCursor('l1')) ?? {
      nextBlock: this.options.startBlock,
      nextId: 0n,
    }
    for (const d of await this.m.journal.pendingDeposits()) this.pending.set(d.depositId, d)
    this.m.metrics.pendingDeposits.set(this.pending.size)
    this.m.metrics.lastScannedBlock.set({ chain: 'l1' }, Number(this.cursor.nextBlock - 1n))
  }

  get pendingCount(): number {
    return this.pending.size
  }

  get scanCursor(): ScanCursor | undefined {
    return this.cursor
  }

  /** Why L1 processing is halted, if it is. */
  get haltReason(): string | undefined {
    return this.halted?.message
  }

  /** Scans newly confirmed L1 blocks into the journal. */
  async scan(): Promise<void> {
    if (this.halted !== undefined) throw this.halted
    const { l1 } = this.m
    const safe = await this.safeBlock()
    this.m.metrics.scanTargetBlock.set({ chain: 'l1' }, Number(safe))
    for (let i = 0; i < (this.options.maxRangesPerScan ?? 10); i++) {
      const cursor = this.cursor!
      if (safe < cursor.nextBlock) return
      await this.checkDeepReorg(cursor)
      const from = cursor.nextBlock
      const to = min(safe, from + this.options.maxBlockRange - 1n)
      const logs = await l1.getLogs({
        address: this.options.vault,
        event: depositedEvent,
        fromBlock: from,
        toBlock: to,
      })
      const receipts = new Map<string, TransactionReceipt | undefined>()
      await Promise.all(
        [...new Set(logs.map((l) => l.transactionHash))].map(async (hash) => {
          receipts.set(
            hash.toLowerCase(),
            await l1.getTransactionReceipt({ hash }).catch(() => undefined),
          )
        }),
      )
      const verdict = verifyDepositLogs({ vault: this.options.vault, logs, receipts })
      for (const r of verdict.rejected) {
        this.m.metrics.errors.inc({ kind: 'rejected-log' })
        this.m.logger.warn(
          {
            reason: r.reason,
            address: r.log.address,
            tx: r.log.transactionHash,
            block: r.log.blockNumber?.toString(),
          },
          'ignored a Deposited log',
        )
      }
      if (verdict.retry !== undefined) {
        throw new BridgeError(
          'RELAYER_INCONSISTENT_VIEW',
          `L1 view changed while scanning: ${verdict.retry}`,
        )
      }
      const taken = takeContiguous(verdict.deposits, cursor.nextId)
      let nextBlock = to + 1n
      let missing = taken.missing
      // The count is read only at the newest confirmed block: any L1 node keeps recent state, but one that prunes
      // (geth keeps 128 blocks) cannot answer for an old block, and a relayer catching up would never move again.
      // While catching up, ids are checked by contiguity alone; a log the endpoint lost at the end of an old range
      // shows up as a gap before the next id (handled below) or at the newest range by this count.
      if (missing === undefined && to === safe) {
        const count = await l1.readContract({
          address: this.options.vault,
          abi: bridgeVaultAbi,
          functionName: 'depositCount',
          blockNumber: to,
        })
        if (count > taken.nextId) missing = taken.nextId
        else if (count < taken.nextId) {
          // Ids this relayer already took are gone from L1: only a reorg deeper than the confirmations does that.
          // Scanning stops here (nothing after can be matched to the right id) until an operator looks at it.
          this.halt(
            'RELAYER_DEEP_REORG',
            `L1 vault has ${count} deposits at block ${to}, fewer than the ${taken.nextId} this relayer has taken: a reorg deeper than the configured confirmations; L1 scanning is halted`,
            {
              depositCount: count.toString(),
              taken: taken.nextId.toString(),
              block: to.toString(),
            },
          )
        }
      }
      let lastBlockHash: Hash | undefined
      if (missing !== undefined) {
        // Never skip an id: keep what is contiguous and rescan from the block of the last one taken. A gap before
        // the first log of this range (a later id was seen, none taken) means the missing log is in an earlier
        // range: step back one range, ids already taken are skipped on the way.
        const lastTaken = taken.accepted.at(-1)?.blockNumber
        const gapBefore = taken.missing !== undefined && lastTaken === undefined
        nextBlock =
          lastTaken ??
          (gapBefore ? max(this.options.startBlock, from - this.options.maxBlockRange) : from)
        this.m.metrics.errors.inc({ kind: 'gap' })
        this.m.logger.warn(
          {
            missingDepositId: missing.toString(),
            fromBlock: from.toString(),
            toBlock: to.toString(),
          },
          'deposit id missing from the logs; stopping before it and retrying',
        )
      } else {
        lastBlockHash = (await l1.getBlock({ blockNumber: to })).hash
      }
      const records: DepositRecord[] = taken.accepted.map((d) => ({ ...d, state: 'pending' }))
      const next: ScanCursor = { nextBlock, nextId: taken.nextId, lastBlockHash }
      await this.m.journal.recordDeposits(records, next)
      this.cursor = next
      for (const r of records) {
        this.pending.set(r.depositId, r)
        this.m.logger.info(
          {
            depositId: r.depositId.toString(),
            token: r.token,
            to: r.to,
            amount: r.amount.toString(),
            l1Tx: r.transactionHash,
            l1Block: r.blockNumber.toString(),
          },
          'deposit confirmed on L1',
        )
      }
      this.m.metrics.pendingDeposits.set(this.pending.size)
      this.m.metrics.lastScannedBlock.set({ chain: 'l1' }, Number(nextBlock - 1n))
      if (missing !== undefined || to >= safe) return
    }
  }

  /** Starts (or continues) the sidechain work of every journaled deposit. */
  dispatch(runner: ItemRunner): void {
    if (this.halted !== undefined) return
    for (const record of this.pending.values()) {
      runner.run(`deposit:${record.depositId}`, () => this.confirm(record.depositId))
    }
  }

  private async confirm(depositId: bigint): Promise<void> {
    const record = this.pending.get(depositId)
    if (record === undefined) return
    const { sidechain } = this.m
    const bridge = this.options.bridge
    const payload = depositPayloadHash(this.source, record)
    const minted = await sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'mintedPayload',
      args: [depositId],
    })
    if (minted !== zeroHash) {
      if (minted !== payload) throw this.conflict(record, minted, 'minted')
      return this.complete(record)
    }
    const myVote = await sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'voteOf',
      args: [depositId, this.m.sender.address],
    })
    if (myVote === payload) {
      if (record.state !== 'voted') await this.update({ ...record, state: 'voted' })
      return
    }
    if (myVote !== zeroHash) throw this.conflict(record, myVote, 'voted')

    await this.checkStillOnL1(record)
    await this.checkSecondSource(record)
    // Any vote may turn out to be the minting one (votes of other relayers land first), and the first mint of
    // a token also deploys its wrapped token: never send less gas than that path needs.
    const wrapped = await sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'wrappedTokenOf',
      args: [record.token],
    })
    const receipt = await this.m.sender.send({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'confirmDeposit',
      args: [depositId, record.token, record.to, record.amount],
      label: `confirmDeposit(${depositId})`,
      minGas: wrapped === zeroAddress ? FIRST_MINT_GAS : MINT_GAS,
    })
    this.m.crash('after-confirm')
    this.m.metrics.depositsConfirmed.inc()
    const mintedNow = parseEventLogs({
      abi: sidechainBridgeAbi,
      eventName: 'DepositMinted',
      logs: receipt.logs,
    }).some((l) => l.args.depositId === depositId)
    this.m.logger.info(
      { depositId: depositId.toString(), tx: receipt.transactionHash, minted: mintedNow },
      'deposit confirmed on the sidechain',
    )
    if (mintedNow) return this.complete(record)
    await this.update({ ...record, state: 'voted', voteTx: receipt.transactionHash })
  }

  private async update(record: DepositRecord): Promise<void> {
    await this.m.journal.updateDeposit(record)
    this.pending.set(record.depositId, record)
  }

  private async complete(record: DepositRecord): Promise<void> {
    await this.m.journal.completeDeposit(record.depositId)
    this.pending.delete(record.depositId)
    this.m.metrics.pendingDeposits.set(this.pending.size)
    this.m.logger.info({ depositId: record.depositId.toString() }, 'deposit minted')
  }

  private conflict(record: DepositRecord, found: Hash, what: string): BridgeError {
    return new BridgeError(
      'RELAYER_PAYLOAD_CONFLICT',
      `deposit ${record.depositId}: the sidechain has ${what} a different payload than L1 shows`,
      {
        details: {
          depositId: record.depositId.toString(),
          expected: depositPayloadHash(this.source, record),
          found,
        },
      },
    )
  }

  private async safeBlock(): Promise<bigint> {
    if (this.options.confirmations === 'finalized') {
      return (await this.m.l1.getBlock({ blockTag: 'finalized' })).number
    }
    const latest = await this.m.l1.getBlockNumber({ cacheTime: 0 })
    return latest - BigInt(this.options.confirmations) + 1n
  }

  /**
   * The last scanned block must still be canonical. If it is not, L1 reorganized deeper than the confirmations
   * after the scan: deposits journaled from the orphaned blocks may not exist any more (or exist with another
   * payload under the same id), so everything stops. The stored hash is kept, so a restart halts again.
   */
  private async checkDeepReorg(cursor: ScanCursor): Promise<void> {
    if (cursor.lastBlockHash === undefined || cursor.nextBlock === 0n) return
    const block = await this.m.l1.getBlock({ blockNumber: cursor.nextBlock - 1n })
    if (block.hash === cursor.lastBlockHash) return
    this.halt(
      'RELAYER_DEEP_REORG',
      `L1 block ${cursor.nextBlock - 1n} changed after it was scanned (a reorg deeper than the configured confirmations); L1 processing is halted`,
      { block: (cursor.nextBlock - 1n).toString(), scanned: cursor.lastBlockHash, now: block.hash },
    )
  }

  /**
   * Right before voting: the deposit's transaction is still in the block it was journaled from, succeeded, and
   * holds the same `Deposited` log. Anything else means a reorg deeper than the confirmations, and halts.
   */
  private async checkStillOnL1(record: DepositRecord): Promise<void> {
    const receipt = await this.m.l1
      .getTransactionReceipt({ hash: record.transactionHash })
      .catch((err: unknown) => {
        if (err instanceof TransactionReceiptNotFoundError) return undefined
        throw err
      })
    if (receipt === undefined) {
      // A missing receipt alone proves nothing (a lagging or load-balanced endpoint): only a
      // different block at the journaled height is evidence of a reorg. Otherwise try again.
      const block = await this.m.l1.getBlock({ blockNumber: record.blockNumber })
      if (block.hash === record.blockHash) {
        throw new BridgeError(
          'RELAYER_INCONSISTENT_VIEW',
          `deposit ${record.depositId}: L1 has its block but not its receipt (a lagging endpoint); retrying`,
        )
      }
    }
    const verdict =
      receipt === undefined
        ? undefined
        : verifyDepositLogs({
            vault: this.options.vault,
            logs: receipt.logs.filter((l) => l.logIndex === record.logIndex),
            receipts: new Map([[record.transactionHash.toLowerCase(), receipt]]),
          })
    const found = verdict?.deposits.find((d) => d.depositId === record.depositId)
    const same =
      found !== undefined &&
      found.blockHash === record.blockHash &&
      depositPayloadHash(this.source, found) === depositPayloadHash(this.source, record)
    if (same) return
    this.halt(
      'RELAYER_DEEP_REORG',
      `deposit ${record.depositId} is no longer on L1 as journaled (a reorg deeper than the configured confirmations); L1 processing is halted`,
      {
        depositId: record.depositId.toString(),
        transactionHash: record.transactionHash,
        journaledBlock: record.blockHash,
        foundBlock: receipt?.blockHash,
      },
    )
  }

  /**
   * With a second L1 endpoint configured, it must show the same deposit (successful receipt,
   * same block, same log, same payload) before the vote: one lying or compromised endpoint
   * then cannot get a deposit minted. A disagreement is retried, never voted.
   */
  private async checkSecondSource(record: DepositRecord): Promise<void> {
    const second = this.m.l1Second
    if (second === undefined) return
    const receipt = await second
      .getTransactionReceipt({ hash: record.transactionHash })
      .catch((err: unknown) => {
        if (err instanceof TransactionReceiptNotFoundError) return undefined
        throw err
      })
    const found =
      receipt === undefined
        ? undefined
        : verifyDepositLogs({
            vault: this.options.vault,
            logs: receipt.logs.filter((l) => l.logIndex === record.logIndex),
            receipts: new Map([[record.transactionHash.toLowerCase(), receipt]]),
          }).deposits.find((d) => d.depositId === record.depositId)
    if (
      found !== undefined &&
      found.blockHash === record.blockHash &&
      depositPayloadHash(this.source, found) === depositPayloadHash(this.source, record)
    ) {
      return
    }
    this.m.metrics.verificationRefusals.inc({ code: 'RELAYER_L1_SOURCES_DISAGREE' })
    throw new BridgeError(
      'RELAYER_L1_SOURCES_DISAGREE',
      `deposit ${record.depositId}: the second L1 endpoint does not show it as the first one does; not voting`,
      {
        details: {
          depositId: record.depositId.toString(),
          transactionHash: record.transactionHash,
          block: record.blockHash,
          secondBlock: receipt?.blockHash,
          secondHasDeposit: found !== undefined,
        },
      },
    )
  }

  private halt(
    code: 'RELAYER_DEEP_REORG',
    message: string,
    details: Record<string, unknown>,
  ): never {
    const err = new BridgeError(code, message, { details })
    if (this.halted === undefined) {
      this.halted = err
      this.m.metrics.errors.inc({ kind: 'deep-reorg' })
      this.m.metrics.l1Halted.set(1)
      this.m.logger.error({ ...details, code }, message)
    }
    throw err
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b
}
