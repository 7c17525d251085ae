import t from 'tap'
import { ManualScheduler } from '../util/scheduler.ts'
import { NodeHealth } from './node-health.ts'

function setup() {
  const clock = new ManualScheduler(1_000_000)
  const ledger = {
    head: { number: 10n },
    writeFailures: { consecutive: 0, lastError: undefined as string | undefined },
  }
  let peerHeads: bigint[] = []
  const health = new NodeHealth(
    { maxConsecutiveWriteFailures: 3, stallMs: 30_000 },
    { ledger, peerHeads: () => peerHeads, clock },
  )
  return {
    clock,
    ledger,
    health,
    setPeerHeads: (heads: bigint[]) => {
      peerHeads = heads
    },
  }
}

t.test('repeated write failures make the node unhealthy, with the last error', (t) => {
  const { ledger, health } = setup()
  ledger.writeFailures = { consecutive: 2, lastError: 'disk full' }
  t.same(health.check(), { healthy: true, head: 10, reasons: [] }, 'two failures are tolerated')
  ledger.writeFailures = { consecutive: 3, lastError: 'disk full' }
  const report = health.check()
  t.equal(report.healthy, false)
  t.match(report.reasons, [
    /block import failing: 3 block writes failed in a row \(last: disk full\)/,
  ])
  ledger.writeFailures = { consecutive: 0, lastError: undefined }
  t.equal(health.check().healthy, true, 'a written block clears it')
  t.end()
})

t.test('a head stuck while peers are ahead is a stall; a halted network is not', (t) => {
  const { clock, ledger, health, setPeerHeads } = setup()
  clock.advance(60_000)
  t.equal(health.check().healthy, true, 'no peers')
  setPeerHeads([10n, 10n, 10n])
  t.equal(health.check().healthy, true, 'peers at our head: the whole network may be halted')
  setPeerHeads([15n, 10n, 10n])
  t.equal(
    health.check().healthy,
    true,
    'one peer of three claiming more is not enough (it may lie)',
  )
  setPeerHeads([15n, 12n, 10n])
  const stalled = health.check()
  t.equal(stalled.healthy, false)
  t.match(stalled.reasons, [
    /head stalled: block 10 for 60 s while 2 of 3 peers are ahead \(up to 15\)/,
  ])
  ledger.head = { number: 11n }
  t.equal(health.check().healthy, true, 'the head moved: not stalled')
  clock.advance(29_999)
  t.equal(health.check().healthy, true, 'still within stallMs')
  clock.advance(1)
  t.equal(health.check().healthy, false, 'stalled again after stallMs')
  t.end()
})
