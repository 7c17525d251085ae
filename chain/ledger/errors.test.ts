/**
 * Ledger refusals carry codes the callers switch on: a block from too far in the future is
 * LEDGER_FUTURE_TIMESTAMP (our clock may be behind; the QBFT driver treats it as
 * undecidable), not one of the LEDGER_INVALID_* codes that prove the block bad.
 */
import t from 'tap'
import { makeGenesis, nextBlockFields, openTestLedger } from '../../test/support/chain.ts'
import { signCommitSeal } from '../consensus/seals.ts'
import { isSidechainError } from '../lib/errors.ts'
import { classifyImportError } from '../sync/validation.ts'

const setup = makeGenesis({ accounts: 1 })
const [validator] = setup.validators

t.test('a block too far ahead of our clock is LEDGER_FUTURE_TIMESTAMP', async (t) => {
  const { ledger } = await openTestLedger(t, setup, 'ledger-errors-')
  // The test ledger's clock reads 2_000_000_000_000 ms; it allows 15 s ahead.
  const ahead = nextBlockFields(ledger, validator!, 2_000_000_000_000 + 60_000)
  const built = await ledger.buildBlock(ahead, [])
  const err = await ledger
    .importBlock(built.block, {
      seals: [signCommitSeal(built.block.hash(), 0, validator!.privateKey)],
    })
    .catch((e: unknown) => e)
  t.ok(isSidechainError(err, 'LEDGER_FUTURE_TIMESTAMP'), String(err))
  t.match(err, { message: /too far in the future/ })
  t.equal(classifyImportError(err), 'invalid', 'sync still refuses the block from its peer')
  t.equal(ledger.head.number, 0n, 'not imported')

  const inTime = nextBlockFields(ledger, validator!, 2_000_000_000_000 + 1_000)
  const ok = await ledger.buildBlock(inTime, [])
  await ledger.importBlock(ok.block, {
    seals: [signCommitSeal(ok.block.hash(), 0, validator!.privateKey)],
  })
  t.equal(ledger.head.number, 1n, 'a block within the allowance imports')
})
