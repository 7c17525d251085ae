/**
 * Accounts at the head, kept across heads for the pool: it reads the account of every
 * sender on admission and again after each block. A fresh state view per head started
 * cold and walked the trie for nearly every read (~2% of a validator's CPU under load).
 *
 * An entry is the head's value: each import applies the accounts its block wrote (the
 * executor's flush list), so an entry only changes with a block that changes it. A block
 * whose writes are not known clears everything. Reads that raced an import are not kept
 * (the ledger checks the head did not move). Bounded; the oldest write goes first.
 */
import { type Account, createAccountFromRLP } from '@ethereumjs/util'
import { copyAccount } from '../execution/upstream/index.ts'
import { setRecent } from '../util/recent-map.ts'

export class HeadAccounts {
  /** Unprefixed address hex to the account, its RLP (decoded on first use), or null (none). */
  private readonly entries = new Map<string, Account | Uint8Array | null>()
  private readonly maxEntries: number

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries
  }

  get size(): number {
    return this.entries.size
  }

  /** A copy of the account, null if it does not exist, undefined if not known here. */
  get(addressHex: string): Account | null | undefined {
    let entry = this.entries.get(addressHex)
    if (entry === undefined || entry === null) return entry
    if (entry instanceof Uint8Array) {
      entry = createAccountFromRLP(entry)
      this.entries.set(addressHex, entry)
    }
    return copyAccount(entry)
  }

  /** Keeps what was read at the current head. */
  set(addressHex: string, account: Account | undefined): void {
    this.write(addressHex, account === undefined ? null : copyAccount(account))
  }

  /** A new head: the accounts its block wrote, or undefined when they are not known. */
  applyBlock(changed: ReadonlyMap<string, Uint8Array | null> | undefined): void {
    if (changed === undefined) {
      this.entries.clear()
      return
    }
    for (const [addressHex, rlp] of changed) this.write(addressHex, rlp)
  }

  private write(addressHex: string, entry: Account | Uint8Array | null): void {
    setRecent(this.entries, addressHex, entry, this.maxEntries)
  }
}
