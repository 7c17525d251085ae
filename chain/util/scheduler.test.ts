import t from 'tap'
import { createSystemScheduler, type HostTimers } from './scheduler.ts'

/** Host timers that fire whenever the test says, whatever the clock reads (as Node's may). */
function earlyHost() {
  const pending = new Map<number, { fn: () => void; ms: number }>()
  let next = 1
  const host: HostTimers & { clock: number } = {
    clock: 1_000,
    now: () => host.clock,
    setTimeout: (fn, ms) => {
      pending.set(next, { fn, ms })
      return next++
    },
    clearTimeout: (id) => {
      pending.delete(id as number)
    },
  }
  const fireAll = () => {
    const due = [...pending.values()]
    pending.clear()
    for (const timer of due) timer.fn()
    return due.map((timer) => timer.ms)
  }
  return { host, pending, fireAll }
}

t.test('a host timer that fires early is re-armed for the rest, never run early', async (t) => {
  const { host, fireAll } = earlyHost()
  const scheduler = createSystemScheduler(host)
  let ran = 0
  scheduler.setTimeout(() => ran++, 100)
  host.clock = 1_097 // the host timer fires 3 ms before the deadline by our clock
  t.same(fireAll(), [100])
  t.equal(ran, 0, 'not run early')
  host.clock = 1_100
  t.same(fireAll(), [3], 're-armed for the 3 ms left')
  t.equal(ran, 1, 'run once due')
  t.same(fireAll(), [], 'nothing left')
})

t.test('clearTimeout cancels a re-armed timer too', async (t) => {
  const { host, pending, fireAll } = earlyHost()
  const scheduler = createSystemScheduler(host)
  let ran = 0
  const handle = scheduler.setTimeout(() => ran++, 50)
  host.clock = 1_040
  fireAll()
  t.equal(pending.size, 1, 're-armed')
  scheduler.clearTimeout(handle)
  t.equal(pending.size, 0)
  host.clock = 2_000
  fireAll()
  t.equal(ran, 0)
  scheduler.clearTimeout(undefined)
})

t.test('a wall clock stepped back does not hold a timer up', async (t) => {
  const { host, fireAll } = earlyHost()
  const scheduler = createSystemScheduler(host)
  let ran = 0
  scheduler.setTimeout(() => ran++, 100)
  host.clock = 500 // NTP stepped the clock back 500 ms while the timer ran
  t.same(fireAll(), [100])
  t.equal(ran, 1, 'run when the host timer fires')
})

t.test('on time or late: runs at once', async (t) => {
  const { host, fireAll } = earlyHost()
  const scheduler = createSystemScheduler(host)
  let ran = 0
  scheduler.setTimeout(() => ran++, 10)
  scheduler.setTimeout(() => ran++, -5)
  host.clock = 1_500
  t.same(fireAll(), [10, 0])
  t.equal(ran, 2)
})
