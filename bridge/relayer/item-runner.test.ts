/**
 * The item runner's rules on a manual clock: repeated out-of-gas attempts park the item with that reason
 * (issue #20 case 5: a release that runs out of gas is not retried forever), and a parked item is run again on a
 * timer (case 12: no restart needed).
 */
import t from 'tap'
import { silentLogger } from '../../chain/lib/logger.ts'
import { BridgeError } from '../core/errors.ts'
import { ItemRunner } from './item-runner.ts'

function makeRunner(now: () => number) {
  const parkedByKind: Array<Record<string, number>> = []
  const runner = new ItemRunner(
    { backoffBaseMs: 100, backoffMaxMs: 1_000, parkedRecheckMs: 60_000, maxOutOfGasAttempts: 3 },
    {
      logger: silentLogger(),
      onError: () => {},
      onParkedChange: (byKind) => parkedByKind.push(Object.fromEntries(byKind)),
      now,
    },
  )
  return { runner, parkedByKind }
}

t.test('an item that runs out of gas three times is parked with that reason', async (t) => {
  let clock = 0
  const { runner, parkedByKind } = makeRunner(() => clock)
  let attempts = 0
  const action = async () => {
    attempts++
    throw new BridgeError('RELAYER_OUT_OF_GAS', 'release(7) ran out of gas')
  }
  for (let i = 0; i < 10; i++) {
    runner.run('withdrawal:7', action)
    await runner.idle()
    clock += 2_000 // past any backoff
  }
  t.equal(attempts, 3, 'three attempts, then no more')
  t.ok(runner.isParked('withdrawal:7'))
  t.match(runner.parkedDetails.get('withdrawal:7'), { kind: 'out-of-gas' })
  t.match(runner.parked.get('withdrawal:7'), /^out-of-gas: ran out of gas 3 times/)
  t.same(parkedByKind.at(-1), { 'out-of-gas': 1 }, 'the parked count by reason is reported')
})

t.test('a parked item is looked at again after the recheck delay, not before', async (t) => {
  let clock = 0
  const { runner, parkedByKind } = makeRunner(() => clock)
  let fail = true
  let attempts = 0
  const action = async () => {
    attempts++
    if (fail) throw new BridgeError('RELAYER_PAYLOAD_CONFLICT', 'conflict')
  }
  runner.run('deposit:1', action)
  await runner.idle()
  t.ok(runner.isParked('deposit:1'), 'a permanent failure parks')
  clock += 59_000
  runner.run('deposit:1', action)
  await runner.idle()
  t.equal(attempts, 1, 'not run again before the recheck delay')
  fail = false // an operator fixed the cause
  clock += 1_000
  runner.run('deposit:1', action)
  await runner.idle()
  t.equal(attempts, 2, 'run again once the delay passed')
  t.notOk(runner.isParked('deposit:1'), 'and no longer parked')
  t.same(parkedByKind.at(-1), {}, 'the parked count drops back to zero')
})
