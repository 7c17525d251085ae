/**
 * The image and docker/compose.yaml on a real Docker engine, used as a validator operator would: the image is
 * built from docker/Dockerfile on a local Debian base (no public registry answers here), the compose network (an
 * anvil L1, 4 validators, 3 relayers) runs with every service on the host network and its own loopback ports,
 * and then: `cast block-number` on each validator, the validators agree on hashes, a bridge deposit and a
 * withdrawal through the containers' relayers, `docker-compose restart validator-2` catches up, `down` then `up`
 * resumes the chains from the volumes, and `down -v` leaves no container, volume or process.
 *
 * Runs with `npm run test:docker` (SIDECHAIN_DOCKER_TEST=1); inside `npm test` it is skipped, because it takes
 * minutes and both cores. When no engine can start (no dockerd, not root) it is skipped with the reason, unless
 * SIDECHAIN_DOCKER_REQUIRED=1 (CI), where that is a failure.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import type { DevnetInfo } from '../../chain/devnet/devnet.ts'
import { freePorts } from '../../chain/devnet/processes.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { tempDir } from '../support/chain.ts'
import { cast, pidAlive, REPO_ROOT, sidechain } from '../support/devnet.ts'
import {
  buildImage,
  type ContainerState,
  composeRunner,
  DOCKER_CLI,
  type DockerEngine,
  ensureDockerEngine,
  ensureLocalBaseImage,
  type HostPorts,
  imageSizeBytes,
  LOCAL_BASE_IMAGE,
  mustRun,
  projectContainers,
  projectVolumes,
  writeTestComposeFile,
} from '../support/docker.ts'

const IMAGE = 'sidechain:docker-test'
const PROJECT = `sidechain-test-${process.pid}`
const VALIDATORS = ['validator-0', 'validator-1', 'validator-2', 'validator-3']
const LONG_RUNNING = ['anvil', ...VALIDATORS, 'relayer-0', 'relayer-1', 'relayer-2']
const ONE_SHOT = ['init', 'deploy']

if (process.env.SIDECHAIN_DOCKER_TEST !== '1') {
  t.plan(0, 'the Docker test runs with `npm run test:docker` (CI runs it after `npm test`)')
} else {
  await main()
}

async function main(): Promise<void> {
  const dir = tempDir('docker-test-')
  let engine: DockerEngine
  try {
    engine = await ensureDockerEngine(path.join(dir.path, 'dockerd.log'))
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    if (process.env.SIDECHAIN_DOCKER_REQUIRED === '1') {
      t.fail(`no Docker engine can start here: ${reason}`)
    } else {
      t.plan(0, `no Docker engine can start here: ${reason}`)
    }
    dir.remove()
    return
  }
  await t.test('the image and docker/compose.yaml on a real engine', (t) =>
    containers(t, engine, dir),
  )
}

async function containers(
  t: Test,
  engine: DockerEngine,
  dir: { path: string; remove(): void },
): Promise<void> {
  const env = { ...process.env, SIDECHAIN_IMAGE: IMAGE }
  const ports: HostPorts = await (async () => {
    const p = await freePorts(16)
    return {
      l1: p[0]!,
      rpc: p.slice(1, 5),
      p2p: p.slice(5, 9),
      metrics: p.slice(9, 13),
      relayerMetrics: p.slice(13, 16),
    }
  })()
  const rpcUrl = (i: number) => `http://127.0.0.1:${ports.rpc[i]}`
  let compose: ReturnType<typeof composeRunner> | undefined
  t.teardown(async () => {
    if (compose !== undefined && (await containersOf(PROJECT)).length > 0) {
      const logs = await compose(['logs', '--no-color', '--tail=40'])
      if (t.passing() === false) process.stderr.write(logs.stdout)
      await compose(['down', '-v', '--timeout=10'])
    }
    await engine.stop()
    dir.remove()
  })
  const figures: Record<string, string> = {}
  // Every volume a container of the project mounted, named or anonymous: `down -v` must remove them all.
  const mountedVolumes = new Set<string>()
  async function containersOf(project: string): Promise<ContainerState[]> {
    const containers = await projectContainers(project)
    for (const c of containers) for (const v of c.volumes) mountedVolumes.add(v)
    return containers
  }

  await t.test(
    'the image: local Debian base, unprivileged, no compilers or dev dependencies',
    async (t) => {
      const baseSeconds = await ensureLocalBaseImage()
      figures['base image'] =
        baseSeconds === null ? 'cached' : `${baseSeconds.toFixed(0)} s (debootstrap + import)`
      const buildSeconds = await buildImage(IMAGE, LOCAL_BASE_IMAGE, {
        logFile: path.join(dir.path, 'build.log'),
      })
      figures['image build'] = `${buildSeconds.toFixed(0)} s`
      const size = await imageSizeBytes(IMAGE)
      figures['image size'] = `${(size / 1e6).toFixed(0)} MB`
      t.ok(size > 0, `image size ${figures['image size']}`)
      const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean }>
      }
      const { devDependencies } = JSON.parse(
        readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'),
      ) as { devDependencies: Record<string, string> }
      // Dev dependencies that nothing at runtime needs (typescript, a peer of viem, is not one of them).
      const devOnly = Object.keys(devDependencies).filter(
        (name) => lock.packages[`node_modules/${name}`]?.dev === true,
      )
      t.ok(devOnly.includes('tap') && devOnly.includes('node'), `dev-only: ${devOnly.join(' ')}`)
      const probe = await mustRun(DOCKER_CLI, [
        'run',
        '--rm',
        '--network=host',
        '--entrypoint=sh',
        IMAGE,
        '-c',
        'id -u; node --version; for c in gcc cc g++ c++ clang make python3 npm; do command -v "$c" || true; done; echo ---; cd /app/node_modules && for p in "$@"; do [ -e "$p" ] && echo "$p"; done; true',
        'sh',
        ...devOnly,
      ])
      const [head, found] = probe.split('---\n') as [string, string]
      const [uid, nodeVersion, ...tools] = head.trim().split('\n')
      t.not(uid, '0', 'the image runs as an unprivileged user')
      t.match(nodeVersion, /^v24\./, 'on the pinned Node 24')
      t.same(tools, [], 'no compiler, build tool or npm at runtime')
      t.same(found.trim().split('\n').filter(Boolean), [], 'no dev dependency in the image')
    },
  )

  const composeFile = await writeTestComposeFile(ports, dir.path, env)
  compose = composeRunner(PROJECT, composeFile, env)
  const up = compose

  /** Waits until init and deploy have exited 0 and every long-running service reports healthy. */
  async function allHealthy(what: string): Promise<ContainerState[]> {
    return pollUntil(
      async () => {
        const containers = await containersOf(PROJECT)
        // A long-running service the engine had to restart did not start (a broken image or entrypoint).
        const crashed = containers.find(
          (c) => LONG_RUNNING.includes(c.service) && c.restartCount > 0,
        )
        if (crashed !== undefined) {
          const logs = await up(['logs', '--no-color', '--tail=20', crashed.service])
          throw new Error(
            `${crashed.service} exited ${crashed.exitCode} and was restarted ${crashed.restartCount} times:\n${logs.stdout}`,
          )
        }
        for (const service of ONE_SHOT) {
          const c = containers.find((x) => x.service === service)
          // deploy may retry (restart: on-failure:3), init may not.
          const retries = service === 'deploy' ? 3 : 0
          if (c !== undefined && !c.running && c.exitCode !== 0 && c.restartCount >= retries) {
            throw new Error(`${service} exited ${c.exitCode}`)
          }
          if (c === undefined || c.running || c.exitCode !== 0) return false
        }
        const healthy = LONG_RUNNING.every(
          (s) => containers.find((c) => c.service === s)?.health === 'healthy',
        )
        return healthy && containers
      },
      { what, timeoutMs: 420_000, intervalMs: 1_000 },
    )
  }

  async function blockNumber(i: number): Promise<number> {
    return Number(await cast(['block-number', '--rpc-url', rpcUrl(i)]))
  }
  async function blockHash(i: number, n: number): Promise<string> {
    return cast(['block', String(n), '--field', 'hash', '--rpc-url', rpcUrl(i)])
  }

  await t.test(
    'docker-compose up: every service healthy; cast on each validator; one chain',
    async (t) => {
      const started = Date.now()
      const result = await up(['up', '-d', '--no-build'])
      t.equal(result.code, 0, `docker-compose up ${result.stderr.slice(-2000)}`)
      if (result.code !== 0) return
      await allHealthy('every service healthy after up')
      figures['compose up to all healthy'] = `${((Date.now() - started) / 1000).toFixed(0)} s`
      const heights = await Promise.all(VALIDATORS.map((_, i) => blockNumber(i)))
      for (const [i, h] of heights.entries())
        t.ok(h > 0, `cast block-number on validator-${i}: ${h}`)
      const common = Math.min(...heights)
      const hashes = await Promise.all(VALIDATORS.map((_, i) => blockHash(i, common)))
      t.match(hashes[0], /^0x[0-9a-f]{64}$/)
      t.same(new Set(hashes).size, 1, `the four validators agree on block ${common}: ${hashes[0]}`)
    },
  )

  const networkFile = path.join(dir.path, 'devnet.json')
  await t.test('a deposit and a withdrawal through the relayers in the containers', async (t) => {
    // The user's way to the generated network file: read it out of the network volume.
    const info = await mustRun(DOCKER_CLI, [
      'run',
      '--rm',
      '--network=host',
      '-v',
      `${PROJECT}_network:/network:ro`,
      '--entrypoint=cat',
      IMAGE,
      '/network/devnet.json',
    ])
    writeFileSync(networkFile, info)
    const network = JSON.parse(info) as DevnetInfo
    t.same(
      network.l2.rpcUrls,
      VALIDATORS.map((_, i) => rpcUrl(i)),
      'devnet.json names the validators',
    )
    t.equal(network.relayers.length, 3)
    const key = { SIDECHAIN_PRIVATE_KEY: DEV_ACCOUNTS[4].privateKey }
    const deposit = await sidechain(
      [
        'bridge',
        'deposit',
        '--network',
        networkFile,
        '--amount',
        '1',
        '--json',
        '--timeout',
        '150',
      ],
      { env: key, timeoutMs: 180_000 },
    )
    t.equal(deposit.code, 0, `deposit ${deposit.stdout} ${deposit.stderr}`)
    t.equal((JSON.parse(deposit.stdout) as { status: string }).status, 'minted')
    const withdraw = await sidechain(
      [
        'bridge',
        'withdraw',
        '--network',
        networkFile,
        '--amount',
        '0.5',
        '--json',
        '--timeout',
        '300',
      ],
      { env: key, timeoutMs: 330_000 },
    )
    t.equal(withdraw.code, 0, `withdraw ${withdraw.stdout} ${withdraw.stderr}`)
    t.equal((JSON.parse(withdraw.stdout) as { status: string }).status, 'released')
  })

  await t.test('docker-compose restart validator-2: it comes back and catches up', async (t) => {
    const before = (await containersOf(PROJECT)).find((c) => c.service === 'validator-2')!
    const result = await up(['restart', 'validator-2'])
    t.equal(result.code, 0, `restart ${result.stderr}`)
    const after = (await containersOf(PROJECT)).find((c) => c.service === 'validator-2')!
    t.not(after.pid, before.pid, 'a new node process')
    const target = (await blockNumber(0)) + 3
    await pollUntil(async () => (await blockNumber(2).catch(() => 0)) >= target, {
      what: `validator-2 at block ${target}`,
      // A restarted node loads its modules, opens its database and syncs; on a loaded machine that is minutes.
      timeoutMs: 240_000,
      intervalMs: 500,
    })
    t.equal(await blockHash(2, target), await blockHash(0, target), `same block ${target}`)
    await allHealthy('validator-2 healthy again')
  })

  await t.test('docker-compose down, then up: the chains resume from the volumes', async (t) => {
    const height = await blockNumber(0)
    const hash = await blockHash(0, height)
    const down = await up(['down', '--timeout=30'])
    t.equal(down.code, 0, `down ${down.stderr}`)
    t.same(await containersOf(PROJECT), [], 'no container after down')
    t.equal((await projectVolumes(PROJECT)).length, 9, 'the volumes stay')
    const result = await up(['up', '-d', '--no-build'])
    t.equal(result.code, 0, `up ${result.stderr.slice(-2000)}`)
    if (result.code !== 0) return
    await allHealthy('every service healthy after down and up')
    const deployLog = await up(['logs', '--no-color', 'deploy'])
    t.match(deployLog.stdout, /checking the vault/, 'deploy found its contracts and only checked')
    for (const [i] of VALIDATORS.entries()) {
      t.equal(await blockHash(i, height), hash, `validator-${i} still has block ${height}`)
    }
    await pollUntil(async () => (await blockNumber(3)) > height + 2, {
      what: 'the chain to grow after up',
      timeoutMs: 120_000,
      intervalMs: 500,
    })
    t.pass(`the chain went on past block ${height}`)
  })

  await t.test('docker-compose down -v leaves no container, volume or process', async (t) => {
    const containers = await containersOf(PROJECT)
    const pids = containers.map((c) => c.pid).filter((pid) => pid > 0)
    t.ok(pids.length >= LONG_RUNNING.length, 'the running services have processes')
    const result = await up(['down', '-v', '--timeout=30'])
    t.equal(result.code, 0, `down -v ${result.stderr}`)
    t.same(await containersOf(PROJECT), [], 'no container')
    t.same(await projectVolumes(PROJECT), [], 'no volume of the project')
    const left = (await mustRun(DOCKER_CLI, ['volume', 'ls', '-q'])).split('\n')
    t.ok(mountedVolumes.size >= 9, `${mountedVolumes.size} volumes were mounted`)
    t.same(
      left.filter((v) => mountedVolumes.has(v)),
      [],
      'no volume any of its containers mounted, anonymous ones included',
    )
    t.same(pids.filter(pidAlive), [], 'no process')
  })

  const summary = `figures: ${Object.entries(figures)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`
  t.comment(summary)
  process.stderr.write(`${summary}\n`)
}
