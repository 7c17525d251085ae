/**
 * The `txpool_` namespace (geth): pool size and content. "pending" are transactions
 * executable now (contiguous nonces from the account nonce), "queued" the rest.
 */
import type { TypedTransaction } from '@ethereumjs/tx'
import { toChecksumAddress } from '@ethereumjs/util'
import type { PoolTx } from '../txpool/txpool.ts'
import type { RpcTxPool } from './eth.ts'
import { formatTransaction, quantity } from './format.ts'
import { defineMethod, type RpcModule } from './handler.ts'
import { p } from './params.ts'

type Grouped<T> = Record<string, Record<string, T>>

function group<T>(
  entries: readonly PoolTx[],
  render: (entry: PoolTx) => T,
  only?: string,
): Grouped<T> {
  const out: Grouped<T> = {}
  for (const entry of entries) {
    if (only !== undefined && entry.sender !== only) continue
    const key = toChecksumAddress(entry.sender)
    out[key] ??= {}
    out[key][entry.nonce.toString(10)] = render(entry)
  }
  return out
}

function summary(entry: PoolTx): string {
  const tx = entry.tx as TypedTransaction
  const to = tx.to === undefined ? 'contract creation' : tx.to.toString()
  const price =
    'maxFeePerGas' in tx ? (tx.maxFeePerGas as bigint) : (tx as { gasPrice: bigint }).gasPrice
  return `${to}: ${tx.value} wei + ${tx.gasLimit} gas × ${price} wei`
}

export function txpoolModule(deps: { txpool: RpcTxPool }): RpcModule {
  const { txpool } = deps
  const render = (entry: PoolTx) => formatTransaction(entry.tx as TypedTransaction, undefined)
  return {
    namespace: 'txpool',
    methods: {
      status: defineMethod([], async () => {
        const { pending, queued } = await txpool.content()
        return { pending: quantity(pending.length), queued: quantity(queued.length) }
      }),
      content: defineMethod([], async () => {
        const { pending, queued } = await txpool.content()
        return { pending: group(pending, render), queued: group(queued, render) }
      }),
      contentFrom: defineMethod([p.address('address')], async ([address]) => {
        const { pending, queued } = await txpool.content()
        const sender = address.toString()
        const only = (list: PoolTx[]) =>
          Object.fromEntries(
            list.filter((e) => e.sender === sender).map((e) => [e.nonce.toString(10), render(e)]),
          )
        return { pending: only(pending), queued: only(queued) }
      }),
      inspect: defineMethod([], async () => {
        const { pending, queued } = await txpool.content()
        return { pending: group(pending, summary), queued: group(queued, summary) }
      }),
    },
  }
}
