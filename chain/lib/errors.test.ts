import t from 'tap'
import { describeError, isSidechainError, SidechainError } from './errors.ts'

t.test('SidechainError carries code, details and cause', (t) => {
  const cause = new Error('low level')
  const err = new SidechainError('STORAGE_CORRUPT', 'short message', {
    details: { a: 1 },
    cause,
  })
  t.equal(err.code, 'STORAGE_CORRUPT')
  t.same(err.details, { a: 1 })
  t.equal(err.cause, cause)
  t.ok(isSidechainError(err, 'STORAGE_CORRUPT'))
  t.notOk(isSidechainError(err, 'STORAGE_CLOSED'))
  t.notOk(isSidechainError(new Error('x')))
  t.end()
})

t.test('codes are checked at compile time', (t) => {
  const err: unknown = new SidechainError('LEDGER_CLOSED', 'closed')
  // Each line fails tsc (so `npm run lint`) if the typo stops being one.
  // @ts-expect-error not a registered code
  t.notOk(isSidechainError(err, 'LEDGER_CLOSD'))
  // @ts-expect-error not a registered code
  const typo = new SidechainError('NO_SUCH_CODE', 'x')
  t.equal(describeError(typo).code, 'UNEXPECTED', 'and at run time it maps to nothing')
  if (isSidechainError(err)) {
    // @ts-expect-error the narrowed code is the union, and this comparison cannot hold
    t.notOk(err.code === 'LEDGER_CLOSD')
  }
  t.end()
})

t.test('describeError: anything without a registered code is unexpected', (t) => {
  const unexpected = {
    code: 'UNEXPECTED',
    kind: 'unexpected',
    exitCode: 1,
    rpcCode: -32603,
    rpcExposed: false,
  }
  t.same(describeError(new Error('a bug')), unexpected)
  t.same(describeError('a string'), unexpected)
  t.same(describeError(undefined), unexpected)
  // A code that slipped past the type system (a cast, an old journal entry) is not trusted.
  const forged = new SidechainError('STORAGE_CORRUPT', 'x')
  Object.assign(forged, { code: 'NOT_REGISTERED' })
  t.same(describeError(forged), unexpected)
  // Inherited object keys are not codes either.
  Object.assign(forged, { code: 'toString' })
  t.same(describeError(forged), unexpected)
  t.end()
})
