/**
 * A ChainDb whose block writes a test can hold (a sync that takes long: LevelDB makes a
 * synced batch readable only after the sync, so a held write is not readable either) or
 * fail (a full or broken disk). Handed to a node through `NodeModules.createChainDb`; a
 * normal run has no way to reach it.
 */
import { SidechainError } from '../../chain/lib/errors.ts'
import { type BlockWrite, ChainDb } from '../../chain/storage/chain-db.ts'

export class FaultyChainDb extends ChainDb {
  /** Block numbers of every write attempt, in order. */
  readonly attempts: bigint[] = []
  /** Block numbers written (synced). */
  readonly written: bigint[] = []
  /** While true, every block write fails with STORAGE_WRITE_FAILED. */
  failWrites = false
  private holdFrom: bigint | undefined
  private held: { promise: Promise<void>; resolve: () => void } | undefined
  private readonly waiting: bigint[] = []

  /** Holds writes of block `number` and later until `release()`. */
  holdWritesFrom(number: bigint): void {
    this.holdFrom = number
    if (this.held !== undefined) return
    let resolve = () => {}
    const promise = new Promise<void>((r) => {
      resolve = r
    })
    this.held = { promise, resolve }
  }

  /** Lets held writes go on to the disk. */
  release(): void {
    this.holdFrom = undefined
    const held = this.held
    this.held = undefined
    held?.resolve()
  }

  /** Block numbers whose write is being held right now. */
  get holding(): readonly bigint[] {
    return this.waiting
  }

  override async write(block: BlockWrite): Promise<void> {
    this.attempts.push(block.number)
    if (this.holdFrom !== undefined && block.number >= this.holdFrom && this.held !== undefined) {
      this.waiting.push(block.number)
      await this.held.promise
      this.waiting.splice(this.waiting.indexOf(block.number), 1)
    }
    if (this.failWrites) {
      throw new SidechainError(
        'STORAGE_WRITE_FAILED',
        `writing block ${block.number} failed: injected fault`,
      )
    }
    await super.write(block)
    this.written.push(block.number)
  }
}
