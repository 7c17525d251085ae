/**
 * Static checks of docker/compose.yaml (no Docker engine here): every service command parses with the real
 * `sidechain` commander program (or uses flags the bundled anvil knows), ports and volumes are consistent, every
 * service a command or a dependency names exists, and the files the services read are the ones `network init`
 * writes, with bootnodes that point at the validator services and their p2p ports.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import t from 'tap'
import { parse } from 'yaml'
import { buildCli } from '../../chain/cli/main.ts'
import { networkInit, parseHostPort } from '../../chain/devnet/network-setup.ts'
import { foundryBinary } from '../../chain/lib/foundry.ts'
import { tempDir } from '../support/chain.ts'

const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
const COMPOSE = path.join(REPO_ROOT, 'docker/compose.yaml')

interface Service {
  image?: string
  build?: { context: string; dockerfile: string }
  command?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  ports?: string[]
  depends_on?: Record<string, { condition: string; required?: boolean }>
  healthcheck?: { disable?: boolean }
  restart?: string
}

/** Compose interpolation with every variable unset: `${X:-default}` -> default, `${X}` -> ''. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g,
    (_m, _name, fallback) => fallback ?? '',
  )
}

const raw = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}
const services = Object.fromEntries(
  Object.entries(raw.services).map(([name, s]) => [
    name,
    {
      ...s,
      command: s.command?.map(interpolate),
      ports: s.ports?.map(interpolate),
      environment: s.environment,
    },
  ]),
) as Record<string, Service>

/** Parses `args` with the real CLI; the matched command's action is replaced so nothing runs. */
async function parseWithCli(
  args: string[],
): Promise<{ path: string[]; opts: Record<string, unknown> }> {
  const program = buildCli()
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} })
  let command: Command = program
  const names: string[] = []
  for (const token of args) {
    const sub = command.commands.find((c) => c.name() === token)
    if (sub === undefined) break
    command = sub
    names.push(token)
  }
  if (names.length === 0) throw new Error(`no sidechain command ${args[0]}`)
  let captured: Record<string, unknown> | undefined
  command.action((opts: Record<string, unknown>) => {
    captured = opts
  })
  await program.parseAsync(['node', 'sidechain', ...args])
  if (captured === undefined) throw new Error(`${names.join(' ')} did not run`)
  return { path: names, opts: captured }
}

/** Value of `--name value` or `--name=value` in an argument list. */
function flagValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i >= 0) return args[i + 1]
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1)
}

const validatorNames = Object.keys(services).filter((n) => /^validator-\d+$/.test(n))
const relayerNames = Object.keys(services).filter((n) => /^relayer-\d+$/.test(n))

t.test('the topology: an L1, 4 validators, 3 relayers, init and deploy steps', async (t) => {
  t.same(Object.keys(services).sort(), [
    'anvil',
    'deploy',
    'init',
    'relayer-0',
    'relayer-1',
    'relayer-2',
    'validator-0',
    'validator-1',
    'validator-2',
    'validator-3',
  ])
  for (const [name, s] of Object.entries(services)) {
    t.equal(s.build?.dockerfile, 'docker/Dockerfile', `${name} builds the image`)
    t.ok(existsSync(path.join(path.dirname(COMPOSE), s.build!.context, s.build!.dockerfile)))
  }
  t.equal(services.init!.restart, 'no', 'init is one-shot')
  t.match(services.deploy!.restart, /^(no|on-failure)/, 'deploy is one-shot')
})

t.test('every sidechain command parses with the CLI; anvil flags exist', async (t) => {
  const anvilHelp = execFileSync(foundryBinary('anvil'), ['--help'], { encoding: 'utf8' })
  for (const [name, s] of Object.entries(services)) {
    const command = s.command!
    t.ok(Array.isArray(command) && command.length > 0, `${name} has a command list`)
    if (command[0] === 'anvil') {
      for (const flag of command.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!)) {
        t.ok(
          anvilHelp.includes(`${flag} `) || anvilHelp.includes(`${flag}\n`),
          `anvil knows ${flag}`,
        )
      }
      continue
    }
    // The entrypoint appends --bootnodes from SIDECHAIN_BOOTNODES_FILE; a real list is checked below.
    const parsed = await parseWithCli(command)
    t.pass(`${name}: sidechain ${parsed.path.join(' ')} accepts ${command.length} arguments`)
  }
  await t.rejects(
    parseWithCli(['node', '--genesis', 'g', '--datadir', 'd', '--nope']),
    'a bad flag is caught',
  )
})

t.test(
  'ports: no host port twice, container ports match what the process listens on',
  async (t) => {
    const seen = new Map<string, string>()
    const listenPorts = async (name: string): Promise<number[]> => {
      const command = services[name]!.command!
      if (command[0] === 'anvil') return [Number(flagValue(command, '--port'))]
      if (command[0] === 'node') {
        const { opts } = await parseWithCli(command)
        return [opts.rpcPort as number, opts.metricsPort as number]
      }
      if (command[0] === 'relayer') {
        const deploy = await parseWithCli(services.deploy!.command!)
        return [(deploy.opts.metricsPorts as number[])[0]!]
      }
      throw new Error(`${name} publishes a port but listens on none`)
    }
    for (const [name, s] of Object.entries(services)) {
      for (const mapping of s.ports ?? []) {
        const parts = mapping.split(':')
        const [hostIp, hostPort, containerPort] =
          parts.length === 3 ? parts : ['0.0.0.0', parts[0]!, parts[1]!]
        t.equal(hostIp, '127.0.0.1', `${name} publishes on loopback by default`)
        const key = `${hostIp}:${hostPort}`
        t.notOk(seen.has(key), `${name}: host port ${hostPort} is not used by ${seen.get(key)}`)
        seen.set(key, name)
        t.ok((await listenPorts(name)).includes(Number(containerPort)), `${name}: ${mapping}`)
      }
    }
    t.equal(seen.size, 1 + 2 * validatorNames.length + relayerNames.length)
  },
)

t.test('volumes: every named volume is declared and used', async (t) => {
  const declared = new Set(Object.keys(raw.volumes))
  const used = new Set<string>()
  for (const [name, s] of Object.entries(services)) {
    const mounts = new Set<string>()
    for (const volume of s.volumes ?? []) {
      const [source, target] = volume.split(':')
      t.notOk(mounts.has(target!), `${name}: ${target} mounted once`)
      mounts.add(target!)
      if (source!.startsWith('/') || source!.startsWith('.')) continue
      t.ok(declared.has(source!), `${name}: volume ${source} is declared`)
      used.add(source!)
    }
  }
  t.same(
    [...declared].filter((v) => !used.has(v)),
    [],
    'no unused volume',
  )
  // Each validator and relayer keeps its data in a volume of its own.
  for (const name of [...validatorNames, ...relayerNames, 'anvil']) {
    const data = services[name]!.volumes!.find((v) => v.split(':')[1] === '/data')
    t.equal(data?.split(':')[0], `${name}-data`, `${name} has its own data volume`)
  }
})

t.test('dependencies and URLs name existing services and their ports', async (t) => {
  for (const [name, s] of Object.entries(services)) {
    for (const dependency of Object.keys(s.depends_on ?? {})) {
      t.ok(services[dependency], `${name} depends on existing ${dependency}`)
    }
  }
  for (const name of validatorNames) {
    t.equal(services[name]!.depends_on?.init?.condition, 'service_completed_successfully')
  }
  for (const name of relayerNames) {
    t.equal(services[name]!.depends_on?.deploy?.condition, 'service_completed_successfully')
  }
  const deploy = await parseWithCli(services.deploy!.command!)
  const urls = [
    deploy.opts.l1Rpc as string,
    deploy.opts.sidechainRpc as string,
    ...(deploy.opts.relayerSidechainRpcs as string[]),
  ]
  for (const url of urls) {
    const { hostname, port } = new URL(url)
    t.ok(services[hostname], `${url} names the service ${hostname}`)
    const command = services[hostname]!.command!
    const listening =
      command[0] === 'anvil'
        ? Number(flagValue(command, '--port'))
        : ((await parseWithCli(command)).opts.rpcPort as number)
    t.equal(Number(port), listening, `${url} is the port ${hostname} listens on`)
  }
  t.ok((deploy.opts.threshold as number) <= relayerNames.length, 'threshold <= relayers')
})

t.test(
  'init writes exactly the files the services read; bootnodes point at the validators',
  async (t) => {
    const init = await parseWithCli(services.init!.command!)
    t.equal(init.opts.out, '/network')
    const hosts = (init.opts.validatorHosts as string[]).map((h) => parseHostPort(h))
    t.equal(hosts.length, validatorNames.length, 'one validator service per validator host')
    t.equal(init.opts.relayers, relayerNames.length, 'one relayer service per relayer')
    const dir = tempDir('compose-init-')
    t.teardown(() => dir.remove())
    const { network } = await networkInit({
      out: dir.path,
      validatorHosts: hosts,
      relayers: init.opts.relayers as number,
      chainId: init.opts.chainId as number,
      blockTimeMs: init.opts.blockTime as number,
      devAccounts: init.opts.devAccounts as boolean,
    })
    const inVolume = (file: string) => {
      t.ok(file.startsWith('/network/'), `${file} is in the network volume`)
      return path.join(dir.path, path.relative('/network', file))
    }
    for (const [i, name] of validatorNames.entries()) {
      const s = services[name]!
      const { opts } = await parseWithCli(s.command!)
      t.ok(existsSync(inVolume(opts.genesis as string)), `${name}: genesis`)
      t.ok(existsSync(inVolume(opts.validatorKey as string)), `${name}: validator key`)
      t.equal(path.basename(opts.validatorKey as string), network.validators[i]!.keyFile)
      t.equal(hosts[i]!.host, name, `init names ${name} as validator ${i}`)
      t.equal(hosts[i]!.port, opts.p2pPort, `${name} listens on the p2p port the others dial`)
      t.ok(existsSync(inVolume(s.environment!.SIDECHAIN_NODE_KEY_FILE!)), `${name}: node key`)
      const bootnodesFile = inVolume(s.environment!.SIDECHAIN_BOOTNODES_FILE!)
      const bootnodes = readFileSync(bootnodesFile, 'utf8').trim()
      // What the entrypoint appends must parse too.
      const withBootnodes = await parseWithCli([...s.command!, '--bootnodes', bootnodes])
      const list = withBootnodes.opts.bootnodes as string[]
      t.equal(list.length, validatorNames.length - 1, `${name} knows every other validator`)
      const targets = list.map((m) => /^\/dns4\/([^/]+)\/tcp\/(\d+)\/p2p\//.exec(m)?.slice(1))
      t.same(
        targets.map((x) => x?.[0]).sort(),
        validatorNames.filter((n) => n !== name).sort(),
        `${name}'s bootnodes are the other validator services`,
      )
    }
    for (const [i, name] of relayerNames.entries()) {
      const { opts } = await parseWithCli(services[name]!.command!)
      t.equal(opts.config, `/network/relayer-${i}.json`, `${name} reads the config deploy writes`)
      t.ok(existsSync(inVolume(`/network/${network.relayers[i]!.keyFile}`)), `${name}: key`)
    }
  },
)

t.test(
  'the Dockerfile: multi-stage, BASE_IMAGE, npm ci, non-root, health check, entrypoint',
  async (t) => {
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'docker/Dockerfile'), 'utf8')
    const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gm)].map((m) => m[1])
    t.same(stages, ['build', 'runtime'])
    t.match(dockerfile, /^\s*(RUN |&& )npm ci --include=dev/m)
    t.match(
      dockerfile,
      /^ARG BASE_IMAGE=node:24-[a-z-]+$/m,
      'a public Node 24 image is the default base; a build argument picks another',
    )
    t.same(
      [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]),
      ['BASE_IMAGE', 'BASE_IMAGE'].map((arg) => `\${${arg}}`),
      'both stages start from BASE_IMAGE',
    )
    t.notMatch(dockerfile, /^# syntax=/m, 'no frontend pulled from Docker Hub')
    t.match(dockerfile, /^USER node$/m)
    t.match(dockerfile, /^HEALTHCHECK .*\n\s+CMD \["node", "\/app\/docker\/healthcheck\.mjs"\]/m)
    t.match(dockerfile, /^ENTRYPOINT \["\/app\/docker\/entrypoint\.sh"\]/m)
    for (const copied of ['docker/entrypoint.sh', 'docker/healthcheck.mjs']) {
      t.ok(existsSync(path.join(REPO_ROOT, copied)), copied)
    }
    const ignore = readFileSync(path.join(REPO_ROOT, 'docker/Dockerfile.dockerignore'), 'utf8')
    t.match(ignore, /^node_modules$/m)
    t.match(ignore, /^\.devnet$/m)
  },
)

t.test('no service opens its RPC to every browser origin', async (t) => {
  const compose = readFileSync(COMPOSE, 'utf8')
  t.notMatch(
    compose,
    /--rpc-cors[= ]"?\*/,
    'no wildcard CORS: a web page could call the validators',
  )
  t.notMatch(
    compose,
    /--rpc-api[= ][^\n]*\b(qbft|admin|debug)\b/,
    'votes, admin and debug stay off',
  )
})
