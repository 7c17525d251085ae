import type { ChainReader } from '../ledger/chain-reader.ts'
import type { ChainStatus } from '../p2p/messages.ts'
import type { ChainServer } from '../p2p/reqresp.ts'
import { encodeBlockMessage } from './validation.ts'

/** The ledger reads this needs. */
export type ServedChain = Pick<
  ChainReader,
  'head' | 'genesisHash' | 'chainId' | 'getBlockByNumber' | 'getCommit'
>

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
