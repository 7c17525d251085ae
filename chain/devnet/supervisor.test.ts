/**
 * The devnet's restart policy and control channel on real child processes (`sleep`, `sh -c 'exit N'`) with short
 * backoffs: a killed process comes back with a new pid after a doubling backoff, a crash loop is given up on while
 * the others keep running, an exit code that a restart cannot cure is not retried, and stop/start/pause/resume by
 * name work, also through the unix-socket control channel behind the lock file's pid check.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { tempDir } from '../../test/support/chain.ts'
import { pollUntil } from '../lib/poll.ts'
import { controlRequest, startControlServer } from './control.ts'
import { devnetLayout } from './layout.ts'
import { Supervisor, type SupervisorEvent } from './supervisor.ts'

const FAST = {
  initialBackoffMs: 100,
  maxBackoffMs: 400,
  resetAfterMs: 60_000,
  maxRestarts: 3,
  crashWindowMs: 60_000,
}

function setup(t: Test, policy: Partial<typeof FAST> = FAST) {
  const dir = tempDir('supervisor-')
  const events: SupervisorEvent[] = []
  const supervisor = new Supervisor({ policy }, { onEvent: (e) => events.push(e) })
  t.teardown(async () => {
    supervisor.shutdown()
    await supervisor.stopWhere(() => true, 2_000)
    supervisor.dispose()
    dir.remove()
  })
  const spawn = (name: string, script: string) =>
    supervisor.spawn(
      { name, command: 'sh', args: ['-c', script], logFile: path.join(dir.path, `${name}.log`) },
      { stopGraceMs: 2_000 },
    )
  supervisor.supervise()
  return { dir, events, supervisor, spawn }
}

/** The process state letter in /proc/<pid>/stat: T when stopped by SIGSTOP. */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2)[0]!
}

const until = <T>(what: string, check: () => T | undefined | false) =>
  pollUntil(check, { what, timeoutMs: 10_000, intervalMs: 20 })

t.test('a killed process is restarted with a doubling backoff and a new pid', async (t) => {
  const { events, supervisor, spawn } = setup(t)
  const first = spawn('worker', 'exec sleep 60')
  const firstPid = first.pid!
  process.kill(firstPid, 'SIGKILL')
  const restarted = await until('a restart', () =>
    supervisor.status().find((s) => s.restarts === 1 && s.pid !== null),
  )
  t.not(restarted.pid, firstPid, 'a new process')
  t.equal(restarted.state, 'running')
  const exited = events.find((e) => e.type === 'exited')
  t.match(exited, { name: 'worker', exit: { signal: 'SIGKILL' } }, 'the exit is reported')
  process.kill(restarted.pid!, 'SIGKILL')
  await until('a second restart', () =>
    supervisor.status().find((s) => s.restarts === 2 && s.pid !== null),
  )
  const waits = events.flatMap((e) => (e.type === 'restarting' ? [e.inMs] : []))
  t.same(waits, [100, 200], 'the backoff doubles')
})

t.test('a crash loop is given up on; the other processes keep running', async (t) => {
  const { events, supervisor, spawn } = setup(t)
  const steady = spawn('steady', 'exec sleep 60')
  spawn('crasher', 'exit 1')
  const gaveUp = await until('the crash loop to be given up', () =>
    events.find((e) => e.type === 'gave-up'),
  )
  t.match(gaveUp, { name: 'crasher', reason: /crash loop: 4 exits/ })
  const status = Object.fromEntries(supervisor.status().map((s) => [s.name, s]))
  t.equal(status.crasher!.state, 'failed')
  t.equal(status.crasher!.restarts, 3, 'restarted maxRestarts times, then left stopped')
  t.same(
    events.flatMap((e) => (e.type === 'restarting' ? [e.inMs] : [])),
    [100, 200, 400],
    'backoff capped at maxBackoffMs',
  )
  t.equal(status.steady!.state, 'running')
  t.equal(status.steady!.pid, steady.pid, 'the steady process was never touched')
  // The operator can try again by hand.
  supervisor.start('crasher')
  t.equal(supervisor.status().find((s) => s.name === 'crasher')!.restarts, 4)
})

t.test('exit code 3 (datadir refused) and anvil are not restarted', async (t) => {
  const { dir, events, supervisor, spawn } = setup(t)
  spawn('refused', 'exit 3')
  const gaveUp = await until('give-up', () => events.find((e) => e.type === 'gave-up'))
  t.match(gaveUp, { name: 'refused', reason: /code 3.*datadir/ })
  t.equal(supervisor.status()[0]!.restarts, 0)
  t.notOk(events.some((e) => e.type === 'restarting'))
  // A process that must not come back on its own (anvil: its state is written only on a clean stop).
  supervisor.spawn(
    { name: 'l1', command: 'sh', args: ['-c', 'exit 0'], logFile: `${dir.path}/l1.log` },
    { noRestart: 'its state would be lost' },
  )
  const second = await until('the second give-up', () =>
    events.find((e) => e.type === 'gave-up' && e.name === 'l1'),
  )
  t.match(second, { reason: 'its state would be lost' })
  t.equal(supervisor.status()[1]!.state, 'failed')
})

t.test('stop, start, pause and resume by name, also over the control channel', async (t) => {
  const { dir, supervisor, spawn } = setup(t)
  spawn('a', 'exec sleep 60')
  const b = spawn('b', 'exec sleep 60')
  const layout = devnetLayout(dir.path)
  const server = await startControlServer(layout, supervisor)
  t.teardown(() => server?.close())
  t.ok(server, 'a control socket in the devnet folder')

  // No lock file, then a lock file naming a dead orchestrator: refused before any connection.
  await t.rejects(controlRequest(layout, 'GET', '/processes'), { code: 'DEVNET_NOT_RUNNING' })
  writeFileSync(layout.lockFile, JSON.stringify({ pid: 2 ** 22 + 1, control: server!.socketPath }))
  await t.rejects(controlRequest(layout, 'GET', '/processes'), {
    code: 'DEVNET_NOT_RUNNING',
    message: /is gone/,
  })
  writeFileSync(layout.lockFile, JSON.stringify({ pid: process.pid, control: server!.socketPath }))

  const paused = await controlRequest(layout, 'POST', '/processes/b/pause')
  t.equal(paused.process?.state, 'paused')
  t.equal(procState(b.pid!), 'T', 'SIGSTOP reached the process')
  await t.rejects(controlRequest(layout, 'POST', '/processes/b/pause'), {
    code: 'DEVNET_CONTROL_FAILED',
    message: /b is paused, not running/,
  })
  await controlRequest(layout, 'POST', '/processes/b/resume')
  t.not(procState(b.pid!), 'T', 'SIGCONT: it runs again')

  const stopped = await controlRequest(layout, 'POST', '/processes/a/stop')
  t.equal(stopped.process?.state, 'stopped')
  t.equal(stopped.process?.pid, null)
  await new Promise((r) => setTimeout(r, 300))
  t.equal(supervisor.status()[0]!.state, 'stopped', 'a stopped process is not restarted')
  const started = await controlRequest(layout, 'POST', '/processes/a/start')
  t.equal(started.process?.state, 'running')
  t.ok(started.process?.pid, 'a new pid')

  // A paused process can be stopped (it gets SIGCONT with the SIGTERM).
  await controlRequest(layout, 'POST', '/processes/b/pause')
  const stoppedPaused = await controlRequest(layout, 'POST', '/processes/b/stop')
  t.equal(stoppedPaused.process?.state, 'stopped')

  await t.rejects(controlRequest(layout, 'POST', '/processes/nobody/stop'), {
    code: 'DEVNET_UNKNOWN_PROCESS',
    message: /no devnet process named nobody; the processes are a, b/,
  })
  const { processes } = await controlRequest(layout, 'GET', '/processes')
  t.same(
    processes?.map((p) => [p.name, p.state]),
    [
      ['a', 'running'],
      ['b', 'stopped'],
    ],
  )
})
