import t from 'tap'
import { isSidechainError, SidechainError } from './errors.ts'

t.test('SidechainError carries code, details and cause', (t) => {
  const cause = new Error('low level')
  const err = new SidechainError('TEST_CODE', 'short message', { details: { a: 1 }, cause })
  t.equal(err.code, 'TEST_CODE')
  t.same(err.details, { a: 1 })
  t.equal(err.cause, cause)
  t.ok(isSidechainError(err, 'TEST_CODE'))
  t.notOk(isSidechainError(err, 'OTHER'))
  t.notOk(isSidechainError(new Error('x')))
  t.end()
})
