/**
 * A filters flood (issue 21): many installed filters that are never polled, fed by a busy
 * pool, hold a bounded number of changes in total; the stalest filter goes first.
 */
import t from 'tap'
import type { PoolTx } from '../txpool/txpool.ts'
import type { ChainView } from './chain-view.ts'
import { FilterSystem } from './filters.ts'

function pending(i: number): PoolTx {
  return { hash: `0x${i.toString(16).padStart(64, '0')}` } as PoolTx
}

t.test('filters never polled hold at most the total cap of changes', async (t) => {
  let now = 1_000
  const filters = new FilterSystem(
    {
      filterTimeoutMs: 60_000,
      maxFilters: 100,
      maxQueuedPerFilter: 1_000,
      maxQueuedTotal: 5_000,
      maxSubscriptionsPerConnection: 8,
    },
    { chain: {} as ChainView, now: () => now },
  )
  const ids: string[] = []
  for (let i = 0; i < 100; i++) {
    ids.push(filters.newPendingTransactionFilter())
    now++
  }
  // The last filter is polled (so it is the freshest) and keeps being polled.
  for (let i = 0; i < 2_000; i++) {
    filters.onPendingTransaction(pending(i))
    if (i % 100 === 99)
      t.equal(filters.changes(ids[99]!).length, 100, 'a polled filter gets every change')
  }
  t.ok(
    filters.queuedChanges <= 5_000,
    `${filters.queuedChanges} changes buffered in total (cap 5000)`,
  )
  t.ok(filters.filterCount < 100, `stale filters were dropped (${filters.filterCount} left)`)
  t.throws(
    () => filters.changes(ids[0]!),
    { message: 'filter not found' },
    'the stalest went first',
  )
  t.same(filters.changes(ids[99]!), [], 'the polled filter is still installed')
})

t.test('a ring keeps the newest changes in order and overwrites the oldest', async (t) => {
  const { ChangeRing } = await import('./filters.ts')
  const ring = new ChangeRing<number>(3)
  t.equal(ring.push(1), 1)
  t.equal(ring.push(2), 1)
  t.equal(ring.push(3), 1)
  t.equal(ring.push(4), 0, 'full: the oldest is overwritten')
  t.equal(ring.push(5), 0)
  t.same(ring.drain(), [3, 4, 5])
  t.equal(ring.size, 0)
  ring.push(6)
  t.same(ring.drain(), [6])
})
