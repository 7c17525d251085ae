/**
 * A real Docker engine for the container tests: the engine itself (started here when none runs), the local
 * Debian base image (debootstrap + docker import, since no public image registry answers on these machines), the
 * project image built from docker/Dockerfile on it, and docker-compose runs of docker/compose.yaml with an override
 * that puts every service on the host network with its own loopback ports.
 *
 * Debian's docker.io ships a client matching its engine at /usr/bin/docker; a newer client earlier in PATH may
 * speak an API the engine does not, so the matching one is preferred (SIDECHAIN_DOCKER_CLI overrides).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse, stringify } from 'yaml'
import { pollUntil } from '../../chain/lib/poll.ts'
import { REPO_ROOT } from './devnet.ts'

export const DOCKER_CLI =
  process.env.SIDECHAIN_DOCKER_CLI ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker')
export const COMPOSE_CLI = process.env.SIDECHAIN_COMPOSE_CLI ?? 'docker-compose'
/** The base the test builds the image on; made once per engine and kept (its data root caches it between runs). */
export const LOCAL_BASE_IMAGE = 'local/debian:bookworm'
const DEBIAN_MIRROR = 'http://deb.debian.org/debian'

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command to completion; never rejects on a non-zero exit (the caller asserts on `code`). */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      {
        env: options.env ?? process.env,
        cwd: options.cwd ?? REPO_ROOT,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code =
          err === null ? 0 : typeof err.code === 'number' ? err.code : err.killed ? 124 : 1
        resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr })
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/** Like runCommand, but a non-zero exit throws with the command's output. */
export async function mustRun(
  command: string,
  args: string[],
  options: Parameters<typeof runCommand>[2] = {},
): Promise<string> {
  const result = await runCommand(command, args, options)
  if (result.code !== 0) {
    throw new Error(
      `${path.basename(command)} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`,
    )
  }
  return result.stdout
}

export interface DockerEngine {
  /** Whether this process started dockerd (and stops it in `stop`). */
  started: boolean
  logFile: string | undefined
  stop(): Promise<void>
}

async function engineAnswers(): Promise<boolean> {
  const info = await runCommand(DOCKER_CLI, ['info', '--format', '{{.ServerVersion}}'], {
    timeoutMs: 15_000,
  })
  return info.code === 0
}

/**
 * The running engine, or one started here: `dockerd --bridge=none --iptables=false` (no bridge network and no
 * firewall rules: containers use the host network only), default data root, its output in `logFile`. Throws with
 * the reason when no engine can run (no dockerd, not root, or it does not come up).
 */
export async function ensureDockerEngine(logFile: string): Promise<DockerEngine> {
  if (await engineAnswers()) return { started: false, logFile: undefined, stop: async () => {} }
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p))
  if (dockerd === undefined)
    throw new Error('no Docker engine answers and dockerd is not installed')
  if (process.getuid?.() !== 0) throw new Error('no Docker engine answers and dockerd needs root')
  const log = openSync(logFile, 'a')
  const daemon: ChildProcess = spawn(dockerd, ['--bridge=none', '--iptables=false'], {
    stdio: ['ignore', log, log],
    detached: true,
  })
  let exited: number | null | undefined
  daemon.once('exit', (code) => {
    exited = code
  })
  await pollUntil(() => engineAnswers(), {
    what: `dockerd to answer (log: ${logFile})`,
    timeoutMs: 60_000,
    intervalMs: 500,
    guard: () => {
      if (exited !== undefined) throw new Error(`dockerd exited with ${exited}; see ${logFile}`)
    },
  })
  return {
    started: true,
    logFile,
    stop: async () => {
      if (exited !== undefined || daemon.pid === undefined) return
      const gone = new Promise<void>((resolve) => daemon.once('exit', () => resolve()))
      daemon.kill('SIGTERM')
      await gone
    },
  }
}

export async function imageExists(image: string): Promise<boolean> {
  return (
    (await runCommand(DOCKER_CLI, ['image', 'inspect', image], { timeoutMs: 15_000 })).code === 0
  )
}

/**
 * The local Debian base, built once: `debootstrap --variant=minbase bookworm` then `docker import`. The apt
 * downloads and package lists are dropped first: the build stage fetches fresh lists, and the runtime stage
 * should not carry them. Returns the seconds spent, or null when the image already existed.
 */
export async function ensureLocalBaseImage(): Promise<number | null> {
  if (await imageExists(LOCAL_BASE_IMAGE)) return null
  const started = Date.now()
  const work = mkdtempSync(path.join(tmpdir(), 'debian-base-'))
  try {
    const rootfs = path.join(work, 'rootfs')
    await mustRun('debootstrap', ['--variant=minbase', 'bookworm', rootfs, DEBIAN_MIRROR], {
      timeoutMs: 600_000,
    })
    rmSync(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true })
    rmSync(path.join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true })
    await mustRun(
      'sh',
      ['-c', `tar -C "$1" -c . | "$2" import - "$3"`, 'sh', rootfs, DOCKER_CLI, LOCAL_BASE_IMAGE],
      { timeoutMs: 300_000 },
    )
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return (Date.now() - started) / 1000
}

/** The CA bundle npm uses on this machine (a TLS-inspecting proxy needs it inside the build too), if any. */
function npmCaFile(): string | undefined {
  return [
    process.env.npm_config_cafile,
    process.env.NODE_EXTRA_CA_CERTS,
    process.env.SSL_CERT_FILE,
  ].find((f) => f !== undefined && f !== '' && existsSync(f))
}

/**
 * Builds docker/Dockerfile with BuildKit on `baseImage`, on the host network (the engine has no bridge), tagged
 * `tag`. Layers and the npm cache mount stay in the engine, so a second build in one run is quick.
 */
export async function buildImage(
  tag: string,
  baseImage: string,
  options: { logFile: string; timeoutMs?: number },
): Promise<number> {
  const started = Date.now()
  // A failed build must not leave an image of an earlier run under this tag for the next
  // steps to start (the layers stay cached; only the name goes).
  await runCommand(DOCKER_CLI, ['image', 'rm', '--force', tag], { timeoutMs: 60_000 })
  const ca = npmCaFile()
  const args = [
    'build',
    '--network=host',
    '--progress=plain',
    '-f',
    'docker/Dockerfile',
    '--build-arg',
    `BASE_IMAGE=${baseImage}`,
    ...(ca === undefined ? [] : ['--secret', `id=ca,src=${ca}`]),
    '-t',
    tag,
    '.',
  ]
  const result = await runCommand(DOCKER_CLI, args, {
    env: { ...process.env, DOCKER_BUILDKIT: '1' },
    timeoutMs: options.timeoutMs ?? 1_200_000,
  })
  writeFileSync(options.logFile, `${result.stdout}\n${result.stderr}`)
  if (result.code !== 0) {
    throw new Error(
      `docker build failed (${result.code}); log: ${options.logFile}\n${result.stderr.slice(-4000)}`,
    )
  }
  return (Date.now() - started) / 1000
}

export async function imageSizeBytes(image: string): Promise<number> {
  return Number(
    (await mustRun(DOCKER_CLI, ['image', 'inspect', '--format', '{{.Size}}', image])).trim(),
  )
}

export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker/compose.yaml')

/** The loopback ports of one test network; every list is indexed by validator or relayer. */
export interface HostPorts {
  l1: number
  rpc: number[]
  p2p: number[]
  metrics: number[]
  relayerMetrics: number[]
}

interface ComposeService {
  command?: string[]
  environment?: Record<string, string>
  healthcheck?: Record<string, unknown>
}

/** `--name=value` set to `value` in a command list (the compose file writes every flag that way). */
function withFlag(command: string[], name: string, value: string): string[] {
  const i = command.findIndex((a) => a.startsWith(`${name}=`))
  if (i < 0)
    throw new Error(`docker/compose.yaml: ${command.slice(0, 2).join(' ')} has no ${name}=`)
  return command.map((a, j) => (j === i ? `${name}=${value}` : a))
}

function withFlags(command: string[], flags: Record<string, string>): string[] {
  return Object.entries(flags).reduce((c, [name, value]) => withFlag(c, name, value), command)
}

/**
 * The test override of docker/compose.yaml: every service on the host network (no bridge or user-defined
 * network), listening on 127.0.0.1 only, each on its own port, and the addresses between services rewritten from
 * service names to those ports. Commands are derived from the base file's own, flag by flag, so a flag added
 * there is kept; a flag this override relies on that disappears there fails here loudly.
 */
export function hostNetworkOverride(ports: HostPorts): string {
  const base = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>
  }
  const loopback = (port: number) => `http://127.0.0.1:${port}`
  const services: Record<string, Record<string, unknown>> = {}
  // Checked more often than the image's 10 s so the test does not wait long, but with more patience per check:
  // each check starts a Node process, and on a loaded machine that alone can take seconds.
  const healthcheck = { interval: '5s', timeout: '20s', retries: 5, start_period: '180s' }
  for (const [name, service] of Object.entries(base.services)) {
    let command = service.command ?? []
    const environment: Record<string, string> = {}
    const validator = /^validator-(\d+)$/.exec(name)
    const relayer = /^relayer-(\d+)$/.exec(name)
    if (name === 'anvil') {
      command = withFlags(command, { '--host': '127.0.0.1', '--port': String(ports.l1) })
      environment.SIDECHAIN_HEALTHCHECK_URL = loopback(ports.l1)
    } else if (name === 'init') {
      command = withFlag(
        command,
        '--validator-hosts',
        ports.p2p.map((p) => `127.0.0.1:${p}`).join(','),
      )
    } else if (validator !== null) {
      const i = Number(validator[1])
      command = withFlags(command, {
        '--rpc-host': '127.0.0.1',
        '--rpc-port': String(ports.rpc[i]),
        '--p2p-host': '127.0.0.1',
        '--p2p-port': String(ports.p2p[i]),
        '--metrics-host': '127.0.0.1',
        '--metrics-port': String(ports.metrics[i]),
      })
      environment.SIDECHAIN_HEALTHCHECK_URL = loopback(ports.rpc[i]!)
    } else if (name === 'deploy') {
      command = withFlags(command, {
        '--l1-rpc': loopback(ports.l1),
        '--sidechain-rpc': loopback(ports.rpc[0]!),
        '--relayer-sidechain-rpcs': ports.rpc.slice(0, 3).map(loopback).join(','),
        '--metrics-host': '127.0.0.1',
        '--metrics-ports': ports.relayerMetrics.join(','),
        '--public-l1-rpc': loopback(ports.l1),
        '--public-sidechain-rpcs': ports.rpc.map(loopback).join(','),
        '--public-relayer-metrics-urls': ports.relayerMetrics
          .map((p) => `${loopback(p)}/metrics`)
          .join(','),
        '--public-validator-metrics-urls': ports.metrics
          .map((p) => `${loopback(p)}/metrics`)
          .join(','),
      })
    } else if (relayer !== null) {
      environment.SIDECHAIN_HEALTHCHECK_URL = `${loopback(ports.relayerMetrics[Number(relayer[1])]!)}/health`
    } else {
      throw new Error(`docker/compose.yaml: the test override does not know the service ${name}`)
    }
    services[name] = {
      network_mode: 'host',
      command,
      ...(Object.keys(environment).length > 0 ? { environment } : {}),
      ...(service.healthcheck?.disable === true ? {} : { healthcheck }),
    }
  }
  return stringify({ services }, { aliasDuplicateObjects: false })
}

/**
 * The file the test runs: docker/compose.yaml merged with the host-network override by docker-compose itself
 * (`config`, which also validates both), minus the published ports. docker-compose 1.29 refuses port bindings on
 * a host-network container ("host" network_mode is incompatible with port_bindings) and an override cannot remove
 * list entries, so they are dropped here; with host networking they would bind nothing anyway.
 */
export async function writeTestComposeFile(
  ports: HostPorts,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const override = path.join(dir, 'compose.host-network.yaml')
  writeFileSync(override, hostNetworkOverride(ports))
  const merged = parse(
    await mustRun(COMPOSE_CLI, ['-f', COMPOSE_FILE, '-f', override, 'config'], { env }),
  ) as { services: Record<string, Record<string, unknown>> }
  for (const service of Object.values(merged.services)) {
    if (service.network_mode !== 'host') throw new Error('a service is not on the host network')
    delete service.ports
  }
  const file = path.join(dir, 'compose.test.yaml')
  // YAML 1.1, as docker-compose reads it: `restart: "no"` stays a string, not the boolean `no`.
  writeFileSync(file, stringify(merged, { aliasDuplicateObjects: false, version: '1.1' }))
  return file
}

/** docker-compose on one project and file. */
export function composeRunner(project: string, file: string, env: NodeJS.ProcessEnv) {
  return (args: string[], timeoutMs = 300_000) =>
    runCommand(COMPOSE_CLI, ['-p', project, '-f', file, ...args], { env, timeoutMs })
}

export interface ContainerState {
  service: string
  id: string
  pid: number
  running: boolean
  health: string | undefined
  exitCode: number
  /** How often the engine restarted it (restart policy); a node that cannot start keeps counting. */
  restartCount: number
  /** Names of the volumes it mounts (named and anonymous). */
  volumes: string[]
}

/** Every container of a compose project (running or not), from the engine's labels. */
export async function projectContainers(project: string): Promise<ContainerState[]> {
  const ids = (
    await mustRun(DOCKER_CLI, [
      'ps',
      '-a',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${project}`,
    ])
  )
    .split('\n')
    .filter((l) => l !== '')
  if (ids.length === 0) return []
  const inspected = JSON.parse(await mustRun(DOCKER_CLI, ['inspect', ...ids])) as {
    Id: string
    Config: { Labels: Record<string, string> }
    RestartCount: number
    Mounts: { Type: string; Name?: string }[]
    State: { Pid: number; Running: boolean; ExitCode: number; Health?: { Status: string } }
  }[]
  return inspected.map((c) => ({
    service: c.Config.Labels['com.docker.compose.service'] ?? '',
    id: c.Id,
    pid: c.State.Pid,
    running: c.State.Running,
    health: c.State.Health?.Status,
    exitCode: c.State.ExitCode,
    restartCount: c.RestartCount,
    volumes: c.Mounts.filter((m) => m.Type === 'volume' && m.Name !== undefined).map(
      (m) => m.Name!,
    ),
  }))
}

export async function projectVolumes(project: string): Promise<string[]> {
  return (
    await mustRun(DOCKER_CLI, [
      'volume',
      'ls',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${project}`,
    ])
  )
    .split('\n')
    .filter((l) => l !== '')
}
