import t from 'tap'
import { failureError } from './outcome.ts'
import { decodeRevertReason } from './revert.ts'
import { CallSimulator, type CallSimulatorOptions } from './runner.ts'

/** Error(string) revert data for `reason`. */
function errorData(reason: string): Uint8Array {
  const text = Buffer.from(reason, 'utf8')
  const word = (n: number) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
  const padded = Buffer.alloc(Math.ceil(text.length / 32) * 32)
  text.copy(padded)
  return Buffer.concat([Buffer.from('08c379a0', 'hex'), word(32), word(text.length), padded])
}

t.test('a revert becomes SIM_REVERTED with its data and decoded reason', async (t) => {
  const data = errorData('not the owner')
  t.equal(decodeRevertReason(data), 'not the owner')
  const err = failureError({ kind: 'revert', data })
  t.equal(err.code, 'SIM_REVERTED')
  t.equal(err.message, 'execution reverted: not the owner')
  t.same(err.revert, { data, reason: 'not the owner' })
  const bare = failureError({ kind: 'revert', data: new Uint8Array(0) })
  t.equal(bare.message, 'execution reverted', 'no reason without Error(string)/Panic data')
  const halt = failureError({ kind: 'halt', message: 'out of gas' })
  t.match(halt, { code: 'SIM_HALTED', message: 'out of gas', revert: undefined })
})

t.test('a full execution line refuses with SIM_BUSY and runs nothing', async (t) => {
  const options: CallSimulatorOptions = { gasCap: 1n, timeoutMs: 1, maxConcurrent: 1, maxQueued: 1 }
  // withSlot reads no chain state.
  const simulator = new CallSimulator(options, { chain: {} as never })
  let release = () => {}
  const holding = simulator.withSlot(() => new Promise<void>((resolve) => (release = resolve)))
  const waiting = simulator.withSlot(async () => 'waited')
  let ran = false
  await t.rejects(
    simulator.withSlot(async () => {
      ran = true
    }),
    { name: 'SimulationError', code: 'SIM_BUSY' },
  )
  t.notOk(ran, 'the refused run never started')
  release()
  await holding
  t.equal(await waiting, 'waited', 'the queued run went ahead')
})
