/**
 * Helpers for networking tests: pre-built chains (so tests need not wait for hundreds of
 * block periods), in-process nodes with p2p on 127.0.0.1, node processes spawned through the
 * CLI with their JSON log lines parsed, and chain comparison through the datadirs.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { Address, bytesToHex } from '@ethereumjs/util'
import { ConsensusRules, StaticValidatorSet } from '../../chain/consensus/rules.ts'
import { hexToBytes } from '../../chain/crypto/index.ts'
import { Ledger } from '../../chain/ledger/ledger.ts'
import type { KeyPair } from '../../chain/lib/keys.ts'
import { type NodeP2POptions, SidechainNode } from '../../chain/node.ts'
import { contentMessageId, Libp2pHost, randomNodeKey } from '../../chain/p2p/libp2p.ts'
import {
  type ChainStatus,
  encodeStatus,
  RESPONSE_CODES,
  responseFrame,
} from '../../chain/p2p/messages.ts'
import { STATUS_PROTOCOL } from '../../chain/p2p/reqresp.ts'
import { ChainDb } from '../../chain/storage/chain-db.ts'
import { SingleValidatorEngine } from '../../chain/validator/single-validator.ts'
import { type Genesis, genesisToJson } from '../../genesis/schema.ts'
import { type TestGenesis, transfer } from './chain.ts'

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
export const CLI = path.join(REPO_ROOT, 'chain/cli/main.ts')

/** Fast p2p settings for tests: random port, short heartbeat and status interval. */
export function testP2P(overrides: NodeP2POptions = {}): NodeP2POptions {
  return {
    host: '127.0.0.1',
    port: 0,
    gossip: { heartbeatMs: 200 },
    reqresp: { statusIntervalMs: 1_000 },
    bootnodeRedialMs: 500,
    ...overrides,
  }
}

/**
 * Appends `blocks` blocks to the chain in `datadir` (no networking), sealed by the single
 * validator, with a transfer every `txEvery` blocks so state roots change.
 */
export async function buildChain(
  setup: TestGenesis,
  datadir: string,
  blocks: number,
  options: { txEvery?: number } = {},
): Promise<void> {
  const node = new SidechainNode({
    genesis: setup.genesis,
    datadir,
    validatorKey: setup.validators[0],
    mine: false,
  })
  await node.start()
  try {
    const validator = setup.validators[0]!
    const engine = new SingleValidatorEngine(
      {
        blockPeriodMs: setup.genesis.config.blockPeriodMs,
        validatorKey: validator.privateKey,
        validatorAddress: validator.address,
      },
      { ledger: node.ledger, producer: node.producer, scheduler: node.scheduler },
    )
    const txEvery = options.txEvery ?? 10
    const sender = setup.accounts[0]!
    const recipient = setup.accounts[1]!
    let nonce = (await node.ledger.headState().getAccount(new Address(sender.address)))?.nonce ?? 0n
    const target = node.ledger.head.number + BigInt(blocks)
    while (node.ledger.head.number < target) {
      if (txEvery > 0 && Number(node.ledger.head.number + 1n) % txEvery === 0) {
        await node.txpool.add(
          transfer(node.ledger.common, sender, recipient.address, nonce++, 1000n),
        )
      }
      const before = node.ledger.head.number
      await engine.produce()
      if (node.ledger.head.number !== before + 1n)
        throw new Error('block production failed while building the chain')
    }
  } finally {
    await node.stop()
  }
}

/** Opens a stopped node's chain read-only-ish (no writes) and lists hash and state root per height. */
export async function readChain(
  genesis: Genesis,
  datadir: string,
): Promise<Array<{ hash: string; stateRoot: string }>> {
  const db = new ChainDb(path.join(datadir, 'chaindata'))
  await db.open()
  try {
    const rules = new ConsensusRules(
      new StaticValidatorSet(genesis.validators.map((v) => hexToBytes(v))),
    )
    const ledger = new Ledger({ genesis }, { db, rules })
    await ledger.open()
    const out: Array<{ hash: string; stateRoot: string }> = []
    for (let n = 0n; n <= ledger.head.number; n++) {
      const header = (await ledger.getBlockByNumber(n))!.header
      out.push({ hash: bytesToHex(header.hash()), stateRoot: bytesToHex(header.stateRoot) })
    }
    return out
  } finally {
    await db.close()
  }
}

export function writeGenesisFile(genesis: Genesis, file: string): void {
  writeFileSync(file, `${JSON.stringify(genesisToJson(genesis), null, 2)}\n`)
}

export function writeValidatorKey(key: KeyPair, file: string): void {
  writeFileSync(
    file,
    `${JSON.stringify({ address: key.addressHex, privateKey: bytesToHex(key.privateKey) })}\n`,
    { mode: 0o600 },
  )
}

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

/** Node processes still running; killed if the test process exits or is signalled. */
const liveChildren = new Set<ChildProcess>()
let reaperInstalled = false

/** If the test process dies (tap timeout, Ctrl-C, crash), its node processes die with it. */
function installReaper(): void {
  if (reaperInstalled) return
  reaperInstalled = true
  const reap = () => {
    for (const child of liveChildren) child.kill('SIGKILL')
  }
  process.on('exit', reap)
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      reap()
      process.kill(process.pid, signal)
    })
  }
}

/**
 * A node process started through the CLI; its JSON log lines are parsed as they come.
 * Debugging: SIDECHAIN_TEST_DUMP_NODE=v1 copies that node's log lines to stderr;
 * SIDECHAIN_TEST_LOG_DIR=dir appends every node's log lines to dir/<name>.log (restarts
 * included) and SIDECHAIN_TEST_LOG_LEVEL=debug raises their level;
 * SIDECHAIN_TEST_PROFILE_NODE=v1 writes a CPU profile to /tmp/nodeprof when it exits.
 */
export class NodeProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly lines: LogLine[] = []
  /** Highest block number seen in "sealed block" / "imported block" lines. */
  head = 0
  exited: Promise<number | null>
  private readonly waiters = new Set<() => void>()
  private stderr = ''

  /** `nodeFlags` go to Node itself (e.g. the heap flags the CLI shim and the devnet use). */
  constructor(name: string, args: string[], nodeFlags: readonly string[] = []) {
    this.name = name
    this.child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        ...(process.env.SIDECHAIN_TEST_PROFILE_NODE === name
          ? ['--cpu-prof', '--cpu-prof-dir=/tmp/nodeprof']
          : []),
        CLI,
        'node',
        ...args,
        ...(process.env.SIDECHAIN_TEST_LOG_LEVEL
          ? ['--log-level', process.env.SIDECHAIN_TEST_LOG_LEVEL]
          : []),
      ],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    )
    const rl = createInterface({ input: this.child.stdout! })
    const logDir = process.env.SIDECHAIN_TEST_LOG_DIR
    const logFile =
      logDir === undefined
        ? undefined
        : createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' })
    if (logFile !== undefined) this.child.once('exit', () => logFile.end())
    rl.on('line', (text) => {
      logFile?.write(`${text}\n`)
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        return
      }
      this.lines.push(line)
      if (process.env.SIDECHAIN_TEST_DUMP_NODE === this.name) process.stderr.write(`${text}\n`)
      if (
        (line.msg === 'sealed block' ||
          line.msg === 'imported block' ||
          line.msg === 'finalized block') &&
        typeof line.number === 'number'
      ) {
        this.head = Math.max(this.head, line.number)
      }
      if (line.msg === 'sync complete' && typeof line.head === 'number')
        this.head = Math.max(this.head, line.head)
      for (const wake of this.waiters) wake()
    })
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000)
    })
    liveChildren.add(this.child)
    installReaper()
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
    void this.exited.then(() => {
      liveChildren.delete(this.child)
      for (const wake of this.waiters) wake()
    })
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Waits until `check` holds for the lines so far, failing on timeout or process exit. */
  async waitFor<T>(
    check: () => T | undefined | false,
    what: string,
    timeoutMs = 60_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = check()
      if (value !== undefined && value !== false) return value
      if (!this.running)
        throw new Error(`${this.name} exited while waiting for ${what}; stderr: ${this.stderr}`)
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(wake, Math.min(left, 500))
        this.waiters.add(wake)
      })
    }
  }

  waitForLine(
    match: (line: LogLine) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<LogLine> {
    return this.waitFor(() => this.lines.find(match), what, timeoutMs)
  }

  waitForHead(number: number, timeoutMs?: number): Promise<number> {
    return this.waitFor(
      () => (this.head >= number ? this.head : undefined),
      `${this.name} head >= ${number}`,
      timeoutMs,
    )
  }

  /** SIGTERM (clean shutdown), SIGKILL after a grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL')
  }
}

/**
 * A hand-made libp2p peer on our host module (no validation, no scoring of its own): it
 * passes the status handshake with the given chain and can publish anything. With random
 * message ids it re-sends identical bytes as new messages (a duplicate flooder) and counts
 * every copy it receives (an observer of duplicate forwarding).
 */
export async function startRawPeer(options: {
  status: ChainStatus
  /**
   * Random message ids while `enabled`, content ids otherwise. Turn them off once the
   * flooding is over: the flooder re-advertises (IHAVE) what it published under ids nobody
   * else knows, so peers fetch and count its rejected messages again, and the squared
   * invalid-message penalty races ahead of the messages a test is waiting for.
   */
  randomIds?: { enabled: boolean }
}): Promise<Libp2pHost> {
  const randomIds = options.randomIds
  const host = new Libp2pHost({
    privateKey: await randomNodeKey(),
    listenHost: '127.0.0.1',
    listenPort: 0,
    maxConnections: 20,
    dialTimeoutMs: 5_000,
    agentVersion: 'rogue/0.0.1',
    gossip: {
      heartbeatMs: 200,
      maxRpcBytes: 12 * 1024 * 1024,
      thresholds: { gossip: -500, publish: -1000, graylist: -2000 },
      appScore: () => 0,
      retainScoreMs: 60_000,
      messageId:
        randomIds === undefined
          ? undefined
          : (topic, data) => (randomIds.enabled ? randomBytes(20) : contentMessageId(topic, data)),
    },
    gate: { allowPeer: () => true },
  })
  host.handle(
    STATUS_PROTOCOL,
    async function* () {
      yield responseFrame(RESPONSE_CODES.OK, encodeStatus(options.status))
    },
    { maxRequestBytes: 256, timeoutMs: 5_000, maxInboundStreams: 8 },
  )
  await host.start()
  return host
}
