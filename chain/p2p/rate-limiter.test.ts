import t from 'tap'
import { RateLimiter } from './rate-limiter.ts'

t.test('token bucket per key', async (t) => {
  let now = 1_000_000
  const limiter = new RateLimiter({ capacity: 10, refillPerSecond: 5 }, () => now)
  t.ok(limiter.tryConsume('a', 10), 'the full bucket at first')
  t.notOk(limiter.tryConsume('a', 1), 'empty now')
  t.ok(limiter.tryConsume('b', 3), 'other keys have their own bucket')
  now += 1000
  t.equal(limiter.available('a'), 5, 'refills at the rate')
  t.notOk(limiter.tryConsume('a', 6), 'a request costing more than available takes nothing')
  t.ok(limiter.tryConsume('a', 5))
  now += 60_000
  t.equal(limiter.available('a'), 10, 'capped at capacity')
  limiter.prune()
  t.equal(limiter.available('b'), 10, 'pruned buckets start full again')
})
