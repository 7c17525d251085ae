/**
 * The relayer's durable memory, in classic-level: scan cursors, the deposits and withdrawals it still has work on,
 * the signatures it ever made, and its L1 gas spend. The contracts stay the source of truth (every action checks
 * chain state first); the journal makes sure nothing observed is forgotten across a crash and that this relayer
 * never signs two different payloads for one withdrawal id.
 *
 * Writes that must survive a power loss before something leaves the process (a new signature, cursor advances)
 * use LevelDB's synchronous writes. One relayer per datadir: LevelDB's lock refuses a second process.
 */
import { ClassicLevel } from 'classic-level'
import type { Address, Hash, Hex } from 'viem'
import { BridgeError } from '../core/errors.ts'

export interface ScanCursor {
  /** Next block to scan. */
  nextBlock: bigint
  /** Next id expected (deposit id on L1, withdrawal id on the sidechain). */
  nextId: bigint
  /** Hash of block `nextBlock - 1` when it was scanned (detects reorgs deeper than the confirmations). */
  lastBlockHash?: Hash
}

export type DepositState = 'pending' | 'voted'

export interface DepositRecord {
  depositId: bigint
  token: Address
  from: Address
  to: Address
  amount: bigint
  blockNumber: bigint
  blockHash: Hash
  transactionHash: Hash
  logIndex: number
  /** pending: not voted yet; voted: our vote is on the sidechain, waiting for the mint. */
  state: DepositState
  voteTx?: Hash
}

export interface WithdrawalPayload {
  token: Address
  recipient: Address
  amount: bigint
}

export interface WithdrawalRecord extends WithdrawalPayload {
  withdrawalId: bigint
  /** Sidechain block where it was first seen. */
  seenAtBlock: bigint
}

export interface SignatureRecord extends WithdrawalPayload {
  withdrawalId: bigint
  /** L1 signer epoch (decimal string) -> signature made for it. */
  byEpoch: Record<string, { signature: Hex; digest: Hash }>
}

/** An L1 transaction broadcast but not seen mined yet: enough to watch it, and to re-sign it with higher fees. */
export interface InflightL1Tx {
  nonce: number
  label: string
  to: Address
  data: Hex
  gas: bigint
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
  /** Every version broadcast for this nonce, newest last. */
  hashes: Hash[]
  /** Newest signed version. */
  raw: Hex
  /** Largest cost any of the versions could have (gas limit x max fee), counted against the cap until mined. */
  reservedWei: bigint
}

const INFLIGHT_BIGINTS = ['gas', 'maxFeePerGas', 'maxPriorityFeePerGas', 'reservedWei'] as const

const KEY = {
  cursor: (chain: 'l1' | 'sidechain') => `cursor/${chain}`,
  deposit: (id: bigint) => `deposit/${idKey(id)}`,
  withdrawal: (id: bigint) => `withdrawal/${idKey(id)}`,
  signature: (id: bigint) => `signature/${idKey(id)}`,
  spend: 'spend/l1',
  spendLog: (atMs: number, nonce: number) =>
    `spendlog/${atMs.toString().padStart(16, '0')}/${nonce.toString().padStart(20, '0')}`,
  l1tx: (nonce: number) => `l1tx/${nonce.toString().padStart(20, '0')}`,
}

function idKey(id: bigint): string {
  return id.toString(16).padStart(64, '0')
}

const SYNC = { sync: true } as const

export class RelayerJournal {
  readonly path: string
  private readonly db: ClassicLevel<string, string>
  private signing: Promise<unknown> = Promise.resolve()

  constructor(path: string) {
    this.path = path
    this.db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  }

  async open(): Promise<void> {
    try {
      await this.db.open()
    } catch (cause) {
      const locked = /lock/i.test(String((cause as { cause?: unknown }).cause ?? cause))
      throw new BridgeError(
        'RELAYER_CONFIG_INVALID',
        locked
          ? `datadir ${this.path} is in use by another relayer process`
          : `cannot open the relayer journal at ${this.path}`,
        { cause },
      )
    }
  }

  async close(): Promise<void> {
    await this.db.close()
  }

  // ----------------------------------------------------------------------------------------------- cursors

  async getCursor(chain: 'l1' | 'sidechain'): Promise<ScanCursor | undefined> {
    const raw = await this.db.get(KEY.cursor(chain))
    if (raw === undefined) return undefined
    const v = JSON.parse(raw) as { nextBlock: string; nextId: string; lastBlockHash?: Hash }
    return {
      nextBlock: BigInt(v.nextBlock),
      nextId: BigInt(v.nextId),
      lastBlockHash: v.lastBlockHash,
    }
  }

  /** Records newly observed deposits and the cursor past them in one atomic, synchronous batch. */
  async recordDeposits(deposits: readonly DepositRecord[], cursor: ScanCursor): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: string }> = deposits.map((d) => ({
      type: 'put',
      key: KEY.deposit(d.depositId),
      value: encodeDeposit(d),
    }))
    ops.push({ type: 'put', key: KEY.cursor('l1'), value: encodeCursor(cursor) })
    await this.db.batch(ops, SYNC)
  }

  /** Records newly observed withdrawals and the cursor past them in one atomic, synchronous batch. */
  async recordWithdrawals(
    withdrawals: readonly WithdrawalRecord[],
    cursor: ScanCursor,
  ): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: string }> = withdrawals.map((w) => ({
      type: 'put',
      key: KEY.withdrawal(w.withdrawalId),
      value: encodeWithdrawal(w),
    }))
    ops.push({ type: 'put', key: KEY.cursor('sidechain'), value: encodeCursor(cursor) })
    await this.db.batch(ops, SYNC)
  }

  // --------------------------------------------------------------------------------------------- deposits

  async pendingDeposits(): Promise<DepositRecord[]> {
    const out: DepositRecord[] = []
    for await (const value of this.db.values({ gte: 'deposit/', lt: 'deposit0' })) {
      out.push(decodeDeposit(value))
    }
    return out
  }

  async updateDeposit(record: DepositRecord): Promise<void> {
    await this.db.put(KEY.deposit(record.depositId), encodeDeposit(record))
  }

  /** The deposit is minted: nothing left to do for it. */
  async completeDeposit(depositId: bigint): Promise<void> {
    await this.db.del(KEY.deposit(depositId))
  }

  // ------------------------------------------------------------------------------------------ withdrawals

  async pendingWithdrawals(): Promise<WithdrawalRecord[]> {
    const out: WithdrawalRecord[] = []
    for await (const value of this.db.values({ gte: 'withdrawal/', lt: 'withdrawal0' })) {
      out.push(decodeWithdrawal(value))
    }
    return out
  }

  /** The withdrawal is released on L1: nothing left to do for it. Its signature record stays forever. */
  async completeWithdrawal(withdrawalId: bigint): Promise<void> {
    await this.db.del(KEY.withdrawal(withdrawalId))
  }

  // ------------------------------------------------------------------------------------------- signatures

  async getSignature(withdrawalId: bigint): Promise<SignatureRecord | undefined> {
    const raw = await this.db.get(KEY.signature(withdrawalId))
    return raw === undefined ? undefined : decodeSignature(raw)
  }

  /**
   * Returns this relayer's signature of withdrawal `withdrawalId` for L1 signer epoch `epoch`, making it with
   * `sign` only if none exists, and persisting it (synchronously) BEFORE returning it, so a signature can never
   * leave the process unrecorded. Refuses (RELAYER_PAYLOAD_CONFLICT) if a signature was ever made for this id
   * with a different token, recipient or amount: one id, one payload. A later epoch of the same payload may be
   * signed (signer rotation); the vault's `processed` flag keeps the id single-use across epochs.
   */
  async signOnce(
    withdrawalId: bigint,
    payload: WithdrawalPayload,
    epoch: bigint,
    digest: Hash,
    sign: () => Promise<Hex>,
  ): Promise<{ signature: Hex; fresh: boolean }> {
    // Serialized: check-sign-persist is one step even if two callers race for the same id.
    const run = this.signing.then(async () => {
      const existing = await this.getSignature(withdrawalId)
      if (existing !== undefined && !samePayload(existing, payload)) {
        throw new BridgeError(
          'RELAYER_PAYLOAD_CONFLICT',
          `refusing to sign withdrawal ${withdrawalId}: a different payload was signed for this id before`,
          {
            details: {
              withdrawalId: withdrawalId.toString(),
              signed: payloadJson(existing),
              requested: payloadJson(payload),
            },
          },
        )
      }
      const previous = existing?.byEpoch[epoch.toString()]
      if (previous !== undefined) {
        if (previous.digest !== digest) {
          throw new BridgeError(
            'RELAYER_PAYLOAD_CONFLICT',
            `refusing to sign withdrawal ${withdrawalId}: epoch ${epoch} was signed with another digest`,
            {
              details: {
                withdrawalId: withdrawalId.toString(),
                signed: previous.digest,
                requested: digest,
              },
            },
          )
        }
        return { signature: previous.signature, fresh: false }
      }
      const signature = await sign()
      const record: SignatureRecord = {
        withdrawalId,
        token: payload.token,
        recipient: payload.recipient,
        amount: payload.amount,
        byEpoch: { ...(existing?.byEpoch ?? {}), [epoch.toString()]: { signature, digest } },
      }
      await this.db.put(KEY.signature(withdrawalId), encodeSignature(record), SYNC)
      return { signature, fresh: true }
    })
    this.signing = run.catch(() => {})
    return run
  }

  // -------------------------------------------------------------------------------------------- L1 spend

  async getSpentWei(): Promise<bigint> {
    const raw = await this.db.get(KEY.spend)
    return raw === undefined ? 0n : BigInt(raw)
  }

  /**
   * Stores the new spend total after a mined L1 transaction and forgets it as in flight, atomically. `entry` (the
   * cost of this transaction and when it was mined) goes into the spend log that the per-window cap sums; entries
   * older than `pruneBeforeMs` are dropped in the same batch.
   */
  async recordL1Spend(
    totalWei: bigint,
    nonce?: number,
    entry?: { atMs: number; wei: bigint; pruneBeforeMs?: number },
  ): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }> = [
      { type: 'put', key: KEY.spend, value: totalWei.toString() },
    ]
    if (nonce !== undefined) ops.push({ type: 'del', key: KEY.l1tx(nonce) })
    if (entry !== undefined) {
      ops.push({
        type: 'put',
        key: KEY.spendLog(entry.atMs, nonce ?? 0),
        value: entry.wei.toString(),
      })
      if (entry.pruneBeforeMs !== undefined) {
        for await (const key of this.db.keys({
          gte: 'spendlog/',
          lt: KEY.spendLog(entry.pruneBeforeMs, 0),
        })) {
          ops.push({ type: 'del', key })
        }
      }
    }
    await this.db.batch(ops, SYNC)
  }

  /** L1 spend log entries mined at or after `sinceMs`, oldest first. */
  async l1SpendSince(sinceMs: number): Promise<Array<{ atMs: number; wei: bigint }>> {
    const out: Array<{ atMs: number; wei: bigint }> = []
    for await (const [key, value] of this.db.iterator({
      gte: KEY.spendLog(sinceMs, 0),
      lt: 'spendlog0',
    })) {
      out.push({ atMs: Number(key.split('/')[1]), wei: BigInt(value) })
    }
    return out
  }

  async putInflightL1Tx(tx: InflightL1Tx): Promise<void> {
    const json: Record<string, unknown> = { ...tx }
    for (const k of INFLIGHT_BIGINTS) json[k] = tx[k].toString()
    await this.db.put(KEY.l1tx(tx.nonce), JSON.stringify(json), SYNC)
  }

  async deleteInflightL1Tx(nonce: number): Promise<void> {
    await this.db.del(KEY.l1tx(nonce), SYNC)
  }

  async inflightL1Txs(): Promise<InflightL1Tx[]> {
    const out: InflightL1Tx[] = []
    for await (const value of this.db.values({ gte: 'l1tx/', lt: 'l1tx0' })) {
      const v = JSON.parse(value) as Record<string, unknown>
      for (const k of INFLIGHT_BIGINTS) v[k] = BigInt(v[k] as string)
      out.push(v as unknown as InflightL1Tx)
    }
    return out
  }
}

function samePayload(a: WithdrawalPayload, b: WithdrawalPayload): boolean {
  return (
    a.token.toLowerCase() === b.token.toLowerCase() &&
    a.recipient.toLowerCase() === b.recipient.toLowerCase() &&
    a.amount === b.amount
  )
}

function payloadJson(p: WithdrawalPayload) {
  return { token: p.token, recipient: p.recipient, amount: p.amount.toString() }
}

function encodeCursor(c: ScanCursor): string {
  return JSON.stringify({
    nextBlock: c.nextBlock.toString(),
    nextId: c.nextId.toString(),
    lastBlockHash: c.lastBlockHash,
  })
}

function encodeDeposit(d: DepositRecord): string {
  return JSON.stringify({
    ...d,
    depositId: d.depositId.toString(),
    amount: d.amount.toString(),
    blockNumber: d.blockNumber.toString(),
  })
}

function decodeDeposit(raw: string): DepositRecord {
  const v = JSON.parse(raw) as DepositRecord & {
    depositId: string
    amount: string
    blockNumber: string
  }
  return {
    ...v,
    depositId: BigInt(v.depositId),
    amount: BigInt(v.amount),
    blockNumber: BigInt(v.blockNumber),
  }
}

function encodeWithdrawal(w: WithdrawalRecord): string {
  return JSON.stringify({
    ...w,
    withdrawalId: w.withdrawalId.toString(),
    amount: w.amount.toString(),
    seenAtBlock: w.seenAtBlock.toString(),
  })
}

function decodeWithdrawal(raw: string): WithdrawalRecord {
  const v = JSON.parse(raw) as WithdrawalRecord & {
    withdrawalId: string
    amount: string
    seenAtBlock: string
  }
  return {
    ...v,
    withdrawalId: BigInt(v.withdrawalId),
    amount: BigInt(v.amount),
    seenAtBlock: BigInt(v.seenAtBlock),
  }
}

function encodeSignature(s: SignatureRecord): string {
  return JSON.stringify({
    ...s,
    withdrawalId: s.withdrawalId.toString(),
    amount: s.amount.toString(),
  })
}

function decodeSignature(raw: string): SignatureRecord {
  const v = JSON.parse(raw) as SignatureRecord & { withdrawalId: string; amount: string }
  return { ...v, withdrawalId: BigInt(v.withdrawalId), amount: BigInt(v.amount) }
}
