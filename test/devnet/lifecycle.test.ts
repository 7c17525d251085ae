/**
 * Devnet lifecycle on the smallest topology (1 validator, 1 relayer): the `sidechain devnet` command prints its
 * steps and summary and stops everything on SIGINT; a second start resumes the same chains and contracts;
 * contradicting flags and a devnet already running are refused; a process that dies is reported with its log and
 * restarted while the rest keeps running; the CLI stops, starts, pauses and resumes one process by name.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import type { DevnetInfo } from '../../chain/devnet/devnet.ts'
import { startDevnet } from '../../chain/devnet/devnet.ts'
import { rpcCall } from '../../chain/devnet/rpc.ts'
import type { SupervisorEvent } from '../../chain/devnet/supervisor.ts'
import { isSidechainError } from '../../chain/lib/errors.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { tempDir } from '../support/chain.ts'
import { CLI, pidAlive, REPO_ROOT, sidechain } from '../support/devnet.ts'

const SMALL = ['--validators', '1', '--relayers', '1', '--threshold', '1']
const FREE_PORTS = [
  ...['--rpc-port', '0', '--p2p-port', '0', '--l1-port', '0'],
  ...['--validator-metrics-port', '0', '--relayer-metrics-port', '0'],
  ...['--explorer-port', '0', '--faucet-port', '0', '--ui-port', '0'],
]
const freePorts = {
  rpcPort: 0,
  p2pPort: 0,
  l1Port: 0,
  validatorMetricsPort: 0,
  relayerMetricsPort: 0,
  explorerPort: 0,
  faucetPort: 0,
  uiPort: 0,
}

t.test('devnet command, resume, refusals, a dying process', async (t) => {
  const dir = tempDir('devnet-life-')
  t.teardown(() => dir.remove())

  // ---- the CLI: progress, summary, SIGINT stops everything
  const child = spawn(
    process.execPath,
    [CLI, 'devnet', '--datadir', dir.path, ...SMALL, ...FREE_PORTS],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const deadline = Date.now() + 90_000
  while (!/ready in [\d.]+ s/.test(stdout)) {
    if (child.exitCode !== null) throw new Error(`devnet exited early: ${stdout}\n${stderr}`)
    if (Date.now() > deadline) throw new Error(`devnet not ready in time: ${stdout}\n${stderr}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  for (let k = 1; k <= 9; k++) t.match(stdout, `[${k}/9] `, `step ${k}/9 shown`)
  for (const part of [
    'SidechainBridge',
    'BridgeVault',
    'Multicall3       0xcA11bde05977b3631167028862bE2a173976CA11',
    'CREATE2 deployer 0x4e59b44847b379578588920cA78FbF26c0B4956C',
    '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
    'devnet.json',
    'logs',
  ]) {
    t.match(stdout, part, `summary shows ${part}`)
  }
  const lock = JSON.parse(readFileSync(`${dir.path}/devnet.lock`, 'utf8')) as {
    pid: number
    processes: Array<{ name: string; pid: number }>
  }
  t.equal(lock.pid, child.pid)
  t.same(lock.processes.map((p) => p.name).sort(), ['anvil', 'relayer-0', 'validator-0'])
  const first = JSON.parse(readFileSync(`${dir.path}/devnet.json`, 'utf8')) as DevnetInfo
  const firstHead = Number(await rpcCall<string>(first.l2.rpcUrls[0]!, 'eth_blockNumber'))
  const firstL1Head = Number(await rpcCall<string>(first.l1.rpcUrl, 'eth_blockNumber'))

  // ---- a second start on the same folder while it runs is refused
  await t.rejects(
    startDevnet({ datadir: dir.path, ...freePorts }),
    { code: 'DEVNET_BUSY' },
    'a running devnet is not started twice',
  )

  child.kill('SIGINT')
  t.equal(await exited, 0, 'SIGINT: clean exit')
  t.match(stdout, /devnet stopped/)
  t.same(
    lock.processes.filter((p) => pidAlive(p.pid)).map((p) => p.name),
    [],
    'no process left after SIGINT',
  )
  t.notOk(existsSync(`${dir.path}/devnet.lock`))

  // ---- flags that contradict the saved devnet
  const conflict = await startDevnet({ datadir: dir.path, validators: 2, ...freePorts }).catch(
    (e: unknown) => e,
  )
  t.ok(isSidechainError(conflict, 'DEVNET_FLAGS_INVALID'), 'contradicting flags refused')
  t.match((conflict as Error).message, /--validators 2 \(it has 1\).*--fresh/)
  t.notOk(existsSync(`${dir.path}/devnet.lock`), 'nothing was started')

  // ---- resume: same chains, same contracts, heights continue
  const events: SupervisorEvent[] = []
  const devnet = await startDevnet(
    { datadir: dir.path, threshold: 1, ...freePorts },
    { onProcessEvent: (e) => events.push(e) },
  )
  t.teardown(() => devnet.stop())
  t.equal(devnet.resumed, true)
  t.equal(devnet.info.l1.vault, first.l1.vault)
  t.equal(devnet.info.l2.bridge, first.l2.bridge)
  t.same(
    devnet.info.validators.map((v) => v.address),
    first.validators.map((v) => v.address),
  )
  t.same(
    devnet.info.relayers.map((r) => r.address),
    first.relayers.map((r) => r.address),
  )
  t.ok(
    Number(await rpcCall<string>(devnet.info.l2.rpcUrls[0]!, 'eth_blockNumber')) > firstHead,
    'the sidechain continues from its saved head',
  )
  t.ok(
    Number(await rpcCall<string>(devnet.info.l1.rpcUrl, 'eth_blockNumber')) > firstL1Head,
    'the L1 continues from its saved state',
  )

  // ---- a validator dies: reported, restarted with a new pid, the chain continues; the rest untouched
  const before = devnet.processes()
  const validator = before.find((p) => p.name === 'validator-0')!
  const headBefore = Number(await rpcCall<string>(devnet.info.l2.rpcUrls[0]!, 'eth_blockNumber'))
  process.kill(validator.pid, 'SIGKILL')
  const restarted = await pollUntil(
    () =>
      devnet.control
        .status()
        .find((p) => p.name === 'validator-0' && p.state === 'running' && p.restarts === 1),
    { what: 'validator-0 restarted', timeoutMs: 30_000 },
  )
  t.not(restarted.pid, validator.pid, 'a new validator process')
  t.match(
    events.find((e) => e.type === 'exited'),
    { name: 'validator-0', exit: { signal: 'SIGKILL' }, logFile: /validator-0\.log$/ },
    'the exit is reported with its log',
  )
  t.ok(events.some((e) => e.type === 'restarting' && e.name === 'validator-0'))
  await pollUntil(
    async () =>
      Number(
        await rpcCall<string>(devnet.info.l2.rpcUrls[0]!, 'eth_blockNumber').catch(() => '0x0'),
      ) >
      headBefore + 1,
    { what: 'the restarted validator to seal blocks again', timeoutMs: 30_000 },
  )
  t.same(
    before.filter((p) => p.name !== 'validator-0' && !pidAlive(p.pid)).map((p) => p.name),
    [],
    'the other processes kept running',
  )
  const relock = JSON.parse(readFileSync(`${dir.path}/devnet.lock`, 'utf8')) as typeof lock
  t.equal(
    relock.processes.find((p) => p.name === 'validator-0')?.pid,
    restarted.pid,
    'the lock file names the new pid',
  )

  // ---- the control channel from the real CLI: status, pause/resume, stop/start by name
  const ctl = (...args: string[]) => sidechain(['devnet', ...args, '--datadir', dir.path])
  const status = await ctl('status')
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /validator-0\s+running pid \d+, 1 restart/)
  t.match((await ctl('pause', 'relayer-0')).stdout, /relayer-0\s+paused/)
  t.match((await ctl('resume', 'relayer-0')).stdout, /relayer-0\s+running/)
  t.match((await ctl('stop', 'relayer-0')).stdout, /relayer-0\s+stopped/)
  t.match((await ctl('start', 'relayer-0')).stdout, /relayer-0\s+running pid \d+/)
  const unknown = await ctl('stop', 'validator-9')
  t.equal(unknown.code, 2, 'an unknown name is bad input')
  t.match(unknown.stderr, /DEVNET_UNKNOWN_PROCESS.*no devnet process named validator-9/s)

  await devnet.stop()
  t.notOk(existsSync(`${dir.path}/devnet.lock`))
  const gone = await ctl('status')
  t.equal(gone.code, 1)
  t.match(gone.stderr, /DEVNET_NOT_RUNNING/)
})
