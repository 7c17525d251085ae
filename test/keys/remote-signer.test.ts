/**
 * A validator whose key lives in a remote signer (a process speaking the Web3Signer eth1
 * API, test/support/web3signer.ts): in a network of four, three validators sign with local
 * keys and the fourth through the signer. It seals (its commits and proposals count); with
 * the signer stopped it misses its steps while the other three keep finalizing; restarted,
 * it counts again. The node refuses to start when the signer does not hold its address, and
 * neither its logs nor its process arguments ever hold key material.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { freePorts } from '../../chain/devnet/processes.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { makeGenesis, tempDir } from '../support/chain.ts'
import { memberArgs, prepareNetwork } from '../support/network.ts'
import { CLI, NodeProcess, REPO_ROOT } from '../support/p2p.ts'

const SIGNER_SCRIPT = path.join(REPO_ROOT, 'test/support/web3signer.ts')

/** The signer as its own process on a fixed port, so it can be stopped and started again. */
async function startSignerProcess(keyFile: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [SIGNER_SCRIPT, '--key-file', keyFile, '--port', String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  )
  const lines = createInterface({ input: child.stdout! })
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('listening ')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`signer exited with ${code}`)))
  })
  return child
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

interface ValidatorStatus {
  address: string
  proposalsMade: number
  proposalsMissed: number
  commitsIncluded: number
}

async function qbftStatus(
  rpcUrl: string,
): Promise<{ head: string; validators: ValidatorStatus[] }> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'qbft_status', params: [] }),
  })
  const body = (await response.json()) as {
    result: { head: string; validators: ValidatorStatus[] }
  }
  return body.result
}

t.test('a validator signing through a remote signer', async (t) => {
  const dir = tempDir('remote-signer-')
  t.teardown(() => dir.remove())
  const setup = makeGenesis({
    validators: 4,
    accounts: 1,
    config: { blockPeriodMs: 300, roundTimeoutMs: 1_000, roundTimeoutMaxMs: 2_000 },
  })
  const { genesisFile, members } = await prepareNetwork(setup, dir.path)
  const remote = 3
  const remoteKey = setup.validators[remote]!
  const keyHex = Buffer.from(remoteKey.privateKey).toString('hex')
  const [signerPort, deadPort] = await freePorts(2)
  const signerUrl = `http://127.0.0.1:${signerPort}`
  let signer = await startSignerProcess(members[remote]!.keyFile, signerPort!)
  t.teardown(() => stopProcess(signer))

  // Refusals first, before anything runs: a signer without the key, and no signer at all.
  const otherAddress = setup.validators[0]!.addressHex
  const refusedDatadir = path.join(dir.path, 'refused')
  const refuse = (url: string) =>
    spawnSync(
      process.execPath,
      [
        CLI,
        'node',
        '--genesis',
        genesisFile,
        '--datadir',
        refusedDatadir,
        '--signer-url',
        url,
        '--validator-address',
        otherAddress,
        '--no-rpc',
      ],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } },
    )
  const notHeld = refuse(signerUrl)
  t.equal(notHeld.status, 2, 'a signer without the expected key: exit 2')
  t.match(notHeld.stderr, /^error \[SIGNER_KEY_NOT_HELD\]: .*does not hold the key of/)
  const down = refuse(`http://127.0.0.1:${deadPort}`)
  t.equal(down.status, 1, 'no signer answering: exit 1')
  t.match(down.stderr, /SIGNER_UNAVAILABLE/)
  t.notOk(existsSync(refusedDatadir), 'neither refusal wrote a datadir')

  const nodes = members.map((_, i) => {
    // qbft_status (read by this test) is served only when --rpc-api names it.
    const args = [...memberArgs(genesisFile, members, i), '--rpc-api', 'eth,net,web3,qbft']
    if (i === remote) {
      const at = args.indexOf('--validator-key')
      // No key file and no --insecure-key: only the signer's URL and the expected address.
      args.splice(at, 3, '--signer-url', signerUrl, '--validator-address', remoteKey.addressHex)
    }
    return new NodeProcess(`v${i}`, args)
  })
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())))
  const remoteNode = nodes[remote]!
  const observer = members[0]!.rpcUrl
  const statusOfRemote = async () =>
    (await qbftStatus(observer)).validators.find(
      (v) => v.address.toLowerCase() === remoteKey.addressHex,
    )!

  // 1. It seals through the signer: its commits are in the decisions, its proposals accepted.
  const sealed = await pollUntil(
    async () => {
      // Undefined until the observer's RPC is up.
      const s = await statusOfRemote().catch(() => undefined)
      return s !== undefined && s.commitsIncluded >= 2 && s.proposalsMade >= 1 ? s : undefined
    },
    {
      what: 'the remote-signing validator committing and proposing',
      timeoutMs: 180_000,
      intervalMs: 500,
    },
  )
  t.ok(sealed.commitsIncluded >= 2, `commits through the signer (${sealed.commitsIncluded})`)
  t.ok(sealed.proposalsMade >= 1, `proposals through the signer (${sealed.proposalsMade})`)

  // 2. Signer stopped: it misses its steps; the other three keep finalizing.
  await stopProcess(signer)
  const stoppedAt = await statusOfRemote()
  const headAtStop = nodes[0]!.head
  await nodes[0]!.waitForHead(headAtStop + 6, 180_000)
  const whileDown = await statusOfRemote()
  t.ok(nodes[0]!.head >= headAtStop + 6, `the network went on (${headAtStop} -> ${nodes[0]!.head})`)
  t.ok(
    whileDown.commitsIncluded <= stoppedAt.commitsIncluded + 1,
    `no commits of it while the signer is down (${stoppedAt.commitsIncluded} -> ${whileDown.commitsIncluded})`,
  )
  t.ok(
    remoteNode.lines.some((l) => l.msg === 'qbft signer failed; step not sent'),
    'the validator says its signer failed',
  )
  t.ok(remoteNode.running, 'the validator itself keeps running')

  // 3. Signer back: it counts again.
  signer = await startSignerProcess(members[remote]!.keyFile, signerPort!)
  const recovered = await pollUntil(
    async () => {
      const s = await statusOfRemote()
      return s.commitsIncluded >= whileDown.commitsIncluded + 2 ? s : undefined
    },
    { what: 'commits through the restarted signer', timeoutMs: 180_000, intervalMs: 500 },
  )
  t.ok(recovered.commitsIncluded >= whileDown.commitsIncluded + 2, 'recovered')

  // 4. No key material in its process arguments or its logs.
  const cmdline = readFileSync(`/proc/${remoteNode.child.pid}/cmdline`, 'utf8')
  t.notOk(cmdline.includes(keyHex), 'no key in /proc/PID/cmdline')
  t.notOk(cmdline.includes('--validator-key'), 'no key file either')
  await remoteNode.stop()
  t.notOk(JSON.stringify(remoteNode.lines).includes(keyHex), 'no key in its logs')
  t.ok(
    remoteNode.lines.some((l) => l.msg === 'node started' && l.validator === remoteKey.addressHex),
    'it ran as the validator the signer holds',
  )
})
