/**
 * The container topology run as local processes through the image's entrypoint (docker/entrypoint.sh), since no
 * Docker engine runs here: `network init` (twice: the second run only checks), anvil, two validators that get their
 * node keys and bootnodes from the network folder, `network deploy`, a relayer on the generated config, the
 * health check script, and a deposit with the user command on the generated devnet.json.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import type { DevnetInfo } from '../../chain/devnet/devnet.ts'
import { freePorts, ManagedProcess } from '../../chain/devnet/processes.ts'
import { pollUntil, rpcCall } from '../../chain/devnet/rpc.ts'
import { foundryBinary } from '../../chain/lib/foundry.ts'
import { tempDir } from '../support/chain.ts'
import { pidAlive, REPO_ROOT, sidechain } from '../support/devnet.ts'

const ENTRYPOINT = path.join(REPO_ROOT, 'docker/entrypoint.sh')
const HEALTHCHECK = path.join(REPO_ROOT, 'docker/healthcheck.mjs')
const env = {
  ...process.env,
  SIDECHAIN_NODE_BIN: process.execPath,
  SIDECHAIN_ANVIL_BIN: foundryBinary('anvil'),
}

function run(
  command: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { ...env, ...extraEnv }, timeout: 120_000 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr })
      },
    )
  })
}

t.test(
  'entrypoint, network init/deploy, validators, relayer, health check, a deposit',
  async (t) => {
    const dir = tempDir('docker-topology-')
    t.teardown(() => dir.remove())
    const net = path.join(dir.path, 'network')
    const [p2p0, p2p1, rpc0, rpc1, met0, met1, l1Port, relayerMetrics] = await freePorts(8)
    const processes: ManagedProcess[] = []
    const start = (name: string, args: string[], extraEnv: Record<string, string> = {}) => {
      const p = new ManagedProcess({
        name,
        command: 'sh',
        args: [ENTRYPOINT, ...args],
        env: { ...env, ...extraEnv },
        logFile: path.join(dir.path, `${name}.log`),
      })
      processes.push(p)
      return p
    }
    t.teardown(async () => {
      await Promise.all(processes.map((p) => p.stop(5_000)))
    })

    const initArgs = [
      'network',
      'init',
      `--out=${net}`,
      `--validator-hosts=127.0.0.1:${p2p0},127.0.0.1:${p2p1}`,
      '--relayers=1',
    ]
    const init = await run('sh', [ENTRYPOINT, ...initArgs])
    t.equal(init.code, 0, `network init ${init.stderr}`)
    t.match(init.stdout, /created network/)
    const again = await run('sh', [ENTRYPOINT, ...initArgs])
    t.equal(again.code, 0)
    t.match(again.stdout, /already initialized/, 'a second init only checks')
    const other = await run('sh', [ENTRYPOINT, ...initArgs.slice(0, -1), '--relayers=2'])
    t.not(other.code, 0, 'init with another topology on the same folder is refused')

    start('anvil', [
      'anvil',
      '--host=127.0.0.1',
      `--port=${l1Port}`,
      '--chain-id=31337',
      '--block-time=1',
    ])
    const rpcs = [rpc0!, rpc1!]
    const validators = [0, 1].map((i) =>
      start(
        `validator-${i}`,
        [
          'node',
          `--genesis=${net}/genesis.json`,
          `--datadir=${dir.path}/validator-${i}`,
          `--validator-key=${net}/validator-${i}.key`,
          '--insecure-key',
          '--rpc-host=127.0.0.1',
          `--rpc-port=${rpcs[i]}`,
          '--p2p-host=127.0.0.1',
          `--p2p-port=${[p2p0, p2p1][i]}`,
          '--metrics-host=127.0.0.1',
          `--metrics-port=${[met0, met1][i]}`,
        ],
        {
          SIDECHAIN_NODE_KEY_FILE: `${net}/nodekey-${i}`,
          SIDECHAIN_BOOTNODES_FILE: `${net}/bootnodes-${i}.txt`,
        },
      ),
    )
    const l1Url = `http://127.0.0.1:${l1Port}`
    const deploy = await run('sh', [
      ENTRYPOINT,
      'network',
      'deploy',
      `--network-dir=${net}`,
      `--l1-rpc=${l1Url}`,
      `--sidechain-rpc=http://127.0.0.1:${rpc0}`,
      `--relayer-sidechain-rpcs=http://127.0.0.1:${rpc1}`,
      '--threshold=1',
      '--relayer-datadir=relayer-{i}-data',
      `--metrics-ports=${relayerMetrics}`,
      `--public-validator-metrics-urls=http://127.0.0.1:${met0}/metrics,http://127.0.0.1:${met1}/metrics`,
      '--timeout=90',
    ])
    t.equal(deploy.code, 0, `network deploy ${deploy.stdout} ${deploy.stderr}`)
    for (const i of [0, 1]) {
      t.equal(
        readFileSync(`${dir.path}/validator-${i}/nodekey`, 'utf8'),
        readFileSync(`${net}/nodekey-${i}`, 'utf8'),
        `validator-${i} took its node key from the network folder`,
      )
      t.equal(
        Number(await rpcCall<string>(`http://127.0.0.1:${rpcs[i]}`, 'net_peerCount')),
        1,
        `validator-${i} found the other through its bootnodes file`,
      )
    }
    const redeploy = await run('sh', [
      ENTRYPOINT,
      'network',
      'deploy',
      `--network-dir=${net}`,
      `--l1-rpc=${l1Url}`,
      `--sidechain-rpc=http://127.0.0.1:${rpc0}`,
      '--threshold=1',
      '--relayer-datadir=relayer-{i}-data',
      `--metrics-ports=${relayerMetrics}`,
    ])
    t.equal(redeploy.code, 0)
    t.match(redeploy.stdout, /checking the vault/, 'a second deploy checks instead of deploying')
    const relayer = start('relayer-0', ['relayer', `--config=${net}/relayer-0.json`])
    await pollUntil(
      async () =>
        (await run(process.execPath, [HEALTHCHECK, `http://127.0.0.1:${relayerMetrics}/health`]))
          .code === 0,
      { what: 'the relayer health check', timeoutMs: 60_000, intervalMs: 500 },
    )
    const health = await run(process.execPath, [HEALTHCHECK], {
      SIDECHAIN_HEALTHCHECK_URL: `http://127.0.0.1:${rpc0}`,
    })
    t.equal(health.code, 0, 'the health check passes on a validator RPC')
    const dead = await run(process.execPath, [HEALTHCHECK, `http://127.0.0.1:${p2p0}/health`])
    t.equal(dead.code, 1, 'and fails where nothing healthy answers')

    // The generated network file works with the user commands.
    const network = `${net}/devnet.json`
    const info = JSON.parse(readFileSync(network, 'utf8')) as DevnetInfo
    t.equal(info.validators[1]!.metricsUrl, null, 'not given to the second deploy')
    t.equal(info.accounts.length, 10, 'anvil L1: the dev accounts are listed')
    const deposit = await sidechain(
      ['bridge', 'deposit', '--network', network, '--amount', '0.5', '--json', '--timeout', '90'],
      { env: { SIDECHAIN_PRIVATE_KEY: DEV_ACCOUNTS[3].privateKey } },
    )
    t.equal(deposit.code, 0, `deposit ${deposit.stderr}`)
    t.equal((JSON.parse(deposit.stdout) as { status: string }).status, 'minted')

    const pids = processes.map((p) => p.pid!)
    await relayer.stop(10_000)
    await Promise.all(validators.map((v) => v.stop(10_000)))
    await processes[0]!.stop(10_000)
    for (const p of processes) {
      const exit = await p.exited
      t.ok(exit.code === 0 || exit.signal === 'SIGTERM', `${p.name} stopped cleanly on SIGTERM`)
    }
    t.same(pids.filter(pidAlive), [], 'nothing left running')
  },
)
