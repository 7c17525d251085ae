/**
 * A timestamp ahead of our clock. A proposal (not final yet) from too far in the future is
 * LEDGER_FUTURE_TIMESTAMP: validators do not let a proposer push time forward, and the QBFT
 * driver treats it as undecidable. A block that comes with its commit seals is final, and its
 * timestamp says our clock is behind: it is imported with a warning, and sync never blames
 * the peer that served it (a node with a lagging clock used to ban every honest peer in turn).
 */
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { makeGenesis, nextBlockFields, openTestLedger } from '../../test/support/chain.ts'
import { signCommitSeal } from '../consensus/seals.ts'
import { isSidechainError } from '../lib/errors.ts'
import { classifyImportError } from '../sync/validation.ts'

const setup = makeGenesis({ accounts: 1 })
const [validator] = setup.validators
// The test ledger's clock reads 2_000_000_000_000 ms; it allows 15 s ahead.
const NOW = 2_000_000_000_000

function captureLogs() {
  const lines: Array<{ level: number; msg: string; aheadSeconds?: number }> = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { lines, logger: pino({ level: 'warn' }, sink) }
}

t.test(
  'a proposal too far ahead of our clock is LEDGER_FUTURE_TIMESTAMP, not invalid',
  async (t) => {
    const { ledger } = await openTestLedger(t, setup, 'ledger-errors-')
    const built = await ledger.buildBlock(nextBlockFields(ledger, validator!, NOW + 60_000), [])
    const err = await ledger.validateBlock(built.block).catch((e: unknown) => e)
    t.ok(isSidechainError(err, 'LEDGER_FUTURE_TIMESTAMP'), String(err))
    t.match(err, { message: /too far in the future/ })
    t.not(classifyImportError(err), 'invalid', 'no peer is blamed for our clock')
    t.equal(ledger.head.number, 0n, 'not imported')
  },
)

t.test(
  'a final block ahead of our clock is imported, with a warning about the clock',
  async (t) => {
    const { lines, logger } = captureLogs()
    const { ledger } = await openTestLedger(t, setup, 'ledger-errors-', { logger })
    const ahead = await ledger.buildBlock(nextBlockFields(ledger, validator!, NOW + 60_000), [])
    await ledger.importBlock(ahead.block, {
      seals: [signCommitSeal(ahead.block.hash(), 0, validator!.privateKey)],
    })
    t.equal(ledger.head.number, 1n, 'its commit seals make it final')
    const warning = lines.find((l) => /clock is behind/.test(l.msg))
    t.equal(warning?.level, 40)
    t.equal(warning?.aheadSeconds, 60)

    const next = await ledger.buildBlock(nextBlockFields(ledger, validator!, NOW + 61_000), [])
    await ledger.importBlock(next.block, {
      seals: [signCommitSeal(next.block.hash(), 0, validator!.privateKey)],
    })
    t.equal(ledger.head.number, 2n)
    t.equal(lines.filter((l) => /clock is behind/.test(l.msg)).length, 1, 'one warning a minute')

    // Seals are still checked: a block whose seals do not verify is refused as before.
    const forged = await ledger.buildBlock(nextBlockFields(ledger, validator!, NOW + 62_000), [])
    const err = await ledger
      .importBlock(forged.block, {
        seals: [signCommitSeal(forged.block.hash(), 5, validator!.privateKey)],
      })
      .catch((e: unknown) => e)
    t.equal(classifyImportError(err), 'invalid', String(err))
    t.equal(ledger.head.number, 2n)
  },
)
