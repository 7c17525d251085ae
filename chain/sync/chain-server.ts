/**
 * Serves our chain to peers over the request/response protocols: our status and block
 * chunks (block + the seals that finalize it) read from the ledger.
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { ChainStatus } from '../p2p/messages.ts'
import type { ChainServer } from '../p2p/reqresp.ts'
import { type BlockCommitLike, encodeBlockMessage } from './validation.ts'

/** The ledger reads this needs (the Ledger implements them). */
export interface ServedChain {
  readonly head: BlockHeader
  readonly genesisHash: Uint8Array
  readonly chainId: bigint
  getBlockByNumber(number: bigint): Promise<Block | undefined>
  getCommit(hash: Uint8Array): Promise<BlockCommitLike | undefined>
}

export class LedgerChainServer implements ChainServer {
  private readonly chain: ServedChain

  constructor(chain: ServedChain) {
    this.chain = chain
  }

  localStatus(): ChainStatus {
    const head = this.chain.head
    return {
      chainId: this.chain.chainId,
      genesisHash: this.chain.genesisHash,
      headNumber: head.number,
      headHash: head.hash(),
    }
  }

  async *blocksByRange(
    start: bigint,
    count: number,
    maxBytes: number,
    signal: AbortSignal,
  ): AsyncGenerator<Uint8Array> {
    let total = 0
    for (let number = start; number < start + BigInt(count); number++) {
      if (signal.aborted) return
      const block = await this.chain.getBlockByNumber(number)
      if (block === undefined) return
      const commit = (await this.chain.getCommit(block.hash())) ?? { round: 0, seals: [] }
      const chunk = encodeBlockMessage(block, commit)
      if (total > 0 && total + chunk.length > maxBytes) return
      total += chunk.length
      yield chunk
    }
  }
}
