import t from 'tap'
import { isSidechainError, SidechainError } from './errors.ts'
import { pollUntil } from './poll.ts'

t.test('returns the first value that is not undefined, null or false', async (t) => {
  let calls = 0
  const value = await pollUntil(() => (++calls < 3 ? false : calls), {
    what: 'three calls',
    timeoutMs: 1_000,
    intervalMs: 1,
  })
  t.equal(value, 3)
})

t.test(
  'times out with POLL_TIMEOUT naming what it waited for and the last retried error',
  async (t) => {
    const err = await pollUntil(
      () => {
        throw new Error('connection refused')
      },
      { what: 'the node', timeoutMs: 30, intervalMs: 5, retryIf: () => true },
    ).catch((e: unknown) => e)
    t.ok(isSidechainError(err, 'POLL_TIMEOUT'))
    t.match(err, { message: /waiting for the node \(last error: connection refused\)/ })
  },
)

t.test('an error that is not retried propagates at once; onTimeout and guard', async (t) => {
  const boom = new Error('boom')
  await t.rejects(
    pollUntil(
      () => {
        throw boom
      },
      { what: 'x', timeoutMs: 1_000 },
    ),
    boom,
  )
  await t.rejects(
    pollUntil(() => undefined, {
      what: 'x',
      timeoutMs: 10,
      intervalMs: 2,
      onTimeout: (message) => new SidechainError('DEVNET_START_TIMEOUT', message),
    }),
    { code: 'DEVNET_START_TIMEOUT' },
  )
  const stopped = new Error('stopped')
  await t.rejects(
    pollUntil(() => undefined, {
      what: 'x',
      timeoutMs: 1_000,
      guard: () => {
        throw stopped
      },
    }),
    stopped,
  )
})
