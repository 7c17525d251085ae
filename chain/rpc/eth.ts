/**
 * The `eth_` namespace: chain and state reads, calls and gas estimation, fees, raw
 * transaction submission, logs, filters and subscriptions.
 */
import type { BlockHeader } from '@ethereumjs/block'
import type { MerkleStateManager } from '@ethereumjs/statemanager'
import { getMerkleStateProof } from '@ethereumjs/statemanager'
import type { TypedTransaction } from '@ethereumjs/tx'
import {
  bytesToHex,
  equalsBytes,
  KECCAK256_NULL,
  KECCAK256_RLP,
  setLengthLeft,
} from '@ethereumjs/util'
import { keccak256 } from '../crypto/index.ts'
import type { CallSimulator } from '../execution/simulation/runner.ts'
import type { TxPool } from '../txpool/txpool.ts'
import { blockLogs, bloomMayMatch, type ChainView } from './chain-view.ts'
import { invalidParams, limitExceeded, serverError } from './errors.ts'
import type { FeeOracle } from './fees.ts'
import type { FilterSystem } from './filters.ts'
import {
  firstLogIndexOf,
  formatBlock,
  formatBlockReceipts,
  formatReceipt,
  formatTransaction,
  hex,
  minBigInt,
  quantity,
  type RpcLog,
} from './format.ts'
import { defineMethod, type RpcModule } from './handler.ts'
import { type BlockId, type LogFilter, optional, p, withDefault } from './params.ts'

/** What the RPC needs from the transaction pool. */
export type RpcTxPool = Pick<
  TxPool,
  'addRaw' | 'get' | 'content' | 'size' | 'on' | 'off' | 'pendingNonce'
>

export interface SyncStatus {
  startingBlock: bigint
  currentBlock: bigint
  highestBlock: bigint
}

/** Reports sync progress (p2p/sync); false when the node is in sync. */
export type SyncStatusProvider = () => SyncStatus | false

export interface LogLimits {
  /** Most blocks one eth_getLogs may scan. */
  maxBlockRange: number
  /** Most logs one eth_getLogs may return. */
  maxResults: number
}

export interface EthModuleDeps {
  chain: ChainView
  txpool: RpcTxPool
  simulator: CallSimulator
  fees: FeeOracle
  filters: FilterSystem
  logLimits: LogLimits
  syncStatus: SyncStatusProvider
}

const LATEST: BlockId = { kind: 'tag', tag: 'latest' }

export function ethModule(deps: EthModuleDeps): RpcModule {
  const { chain, txpool, simulator, fees, filters } = deps
  const ledger = chain.ledger

  /** State at a block; the head uses the ledger's shared read-only view. */
  const stateOf = (header: BlockHeader): MerkleStateManager =>
    header === ledger.head || equalsBytes(header.stateRoot, ledger.head.stateRoot)
      ? ledger.headState()
      : ledger.stateAt(header.stateRoot)

  const account = async (address: import('@ethereumjs/util').Address, id: BlockId) => {
    const header = await chain.requireHeader(id)
    return (await stateOf(header).getAccount(address)) ?? undefined
  }

  /**
   * Logs of `filter`. A range reaching past the head is refused with -32602 as geth does
   * (an answer for blocks that do not exist yet would be silently incomplete); an installed
   * filter's range may reach into the future, so eth_getFilterLogs clamps to the head.
   */
  const getLogs = async (
    filter: LogFilter,
    range: { clampToHead: boolean } = { clampToHead: false },
  ): Promise<RpcLog[]> => {
    if (filter.blockHash !== undefined) {
      const found = await chain.blockWithReceipts({
        kind: 'hash',
        hash: filter.blockHash,
        requireCanonical: false,
      })
      if (found === undefined) throw serverError('unknown block')
      return blockLogs(found, filter)
    }
    const head = chain.head.number
    const { from, to: requestedTo } = chain.filterRange(filter)
    const span = requestedTo - from + 1n
    if (span > BigInt(deps.logLimits.maxBlockRange)) {
      throw limitExceeded(
        `eth_getLogs range of ${span} blocks exceeds the limit of ${deps.logLimits.maxBlockRange} blocks`,
      )
    }
    if (requestedTo > head && !range.clampToHead) {
      throw invalidParams(
        `invalid block range params: toBlock ${requestedTo} is past the head ${head}`,
      )
    }
    const to = minBigInt(requestedTo, head)
    const out: RpcLog[] = []
    for (let n = from; n <= to; n++) {
      const hash = await ledger.getCanonicalHash(n)
      if (hash === undefined) break
      const header = await ledger.getHeader(hash)
      if (header === undefined || header.logsBloom.every((b) => b === 0)) continue
      if (!bloomMayMatch(header.logsBloom, filter, keccak256)) continue
      const found = await chain.blockWithReceipts({ kind: 'hash', hash, requireCanonical: false })
      if (found === undefined) continue
      out.push(...blockLogs(found, filter))
      if (out.length > deps.logLimits.maxResults) {
        throw limitExceeded(`query returned more than ${deps.logLimits.maxResults} results`)
      }
    }
    return out
  }

  const txInBlock = async (id: BlockId, index: bigint) => {
    const block = await chain.block(id)
    if (block === undefined || index >= BigInt(block.transactions.length)) return null
    const i = Number(index)
    return formatTransaction(block.transactions[i]!, {
      blockHash: block.hash(),
      blockNumber: block.header.number,
      index: i,
      baseFee: block.header.baseFeePerGas ?? 0n,
      timestamp: block.header.timestamp,
    })
  }

  const txCount = async (id: BlockId) => {
    const block = await chain.block(id)
    return block === undefined ? null : quantity(block.transactions.length)
  }

  return {
    namespace: 'eth',
    methods: {
      chainId: defineMethod([], () => quantity(ledger.chainId)),
      blockNumber: defineMethod([], () => quantity(ledger.head.number)),
      syncing: defineMethod([], () => {
        const status = deps.syncStatus()
        if (status === false) return false
        return {
          startingBlock: quantity(status.startingBlock),
          currentBlock: quantity(status.currentBlock),
          highestBlock: quantity(status.highestBlock),
        }
      }),
      accounts: defineMethod([], () => []),
      mining: defineMethod([], () => false),
      hashrate: defineMethod([], () => '0x0'),

      getBalance: defineMethod(
        [p.address('address'), withDefault(p.blockId('block'), LATEST)],
        async ([address, id]) => quantity((await account(address, id))?.balance ?? 0n),
      ),
      getTransactionCount: defineMethod(
        [p.address('address'), withDefault(p.blockId('block'), LATEST)],
        async ([address, id]) => {
          const nonce = (await account(address, id))?.nonce ?? 0n
          if (id.kind === 'tag' && id.tag === 'pending')
            return quantity(txpool.pendingNonce(address.toString(), nonce))
          return quantity(nonce)
        },
      ),
      getCode: defineMethod(
        [p.address('address'), withDefault(p.blockId('block'), LATEST)],
        async ([address, id]) => {
          const header = await chain.requireHeader(id)
          return hex(await stateOf(header).getCode(address))
        },
      ),
      getStorageAt: defineMethod(
        [p.address('address'), p.storageSlot('slot'), withDefault(p.blockId('block'), LATEST)],
        async ([address, slot, id]) => {
          const header = await chain.requireHeader(id)
          const value = await stateOf(header).getStorage(address, slot)
          return hex(setLengthLeft(value, 32))
        },
      ),
      // geth: account fields without code; reth/anvil: balance, nonce and code in one call
      // (Foundry's fork backend tries it first, saving three round trips per account).
      getAccount: defineMethod(
        [p.address('address'), withDefault(p.blockId('block'), LATEST)],
        async ([address, id]) => {
          const found = await account(address, id)
          return {
            balance: quantity(found?.balance ?? 0n),
            nonce: quantity(found?.nonce ?? 0n),
            codeHash: hex(found?.codeHash ?? KECCAK256_NULL),
            storageRoot: hex(found?.storageRoot ?? KECCAK256_RLP),
          }
        },
      ),
      getAccountInfo: defineMethod(
        [p.address('address'), withDefault(p.blockId('block'), LATEST)],
        async ([address, id]) => {
          const header = await chain.requireHeader(id)
          const state = stateOf(header)
          const found = await state.getAccount(address)
          return {
            balance: quantity(found?.balance ?? 0n),
            nonce: quantity(found?.nonce ?? 0n),
            code: hex(found === undefined ? new Uint8Array(0) : await state.getCode(address)),
          }
        },
      ),
      getProof: defineMethod(
        [p.address('address'), p.any('storageKeys'), withDefault(p.blockId('block'), LATEST)],
        async ([address, rawKeys, id]) => {
          if (!Array.isArray(rawKeys))
            throw invalidParams(
              'invalid argument 1 (storageKeys): expected an array of storage keys',
            )
          if (rawKeys.length > 1000)
            throw invalidParams('invalid argument 1 (storageKeys): more than 1000 keys')
          const keys = rawKeys.map((k, i) => {
            try {
              return p.storageSlot('storageKeys').parse(k)
            } catch (err) {
              throw invalidParams(
                `invalid argument 1 (storageKeys): key ${i}: ${(err as Error).message}`,
              )
            }
          })
          const header = await chain.requireHeader(id)
          const proof = await getMerkleStateProof(ledger.stateAt(header.stateRoot), address, keys)
          // Slot values are quantities, as geth and anvil give them: ethereumjs keeps a value's
          // leading zero byte ("0x0100"), which strict clients refuse.
          return {
            ...proof,
            storageProof: proof.storageProof.map((item) => ({
              ...item,
              value: quantity(BigInt(item.value)),
            })),
          }
        },
      ),

      call: defineMethod(
        [
          p.callRequest('transaction'),
          withDefault(p.blockId('block'), LATEST),
          optional(p.stateOverrides('stateOverrides')),
          optional(p.blockOverrides('blockOverrides')),
        ],
        async ([request, id, state, block]) => {
          const header = await chain.requireHeader(id)
          return hex(await simulator.call(request, header, { state, block }))
        },
      ),
      estimateGas: defineMethod(
        [
          p.callRequest('transaction'),
          withDefault(p.blockId('block'), LATEST),
          optional(p.stateOverrides('stateOverrides')),
          optional(p.blockOverrides('blockOverrides')),
        ],
        async ([request, id, state, block]) => {
          const header = await chain.requireHeader(id)
          return quantity(await simulator.estimateGas(request, header, { state, block }))
        },
      ),

      gasPrice: defineMethod([], async () => quantity(await fees.gasPrice())),
      maxPriorityFeePerGas: defineMethod([], async () => quantity(await fees.suggestTip())),
      blobBaseFee: defineMethod([], () => quantity(ledger.head.getBlobGasPrice())),
      feeHistory: defineMethod(
        [
          p.count('blockCount', 1 << 30),
          p.blockRef('newestBlock'),
          withDefault(p.percentiles('rewardPercentiles'), [] as number[]),
        ],
        async ([count, newest, percentiles]) =>
          fees.feeHistory(count, chain.numberOf(newest), percentiles),
      ),

      sendRawTransaction: defineMethod(
        [p.data('transaction')],
        async ([raw]) => (await txpool.addRaw(raw)).hash,
      ),

      getTransactionByHash: defineMethod([p.hash('hash')], async ([hash]) => {
        const location = await ledger.getTxLocation(hash)
        if (location !== undefined) {
          const block = await ledger.getBlock(location.blockHash)
          const tx = block?.transactions[location.index]
          if (block !== undefined && tx !== undefined) {
            return formatTransaction(tx, {
              blockHash: location.blockHash,
              blockNumber: location.blockNumber,
              index: location.index,
              baseFee: block.header.baseFeePerGas ?? 0n,
              timestamp: block.header.timestamp,
            })
          }
        }
        const pending = txpool.get(bytesToHex(hash))
        return pending === undefined
          ? null
          : formatTransaction(pending.tx as TypedTransaction, undefined)
      }),
      getTransactionReceipt: defineMethod([p.hash('hash')], async ([hash]) => {
        const location = await ledger.getTxLocation(hash)
        if (location === undefined) return null
        const block = await ledger.getBlock(location.blockHash)
        if (block === undefined) return null
        const receipts = await chain.receipts(location.blockHash)
        return formatReceipt(
          block,
          receipts,
          location.index,
          firstLogIndexOf(receipts, location.index),
        )
      }),

      getBlockByNumber: defineMethod(
        [p.blockRef('block'), withDefault(p.boolean('fullTransactions'), false)],
        async ([ref, full]) => {
          const block = await chain.block(ref)
          return block === undefined ? null : formatBlock(block, full)
        },
      ),
      getBlockByHash: defineMethod(
        [p.hash('hash'), withDefault(p.boolean('fullTransactions'), false)],
        async ([hash, full]) => {
          const block = await ledger.getBlock(hash)
          return block === undefined ? null : formatBlock(block, full)
        },
      ),
      getBlockReceipts: defineMethod([p.blockId('block')], async ([id]) => {
        const found = await chain.blockWithReceipts(id)
        return found === undefined ? null : formatBlockReceipts(found.block, found.receipts)
      }),
      getBlockTransactionCountByNumber: defineMethod([p.blockRef('block')], ([ref]) =>
        txCount(ref),
      ),
      getBlockTransactionCountByHash: defineMethod([p.hash('hash')], ([hash]) =>
        txCount({ kind: 'hash', hash, requireCanonical: false }),
      ),
      getTransactionByBlockNumberAndIndex: defineMethod(
        [p.blockRef('block'), p.quantity('index', 64)],
        ([ref, index]) => txInBlock(ref, index),
      ),
      getTransactionByBlockHashAndIndex: defineMethod(
        [p.hash('hash'), p.quantity('index', 64)],
        ([hash, index]) => txInBlock({ kind: 'hash', hash, requireCanonical: false }, index),
      ),
      getUncleCountByBlockNumber: defineMethod([p.blockRef('block')], async ([ref]) =>
        (await chain.header(ref)) === undefined ? null : '0x0',
      ),
      getUncleCountByBlockHash: defineMethod([p.hash('hash')], async ([hash]) =>
        (await ledger.getHeader(hash)) === undefined ? null : '0x0',
      ),
      getUncleByBlockNumberAndIndex: defineMethod(
        [p.blockRef('block'), p.quantity('index', 64)],
        () => null,
      ),
      getUncleByBlockHashAndIndex: defineMethod(
        [p.hash('hash'), p.quantity('index', 64)],
        () => null,
      ),

      getLogs: defineMethod([p.logFilter('filter')], ([filter]) => getLogs(filter)),
      newFilter: defineMethod([p.logFilter('filter')], ([filter]) => filters.newLogFilter(filter)),
      newBlockFilter: defineMethod([], () => filters.newBlockFilter()),
      newPendingTransactionFilter: defineMethod([], () => filters.newPendingTransactionFilter()),
      getFilterChanges: defineMethod([p.string('filterId', 66)], ([id]) => filters.changes(id)),
      getFilterLogs: defineMethod([p.string('filterId', 66)], ([id]) =>
        getLogs(filters.logCriteria(id), { clampToHead: true }),
      ),
      uninstallFilter: defineMethod([p.string('filterId', 66)], ([id]) => filters.uninstall(id)),
      subscribe: defineMethod(
        [p.string('subscription', 64), optional(p.any('options'))],
        ([kind, options], ctx) =>
          filters.subscribe(ctx.connection, kind, options === undefined ? [] : [options]),
      ),
      unsubscribe: defineMethod([p.string('subscriptionId', 66)], ([id], ctx) =>
        filters.unsubscribe(ctx.connection, id),
      ),
    },
  }
}
