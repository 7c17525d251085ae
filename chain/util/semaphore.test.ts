import t from 'tap'
import { Semaphore } from './semaphore.ts'

/** A run the test finishes by hand. */
function gate() {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open: () => open() }
}

t.test('at most maxConcurrent run; waiters start in arrival order as slots free', async (t) => {
  const semaphore = new Semaphore({ maxConcurrent: 2, maxQueued: 2 })
  const started: string[] = []
  const gates = new Map<string, ReturnType<typeof gate>>()
  const run = (name: string) => {
    const g = gate()
    gates.set(name, g)
    return semaphore.run(async () => {
      started.push(name)
      await g.promise
      return name
    })
  }
  const a = run('a')
  const b = run('b')
  const c = run('c')
  const d = run('d')
  await Promise.resolve()
  t.same(started, ['a', 'b'], 'two run, two wait')
  t.ok(semaphore.full, 'two running and two waiting: full')
  gates.get('a')!.open()
  t.equal(await a, 'a')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, ['a', 'b', 'c'], 'the first waiter got the freed slot')
  t.notOk(semaphore.full, 'one place in line again')
  gates.get('b')!.open()
  gates.get('c')!.open()
  gates.get('d')!.open()
  t.same(await Promise.all([b, c, d]), ['b', 'c', 'd'])
  t.same(started, ['a', 'b', 'c', 'd'])
})

t.test('a failing run frees its slot', async (t) => {
  const semaphore = new Semaphore({ maxConcurrent: 1, maxQueued: 0 })
  await t.rejects(
    semaphore.run(async () => {
      throw new Error('boom')
    }),
    { message: 'boom' },
  )
  t.notOk(semaphore.full)
  t.equal(await semaphore.run(async () => 7), 7, 'the slot is free again')
})
