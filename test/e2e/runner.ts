/**
 * Runs one e2e manifest against a real devnet (the same `startDevnet` as `npm start`: anvil, validator processes,
 * relayer processes, under the devnet's supervisor), with transfer and bridge load, the manifest's perturbations,
 * and the invariants checked after every perturbation and at the end:
 *
 * - no fork now or in history: an observer records the first hash any node reported at each height, and every
 *   later report (and the final read of every node's whole chain) must match it;
 * - every block's commit seals (carried in the next header) verify against the validator set of its height, by
 *   chain/consensus's own rules, and every node reports the same validator set;
 * - every acknowledged transaction is included exactly once;
 * - liveness: with a quorum up and connected some head moves within `bounds.livenessS`; without one, at most the
 *   block already in flight is added;
 * - after each perturbation ends, every running validator catches up within `bounds.catchUpS`;
 * - bridge: each deposit minted at most once and only if it exists on L1, each withdrawal released at most once
 *   and only if burned, the supply audit (bridge/core/audit.ts) passes, every user command succeeded;
 * - every process stays under `bounds.memoryMb` of resident memory (VmRSS);
 * - no validator banned a peer (all peers are honest here).
 *
 * Partitions and clock offsets go through the nodes' `--test-hooks` (chain/cli/test-hooks.ts), loopback only.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createPublicClient, getAbiItem, type Hex, hexToBytes, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { auditBridge, getLogsChunked } from '../../bridge/core/audit.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../../bridge/deploy/index.ts'
import { decodeExtraData } from '../../chain/consensus/extra-data.ts'
import { quorumSize, verifyCommitSeals } from '../../chain/consensus/seals.ts'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import { type Devnet, startDevnet } from '../../chain/devnet/devnet.ts'
import { nodePeerId } from '../../chain/devnet/network.ts'
import { freePorts } from '../../chain/devnet/processes.ts'
import type { SupervisorEvent } from '../../chain/devnet/supervisor.ts'
import { CLI, REPO_ROOT } from '../support/devnet.ts'
import { prng } from '../support/qbft-network.ts'
import type { Manifest, Step } from './manifest.ts'

export interface RunOptions {
  seed?: number
  /** Keep the devnet folder (logs) even when every invariant held. */
  keepLogs?: boolean
  log?: (line: string) => void
}

export interface RunReport {
  name: string
  seed: number
  ok: boolean
  durationS: number
  violations: string[]
  /** What happened that is worth a line in the report (restarts, catch-up times, ...). */
  notes: string[]
  stats: {
    height: number
    txsAcked: number
    txsIncluded: number
    deposits: number
    withdrawals: number
    maxRssMb: Record<string, number>
    restarts: number
  }
  /** The devnet folder with its logs, when kept. */
  dir?: string
}

interface SeenBlock {
  hash: string
  extraData: Hex
  txs: string[]
}

interface AckedTx {
  hash: string
  raw: Hex
  ackedAt: number
  lastSentAt: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function rpc<T>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 3_000,
): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  const body = (await res.json()) as { result?: T; error?: { message: string } }
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

async function postJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`)
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

export async function runManifest(m: Manifest, options: RunOptions = {}): Promise<RunReport> {
  const log = options.log ?? (() => {})
  const seed = options.seed ?? m.seed ?? Math.floor(Math.random() * 1_000_000)
  const random = prng(seed)
  const began = Date.now()
  const violations: string[] = []
  const notes: string[] = []
  const violate = (what: string) => {
    if (!violations.includes(what)) {
      violations.push(what)
      log(`VIOLATION ${what}`)
    }
  }
  const dir = mkdtempSync(path.join(tmpdir(), `e2e-${m.name}-`))
  const events: Array<SupervisorEvent & { t: number }> = []
  const hookPorts = await freePorts(m.validators)
  const q = quorumSize(m.validators)
  log(`${m.name}: seed ${seed}, folder ${dir}`)

  let devnet: Devnet | undefined
  let stats: RunReport['stats'] = {
    height: -1,
    txsAcked: 0,
    txsIncluded: 0,
    deposits: 0,
    withdrawals: 0,
    maxRssMb: {},
    restarts: 0,
  }
  let stopLoad = false
  const background: Array<Promise<void>> = []
  try {
    devnet = await startDevnet(
      {
        datadir: path.join(dir, 'devnet'),
        validators: m.validators,
        relayers: m.relayers,
        threshold: m.threshold,
        blockTimeMs: m.blockTimeMs,
        rpcPort: 0,
        p2pPort: 0,
        l1Port: 0,
        validatorMetricsPort: 0,
        relayerMetricsPort: 0,
        explorerPort: 0,
        faucetPort: 0,
        uiPort: 0,
        nodeArgs: (i) => ['--test-hooks', String(hookPorts[i])],
        restartPolicy: { initialBackoffMs: 1_000, maxBackoffMs: 8_000 },
      },
      { onProcessEvent: (e) => events.push({ ...e, t: Date.now() }) },
    )
    const d = devnet
    const urls = d.info.l2.rpcUrls
    const names = urls.map((_, i) => `validator-${i}`)
    const hookUrl = (i: number) => `http://127.0.0.1:${hookPorts[i]}`
    const peerIds = await Promise.all(names.map((_, i) => nodePeerId(d.layout.validatorDatadir(i))))

    // ---- which validators can take part: running (not paused, stopped or restarting) and in which group
    let groups: string[][] | undefined
    const upValidators = () =>
      new Set(
        d.control
          .status()
          .filter((s) => s.name.startsWith('validator-') && s.state === 'running' && s.pid !== null)
          .map((s) => s.name),
      )
    const quorumConnected = () => {
      const up = upValidators()
      const parts = groups ?? [names]
      return parts.some((g) => g.filter((n) => up.has(n)).length >= q)
    }

    // ---- observer: first hash at each height, progress, memory
    const first = new Map<number, SeenBlock>()
    const heads = names.map(() => -1)
    let maxHeight = -1
    let lastProgressAt = Date.now()
    let quorumSince: number | undefined = Date.now()
    let noQuorumHeight: number | undefined
    const maxRss: Record<string, number> = {}
    const included = new Map<string, number[]>()
    const observe = async (i: number) => {
      let head: number
      try {
        head = Number(await rpc<string>(urls[i]!, 'eth_blockNumber', [], 1_500))
      } catch {
        return
      }
      if (head < heads[i]!) violate(`${names[i]} went back from block ${heads[i]} to ${head}`)
      // Every height of every node, at most 50 per round (a node catching up is read over several rounds).
      for (let h = heads[i]! + 1; h <= Math.min(head, heads[i]! + 50); h++) {
        const block = await rpc<{ hash: string; extraData: Hex; transactions: string[] } | null>(
          urls[i]!,
          'eth_getBlockByNumber',
          [`0x${h.toString(16)}`, false],
          1_500,
        ).catch(() => null)
        if (block === null) return
        const seen = first.get(h)
        if (seen === undefined) {
          first.set(h, { hash: block.hash, extraData: block.extraData, txs: block.transactions })
          for (const tx of block.transactions) {
            included.set(tx, [...(included.get(tx) ?? []), h])
          }
        } else if (seen.hash !== block.hash) {
          violate(`fork at block ${h}: ${names[i]} reports ${block.hash}, first seen ${seen.hash}`)
        }
        heads[i] = h
      }
      if (head > maxHeight) {
        maxHeight = head
        lastProgressAt = Date.now()
      }
    }
    const observer = (async () => {
      let tick = 0
      while (!stopLoad) {
        await Promise.all(names.map((_, i) => observe(i)))
        const now = Date.now()
        if (quorumConnected()) {
          quorumSince ??= now
          noQuorumHeight = undefined
          const since = Math.max(quorumSince, lastProgressAt)
          if (now - since > m.bounds.livenessS * 1000) {
            violate(
              `liveness: a quorum was up and connected but no block for ${Math.round((now - since) / 1000)} s (head ${maxHeight})`,
            )
          }
        } else {
          quorumSince = undefined
          noQuorumHeight ??= maxHeight
          if (maxHeight > noQuorumHeight + 1) {
            violate(`progress without a quorum: head ${noQuorumHeight} -> ${maxHeight}`)
          }
        }
        if (tick++ % 4 === 0) {
          for (const p of d.processes()) {
            const mb = rssMb(p.pid)
            if (mb === undefined) continue
            maxRss[p.name] = Math.max(maxRss[p.name] ?? 0, Math.round(mb))
            if (mb > m.bounds.memoryMb) {
              violate(`${p.name} uses ${Math.round(mb)} MB (cap ${m.bounds.memoryMb} MB)`)
            }
          }
        }
        await sleep(400)
      }
    })()
    background.push(observer)

    // ---- transfer load: signed locally, sent to a running validator, acknowledged = a hash came back
    const acked = new Map<string, AckedTx>()
    const senders = DEV_ACCOUNTS.slice(3).map((a) => ({
      account: privateKeyToAccount(a.privateKey),
      nonce: 0,
      pending: undefined as Hex | undefined,
    }))
    for (const s of senders) {
      s.nonce = Number(
        await rpc<string>(urls[0]!, 'eth_getTransactionCount', [s.account.address, 'latest']),
      )
    }
    const runningUrls = () => {
      const up = upValidators()
      return urls.filter((_, i) => up.has(names[i]!))
    }
    const sendRaw = async (raw: Hex): Promise<string | undefined> => {
      const candidates = runningUrls().sort(() => random() - 0.5)
      for (const url of candidates) {
        try {
          return await rpc<string>(url, 'eth_sendRawTransaction', [raw], 2_000)
        } catch (err) {
          if (/already known|nonce too low/.test((err as Error).message)) return undefined
        }
      }
      return undefined
    }
    if (m.load.txPerSecond > 0) {
      background.push(
        (async () => {
          let k = 0
          while (!stopLoad) {
            const s = senders[k++ % senders.length]!
            s.pending ??= await s.account.signTransaction({
              chainId: d.info.l2.chainId,
              type: 'eip1559',
              nonce: s.nonce,
              to: DEV_ACCOUNTS[2].address,
              value: 1n,
              gas: 21_000n,
              maxFeePerGas: 100_000_000_000n,
              maxPriorityFeePerGas: 1_000_000_000n,
            })
            const hash = await sendRaw(s.pending)
            if (hash !== undefined) {
              acked.set(hash, { hash, raw: s.pending, ackedAt: Date.now(), lastSentAt: Date.now() })
              s.nonce++
              s.pending = undefined
            }
            if (m.load.resubmitAfterS > 0) {
              const now = Date.now()
              for (const tx of acked.values()) {
                if (!included.has(tx.hash) && now - tx.lastSentAt > m.load.resubmitAfterS * 1000) {
                  tx.lastSentAt = now
                  void sendRaw(tx.raw)
                }
              }
            }
            await sleep(1000 / m.load.txPerSecond)
          }
        })(),
      )
    }

    // ---- bridge load: the real user commands, one at a time (one account)
    const bridgeUser = DEV_ACCOUNTS[1]
    let depositsDone = 0
    let withdrawalsDone = 0
    const bridgeCommand = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            CLI,
            'bridge',
            ...args,
            '--network',
            d.layout.devnetJson,
            '--private-key',
            bridgeUser.privateKey,
          ],
          { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
        )
        let out = ''
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString()
        })
        child.stderr.on('data', (c: Buffer) => {
          out += c.toString()
        })
        const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
        child.once('exit', (code) => {
          clearTimeout(timer)
          resolve({ code, out })
        })
      })
    const bridgeOps: Array<'deposit' | 'withdraw'> = []
    for (let k = 0; k < Math.max(m.load.deposits, m.load.withdrawals); k++) {
      if (k < m.load.deposits) bridgeOps.push('deposit')
      if (k < m.load.withdrawals) bridgeOps.push('withdraw')
    }
    const began0 = Date.now()
    const bridgeLoad = (async () => {
      const gap = (m.durationS * 1000) / Math.max(1, bridgeOps.length)
      for (const [k, op] of bridgeOps.entries()) {
        const due = began0 + k * gap
        while (Date.now() < due && !stopLoad) await sleep(200)
        const t0 = Date.now()
        const { code, out } = await bridgeCommand(
          op === 'deposit' ? ['deposit', '--amount', '1'] : ['withdraw', '--amount', '0.1'],
        )
        if (code !== 0) {
          violate(
            `bridge ${op} #${k} exited ${code}: ${out.trim().split('\n').slice(-3).join(' | ')}`,
          )
        } else {
          if (op === 'deposit') depositsDone++
          else withdrawalsDone++
          notes.push(`bridge ${op} #${k} completed in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
        }
      }
    })()

    // ---- catch-up after a perturbation ends
    const catchUp = async (what: string) => {
      const t0 = Date.now()
      const deadline = t0 + m.bounds.catchUpS * 1000
      // The head when the perturbation ended: each running validator must report it itself (not a head it
      // reported before it went down).
      const target = maxHeight
      for (;;) {
        const up = upValidators()
        const fresh = await Promise.all(
          urls.map((u) => rpc<string>(u, 'eth_blockNumber', [], 1_500).then(Number, () => -1)),
        )
        const lagging = names.filter((n, i) => up.has(n) && fresh[i]! < target)
        if (lagging.length === 0 && up.size > 0) {
          notes.push(
            `${what}: every running validator at the head within ${((Date.now() - t0) / 1000).toFixed(1)} s`,
          )
          return
        }
        if (Date.now() > deadline) {
          violate(
            `${what}: ${lagging.join(', ')} not caught up within ${m.bounds.catchUpS} s (head ${maxHeight}, theirs ${lagging.map((n) => heads[names.indexOf(n)]).join(', ')})`,
          )
          return
        }
        await sleep(500)
      }
    }

    // ---- hooks live in the node process: a restarted node gets its clock offset and partition again
    const clockOffsets = new Map<number, number>()
    const blockedFor = (i: number) => {
      if (groups === undefined) return []
      const mine = groups.find((g) => g.includes(names[i]!)) ?? [names[i]!]
      return peerIds.filter((_, j) => !mine.includes(names[j]!))
    }
    const reapplyHooks = async (name: string) => {
      const i = names.indexOf(name)
      if (i < 0 || (clockOffsets.get(i) === undefined && groups === undefined)) return
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        const answered = await fetch(hookUrl(i), { signal: AbortSignal.timeout(1_000) }).then(
          (r) => r.ok,
          () => false,
        )
        if (answered) break
        await sleep(100)
      }
      if (clockOffsets.has(i))
        await postJson(`${hookUrl(i)}/clock-offset`, { ms: clockOffsets.get(i) })
      if (groups !== undefined)
        await postJson(`${hookUrl(i)}/partition`, { blockedPeers: blockedFor(i) })
    }

    // ---- the timeline
    const headsAt = () => [...heads]
    const steps = [...m.timeline]
    for (const step of steps) {
      if (step.at !== undefined) {
        while (Date.now() < began0 + step.at * 1000) await sleep(100)
      } else {
        while (maxHeight < step.atHeight!) await sleep(100)
      }
      await applyStep(step)
    }

    async function applyStep(step: Step): Promise<void> {
      const label = `${step.do}${step.target === undefined ? '' : ` ${step.target}`}${step.groups === undefined ? '' : ` ${step.groups.map((g) => g.join('+')).join(' | ')}`}${step.offsetMs === undefined ? '' : ` ${step.offsetMs} ms`}`
      log(`t+${((Date.now() - began0) / 1000).toFixed(1)} s, head ${maxHeight}: ${label}`)
      const before = headsAt()
      switch (step.do) {
        case 'kill': {
          const p = d.processes().find((x) => x.name === step.target)
          if (p === undefined) {
            violate(`kill ${step.target}: not running`)
            return
          }
          const restartsBefore = d.control.status().find((s) => s.name === step.target)!.restarts
          process.kill(p.pid, 'SIGKILL')
          const t0 = Date.now()
          const i = names.indexOf(step.target!)
          const others = names.filter((n, j) => j !== i && upValidators().has(n))
          // Until the supervisor has it back and it answers again, the others must keep producing: none of them
          // may go `livenessS` without a new block.
          const lastRise = others.map(() => t0)
          const lastHead = others.map((n) => before[names.indexOf(n)]!)
          let longestStall = 0
          for (;;) {
            const now = Date.now()
            others.forEach((n, k) => {
              const h = heads[names.indexOf(n)]!
              if (h > lastHead[k]!) {
                lastHead[k] = h
                lastRise[k] = now
              }
              longestStall = Math.max(longestStall, now - lastRise[k]!)
            })
            const s = d.control.status().find((x) => x.name === step.target)!
            const answers =
              i < 0 ||
              (await rpc<string>(urls[i]!, 'eth_blockNumber', [], 1_000).then(
                () => true,
                () => false,
              ))
            if (s.restarts > restartsBefore && s.state === 'running' && answers) break
            if (s.state === 'failed') {
              violate(`${step.target} was not restarted: ${JSON.stringify(s.lastExit)}`)
              return
            }
            if (Date.now() - t0 > 60_000) {
              violate(`${step.target} not restarted within 60 s`)
              return
            }
            await sleep(200)
          }
          await reapplyHooks(step.target!)
          if (step.target!.startsWith('validator-')) {
            if (others.length >= q && longestStall > m.bounds.livenessS * 1000) {
              violate(
                `while ${step.target} was down, a validator went ${longestStall} ms without a block`,
              )
            }
            const rose = others.filter((n) => heads[names.indexOf(n)]! > before[names.indexOf(n)]!)
            if (others.length >= q && rose.length < others.length) {
              violate(
                `while ${step.target} was down, ${others.filter((n) => !rose.includes(n)).join(', ')} did not produce`,
              )
            }
            notes.push(
              `kill ${step.target}: back and answering after ${((Date.now() - t0) / 1000).toFixed(1)} s (longest stall of another validator ${(longestStall / 1000).toFixed(1)} s); the others went ${others.map((n) => `${before[names.indexOf(n)]}->${heads[names.indexOf(n)]}`).join(', ')}`,
            )
            // During a partition the minority cannot catch up; the heal checks everyone.
            if (groups === undefined) await catchUp(`after kill ${step.target}`)
          }
          break
        }
        case 'stop':
          await d.control.stop(step.target!)
          break
        case 'start':
          d.control.start(step.target!)
          await reapplyHooks(step.target!)
          if (step.target!.startsWith('validator-') && groups === undefined) {
            await catchUp(`after start ${step.target}`)
          }
          break
        case 'pause':
          d.control.pause(step.target!)
          break
        case 'resume':
          d.control.resume(step.target!)
          if (step.target!.startsWith('validator-') && groups === undefined) {
            await catchUp(`after resume ${step.target}`)
          }
          break
        case 'partition': {
          groups = step.groups!
          await Promise.all(
            names.map((_, i) =>
              postJson(`${hookUrl(i)}/partition`, { blockedPeers: blockedFor(i) }).catch(
                () => undefined,
              ),
            ),
          )
          break
        }
        case 'heal':
          groups = undefined
          await Promise.all(
            names.map((_, i) =>
              postJson(`${hookUrl(i)}/partition`, { blockedPeers: [] }).catch(() => undefined),
            ),
          )
          await catchUp('after heal')
          break
        case 'clock': {
          const i = names.indexOf(step.target!)
          clockOffsets.set(i, step.offsetMs ?? 0)
          await postJson(`${hookUrl(i)}/clock-offset`, { ms: step.offsetMs })
          break
        }
      }
      await checkValidatorSets(false)
    }

    // Same validator set everywhere (at the head now, at sampled heights at the end).
    async function checkValidatorSets(final: boolean): Promise<void> {
      const heights = final
        ? [...new Set([0, Math.floor(maxHeight / 2), Math.max(0, maxHeight - 2)])]
        : [Math.max(0, maxHeight - 2)]
      for (const h of heights) {
        const sets = await Promise.all(
          runningUrls().map((u) =>
            rpc<string[]>(u, 'qbft_getValidatorsByBlockNumber', [`0x${h.toString(16)}`]).then(
              (v) =>
                v
                  .map((a) => a.toLowerCase())
                  .sort()
                  .join(','),
              () => undefined,
            ),
          ),
        )
        if (new Set(sets.filter((s) => s !== undefined)).size > 1) {
          violate(`validator sets differ at block ${h}: ${sets.join(' / ')}`)
        }
      }
    }

    // ---- the end: stop the load, undo what is still perturbed, then the final invariants
    while (Date.now() < began0 + m.durationS * 1000) await sleep(200)
    if (groups !== undefined) await applyStep({ do: 'heal' })
    for (const s of d.control.status()) {
      if (s.state === 'paused') d.control.resume(s.name)
      if (s.state === 'stopped') d.control.start(s.name)
    }
    await catchUp('at the end')
    await bridgeLoad
    stopLoad = true
    await Promise.all(background)
    stopLoad = false
    // Every acknowledged transaction included, once.
    const txDeadline = Date.now() + m.bounds.catchUpS * 1000
    let missing = [...acked.keys()].filter((h) => !included.has(h))
    const tail = (async () => {
      while (!stopLoad) {
        await Promise.all(names.map((_, i) => observe(i)))
        await sleep(400)
      }
    })()
    while (missing.length > 0 && Date.now() < txDeadline) {
      await sleep(500)
      missing = missing.filter((h) => !included.has(h))
    }
    stopLoad = true
    await tail
    if (missing.length > 0) {
      violate(
        `${missing.length} of ${acked.size} acknowledged transactions never included (e.g. ${missing[0]})`,
      )
    }
    for (const [hash, at] of included) {
      if (at.length > 1)
        violate(`transaction ${hash} included ${at.length} times (blocks ${at.join(', ')})`)
    }

    // Whole history of every node against the first-seen hashes, and every block's seals.
    const finalHead = maxHeight
    for (const [i, url] of urls.entries()) {
      const head = Number(await rpc<string>(url, 'eth_blockNumber').catch(() => '0x0'))
      for (let h = 0; h <= Math.min(head, finalHead); h++) {
        const b = await rpc<{ hash: string; extraData: Hex; transactions: string[] }>(
          url,
          'eth_getBlockByNumber',
          [`0x${h.toString(16)}`, false],
        )
        const seen = first.get(h)
        if (seen === undefined) {
          first.set(h, { hash: b.hash, extraData: b.extraData, txs: b.transactions })
          for (const tx of b.transactions) included.set(tx, [...(included.get(tx) ?? []), h])
        } else if (seen.hash !== b.hash) {
          violate(
            `fork in history at block ${h}: ${names[i]} has ${b.hash}, first seen ${seen.hash}`,
          )
        }
      }
    }
    const validatorsAt = new Map<number, Uint8Array[]>()
    let sealed = 0
    for (let h = 1; h < finalHead; h++) {
      const block = first.get(h)
      const next = first.get(h + 1)
      if (block === undefined || next === undefined) continue
      let set = validatorsAt.get(h)
      if (set === undefined) {
        const list = await rpc<string[]>(urls[0]!, 'qbft_getValidatorsByBlockNumber', [
          `0x${h.toString(16)}`,
        ])
        set = list.map((a) => hexToBytes(a as Hex))
        validatorsAt.set(h, set)
      }
      try {
        const extra = decodeExtraData(hexToBytes(next.extraData))
        verifyCommitSeals(
          hexToBytes(block.hash as Hex),
          extra.parentCommitRound,
          extra.parentCommitSeals,
          set,
          {
            strict: true,
          },
        )
        sealed++
      } catch (err) {
        violate(`block ${h}: its commit seals do not verify: ${(err as Error).message}`)
      }
    }
    notes.push(`${sealed} blocks' commit seals verified against the validator set of their height`)
    await checkValidatorSets(true)

    // Bridge: exactly once, only what exists on the other side, and the audit.
    const l1 = createPublicClient({ transport: http(d.info.l1.rpcUrl) })
    const l2 = createPublicClient({ transport: http(urls[0]!) })
    const minted = await getLogsChunked(l2, {
      address: d.info.l2.bridge,
      event: getAbiItem({ abi: sidechainBridgeAbi, name: 'DepositMinted' }),
      fromBlock: 0n,
      toBlock: await l2.getBlockNumber(),
      maxRange: 5_000n,
    })
    const released = await getLogsChunked(l1, {
      address: d.info.l1.vault,
      event: getAbiItem({ abi: bridgeVaultAbi, name: 'Released' }),
      fromBlock: 0n,
      toBlock: await l1.getBlockNumber(),
      maxRange: 5_000n,
    })
    const once = (logs: unknown[], key: string, what: string) => {
      const ids = logs.map((l) => String((l as { args: Record<string, unknown> }).args[key]))
      const dup = ids.filter((id, k) => ids.indexOf(id) !== k)
      if (dup.length > 0) violate(`${what} more than once: ids ${[...new Set(dup)].join(', ')}`)
      return ids.length
    }
    const mintCount = once(minted, 'depositId', 'deposit minted')
    const releaseCount = once(released, 'withdrawalId', 'withdrawal released')
    const report = await auditBridge({
      l1,
      sidechain: l2,
      vault: d.info.l1.vault,
      bridge: d.info.l2.bridge,
      extraTokens: Object.values(d.info.l1.tokens),
    })
    if (!report.ok) {
      violate(
        `bridge audit failed: ${[...report.problems, ...report.tokens.flatMap((t) => t.problems)].join('; ')}`,
      )
    }
    notes.push(
      `bridge: ${mintCount} deposits minted, ${releaseCount} withdrawals released, audit ${report.ok ? 'ok' : 'FAILED'}`,
    )

    // No honest peer banned.
    if (m.bansExpected !== true) {
      for (const [i, name] of names.entries()) {
        const bans = readFileSync(d.layout.log(name), 'utf8')
          .split('\n')
          .filter((l) => l.includes('"msg":"peer banned"'))
        if (bans.length > 0)
          violate(`${names[i]} banned ${bans.length} peer(s): ${bans[0]!.slice(0, 300)}`)
      }
    }

    const restarts = events.filter((e) => e.type === 'started' && e.restart).length
    for (const e of events) {
      if (e.type === 'gave-up') violate(`${e.name} given up by the supervisor: ${e.reason}`)
    }
    stats = {
      height: finalHead,
      txsAcked: acked.size,
      txsIncluded: [...acked.keys()].filter((h) => included.has(h)).length,
      deposits: depositsDone,
      withdrawals: withdrawalsDone,
      maxRssMb: maxRss,
      restarts,
    }
  } catch (err) {
    violate(`the run failed: ${(err as Error).stack ?? String(err)}`)
  } finally {
    stopLoad = true
    await Promise.allSettled(background)
    await devnet?.stop()
  }
  const ok = violations.length === 0
  const keep = !ok || options.keepLogs === true
  if (!keep) rmSync(dir, { recursive: true, force: true })
  return {
    name: m.name,
    seed,
    ok,
    durationS: Math.round((Date.now() - began) / 100) / 10,
    violations,
    notes,
    stats,
    ...(keep ? { dir } : {}),
  }
}
