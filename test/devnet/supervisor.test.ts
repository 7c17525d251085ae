/**
 * Acceptance of the devnet as a supervisor, through the command `npm start` runs (`sidechain devnet`, default
 * topology: 4 validators, 3 relayers): `kill -9` of one validator process leaves the devnet running; the other
 * three keep producing blocks all through the outage (their heights are sampled while it is down and must keep
 * rising); the devnet reports the death and restarts the validator (a new pid in the lock file), which catches up
 * with the others.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { DevnetInfo } from '../../chain/devnet/devnet.ts'
import { rpcCall } from '../../chain/devnet/rpc.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { tempDir } from '../support/chain.ts'
import { CLI, pidAlive, REPO_ROOT } from '../support/devnet.ts'

const FREE_PORTS = [
  ...['--rpc-port', '0', '--p2p-port', '0', '--l1-port', '0'],
  ...['--validator-metrics-port', '0', '--relayer-metrics-port', '0'],
  ...['--explorer-port', '0', '--faucet-port', '0', '--ui-port', '0'],
]

interface Lock {
  pid: number
  processes: Array<{ name: string; pid: number }>
}

t.test(
  'npm start: kill -9 of a validator; the rest keeps producing, it is restarted and catches up',
  async (t) => {
    const dir = tempDir('devnet-supervisor-')
    t.teardown(() => dir.remove())
    const child = spawn(process.execPath, [CLI, 'devnet', '--datadir', dir.path, ...FREE_PORTS], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    t.teardown(async () => {
      if (child.exitCode === null) {
        child.kill('SIGINT')
        await exited
      }
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    await pollUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`devnet exited early: ${stdout}\n${stderr}`)
        return /ready in [\d.]+ s/.test(stdout)
      },
      { what: 'the devnet to be ready', timeoutMs: 180_000, intervalMs: 200 },
    )
    const info = JSON.parse(readFileSync(`${dir.path}/devnet.json`, 'utf8')) as DevnetInfo
    const lock = JSON.parse(readFileSync(`${dir.path}/devnet.lock`, 'utf8')) as Lock
    t.equal(info.l2.rpcUrls.length, 4, 'the default topology: 4 validators')
    const head = (url: string) => rpcCall<string>(url, 'eth_blockNumber', [], 1_500).then(Number)
    const victim = lock.processes.find((p) => p.name === 'validator-2')!
    const others = [0, 1, 3].map((i) => info.l2.rpcUrls[i]!)

    process.kill(victim.pid, 'SIGKILL')
    const killedAt = Date.now()
    const start = await Promise.all(others.map(head))
    // Sample the others while validator-2 is down or still starting: each must keep rising.
    const samples: number[][] = [start]
    const lastRise = others.map(() => killedAt)
    let longestStall = 0
    for (;;) {
      await new Promise((r) => setTimeout(r, 500))
      const now = Date.now()
      const heights = await Promise.all(others.map(head))
      heights.forEach((h, k) => {
        if (h > samples.at(-1)![k]!) lastRise[k] = now
        longestStall = Math.max(longestStall, now - lastRise[k]!)
      })
      samples.push(heights)
      const back = await head(info.l2.rpcUrls[2]!).then(
        () => true,
        () => false,
      )
      if (back && now - killedAt > 3_000) break
      if (now - killedAt > 90_000) throw new Error('validator-2 did not come back in 90 s')
    }
    const outageMs = Date.now() - killedAt
    const end = samples.at(-1)!
    t.comment(
      `outage ${outageMs} ms; the others went ${start.map((h, k) => `${h}->${end[k]}`).join(', ')}; longest stall ${longestStall} ms`,
    )
    for (const [k, url] of others.entries()) {
      t.ok(
        end[k]! >= start[k]! + 2,
        `${url} kept producing during the outage (${start[k]} -> ${end[k]})`,
      )
    }
    t.ok(
      longestStall < 10_000,
      `no validator went 10 s without a block (longest ${longestStall} ms)`,
    )
    t.equal(child.exitCode, null, 'the devnet is still running')
    t.match(
      stderr,
      /validator-2 was killed by SIGKILL; its log is .*validator-2\.log/,
      'the death is reported',
    )
    t.match(stdout, /validator-2: restart #1 in 1\.0 s; the rest keeps running/)
    t.match(stdout, /validator-2 started again \(pid \d+\)/)

    const relock = JSON.parse(readFileSync(`${dir.path}/devnet.lock`, 'utf8')) as Lock
    const reborn = relock.processes.find((p) => p.name === 'validator-2')!
    t.not(reborn.pid, victim.pid, 'a new validator-2 process')
    t.ok(pidAlive(reborn.pid))
    t.same(
      lock.processes.filter((p) => p.name !== 'validator-2' && !pidAlive(p.pid)).map((p) => p.name),
      [],
      'nothing else was stopped',
    )

    // It catches up: same head (within a block) and the same hash at a common height.
    const caughtUp = await pollUntil(
      async () => {
        const [mine, theirs] = await Promise.all([head(info.l2.rpcUrls[2]!), head(others[0]!)])
        return mine >= theirs - 1 && mine > end[0]! ? mine : undefined
      },
      { what: 'validator-2 to catch up', timeoutMs: 60_000, retryIf: () => true },
    )
    const at = `0x${(caughtUp - 1).toString(16)}`
    const hashes = await Promise.all(
      info.l2.rpcUrls.map((u) =>
        rpcCall<{ hash: string }>(u, 'eth_getBlockByNumber', [at, false]).then((b) => b.hash),
      ),
    )
    t.equal(
      new Set(hashes).size,
      1,
      `one chain: every validator has the same block ${caughtUp - 1}`,
    )

    child.kill('SIGINT')
    t.equal(await exited, 0, 'Ctrl-C still stops it cleanly')
    t.same(
      relock.processes.filter((p) => pidAlive(p.pid)).map((p) => p.name),
      [],
      'nothing left running',
    )
  },
)
