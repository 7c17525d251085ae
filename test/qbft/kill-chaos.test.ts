/**
 * Four validator processes under a light transfer load, killed with SIGKILL at random
 * moments (seeded; at most one down at a time, so a quorum stays up) and restarted. An
 * observer polls every node and records the first hash it ever saw at each height. At the
 * end every node's chain equals that history, no node ever came back below a head it had
 * announced, and every acknowledged transaction is in the chain exactly once.
 *
 * CHAOS_SEED fixes the kill schedule (printed either way); CHAOS_MS the chaos phase.
 * The client resubmits acknowledged transactions that stay out of the chain (the pool is
 * memory only: a transaction acknowledged just before its node dies may be lost, and a
 * wallet re-broadcasts), always the same signed bytes, so a transaction is one hash.
 */
import { bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { createChainCommon } from '../../chain/execution/common.ts'
import { makeGenesis, tempDir, transfer, waitFor } from '../support/chain.ts'
import { memberArgs, prepareNetwork } from '../support/network.ts'
import { NodeProcess } from '../support/p2p.ts'
import { prng } from '../support/qbft-network.ts'

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000)
const CHAOS_MS = Number(process.env.CHAOS_MS ?? 60_000)

interface SeenBlock {
  hash: string
  txs: string[]
}

interface PendingTx {
  hash: string
  raw: string
  ackedAt: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test(
  '4 validator processes killed at random: one history, every acknowledged tx once',
  async (t) => {
    const testStart = Date.now()
    t.comment(`seed ${SEED} (CHAOS_SEED=${SEED} replays the kill schedule), chaos ${CHAOS_MS} ms`)
    const random = prng(SEED)
    const setup = makeGenesis({
      validators: 4,
      accounts: 4,
      config: { blockPeriodMs: 1000, roundTimeoutMs: 1000, roundTimeoutMaxMs: 4000 },
    })
    const common = createChainCommon(setup.genesis.config)
    const dir = tempDir('kill-chaos-')
    t.teardown(() => dir.remove())
    const { genesisFile, members } = await prepareNetwork(setup, dir.path)
    const procs: NodeProcess[] = []
    const start = (i: number) => {
      procs[i] = new NodeProcess(members[i]!.name, memberArgs(genesisFile, members, i))
    }
    t.teardown(() => {
      for (const p of procs) p.kill()
    })
    for (let i = 0; i < 4; i++) start(i)

    const call = async (i: number, method: string, params: unknown[] = []): Promise<unknown> => {
      const res = await fetch(members[i]!.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
        signal: AbortSignal.timeout(3_000),
      })
      const body = (await res.json()) as { result?: unknown; error?: { message: string } }
      if (body.error !== undefined) throw new Error(body.error.message)
      return body.result
    }
    const headOf = async (i: number) => {
      try {
        return BigInt((await call(i, 'eth_blockNumber')) as string)
      } catch {
        return -1n
      }
    }

    // ---- observer: first hash seen at each height, on any node
    const history = new Map<bigint, SeenBlock>()
    const conflicts: string[] = []
    const regressions: string[] = []
    const announced = [-1n, -1n, -1n, -1n]
    const nextHeight = [1n, 1n, 1n, 1n]
    const included = new Set<string>()
    const poll = async (i: number) => {
      const head = await headOf(i)
      if (head < 0n) return
      if (head < announced[i]!)
        regressions.push(`v${i} answered head ${head} after announcing ${announced[i]}`)
      if (head > announced[i]!) announced[i] = head
      for (let n = nextHeight[i]!; n <= head; n++) {
        let block: { hash: string; transactions: string[] } | null
        try {
          block = (await call(i, 'eth_getBlockByNumber', [
            `0x${n.toString(16)}`,
            false,
          ])) as typeof block
        } catch {
          return
        }
        if (block === null) {
          regressions.push(`v${i} has no block ${n} below its head ${head}`)
          return
        }
        const first = history.get(n)
        if (first === undefined) {
          history.set(n, { hash: block.hash, txs: block.transactions })
          for (const tx of block.transactions) included.add(tx)
        } else if (first.hash !== block.hash) {
          conflicts.push(`v${i} has ${block.hash} at ${n}, first seen ${first.hash}`)
        }
        nextHeight[i] = n + 1n
      }
    }
    let observing = true
    const observer = (async () => {
      while (observing) {
        await Promise.all([0, 1, 2, 3].map(poll))
        await sleep(250)
      }
    })()

    await waitFor(async () => (await Promise.all([0, 1, 2, 3].map(headOf))).every((h) => h >= 2n), {
      timeoutMs: 90_000,
      what: '2 blocks on every node',
    })
    t.comment(`network up after ${Math.round((Date.now() - testStart) / 1000)} s`)

    // ---- load: one transfer every 250 ms to a random live node, resubmitting stragglers
    const acked = new Map<string, PendingTx>()
    const nextNonce = [0n, 0n, 0n, 0n]
    /** A signed transaction sent but not acknowledged yet: re-sent as is (same hash). */
    const unsent: Array<PendingTx | undefined> = [undefined, undefined, undefined, undefined]
    const liveNode = () => {
      const live = [0, 1, 2, 3].filter((i) => procs[i]!.running)
      return live[Math.floor(random() * live.length)] ?? 0
    }
    const recipient = setup.accounts[0]!.address
    let loading = true
    let ticks = 0
    const load = (async () => {
      while (loading) {
        await sleep(250)
        const a = Math.floor(random() * 4)
        const stragglers = [...acked.values()].filter(
          (p) => !included.has(p.hash) && Date.now() - p.ackedAt > 5_000,
        )
        // Every fourth tick at most, so new transactions keep coming.
        if (stragglers.length > 0 && ticks++ % 4 === 0) {
          const p = stragglers[Math.floor(random() * stragglers.length)]!
          await call(liveNode(), 'eth_sendRawTransaction', [p.raw]).catch(() => undefined)
          continue
        }
        let pending = unsent[a]
        if (pending === undefined) {
          const tx = transfer(common, setup.accounts[a]!, recipient, nextNonce[a]!, 1n)
          pending = { hash: bytesToHex(tx.hash()), raw: bytesToHex(tx.serialize()), ackedAt: 0 }
          unsent[a] = pending
        }
        try {
          const hash = await call(liveNode(), 'eth_sendRawTransaction', [pending.raw])
          if (hash !== pending.hash) throw new Error(`node answered ${hash} for ${pending.hash}`)
          pending.ackedAt = Date.now()
          acked.set(pending.hash, pending)
          unsent[a] = undefined
          nextNonce[a]!++
        } catch {
          // Not acknowledged (node down, timeout): the same bytes go again.
        }
      }
    })()

    // ---- chaos: kill one validator, restart it after 1-5 s, and kill the next one once all
    // four answer RPC again (the last one restarted may still be catching up: two
    // validators short halt the chain until it is back, which must be safe too).
    const startedAt = Date.now()
    const chaosEnd = startedAt + CHAOS_MS
    let kills = 0
    let restartAt: { i: number; at: number } | undefined
    const allAnswer = async () =>
      (await Promise.all([0, 1, 2, 3].map(headOf))).every((h) => h >= 0n)
    while (Date.now() < chaosEnd) {
      await sleep(500 + random() * 2500)
      if (restartAt !== undefined) {
        if (Date.now() >= restartAt.at) {
          await procs[restartAt.i]!.exited
          start(restartAt.i)
          restartAt = undefined
        }
      } else if (await allAnswer()) {
        const i = Math.floor(random() * 4)
        procs[i]!.kill()
        kills++
        restartAt = { i, at: Date.now() + 1_000 + random() * 4_000 }
      }
    }
    if (restartAt !== undefined) {
      await procs[restartAt.i]!.exited
      start(restartAt.i)
    }
    loading = false
    await load
    t.comment(
      `${kills} kills, ${acked.size} transactions acknowledged, head ${history.size} after ${Math.round((Date.now() - startedAt) / 1000)} s of chaos`,
    )

    // ---- settle: everyone up and on the tip, every acknowledged tx in
    await waitFor(
      async () => {
        const missing = [...acked.values()].filter((p) => !included.has(p.hash))
        for (const p of missing)
          await call(liveNode(), 'eth_sendRawTransaction', [p.raw]).catch(() => undefined)
        return missing.length === 0
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'every acknowledged transaction included' },
    )
    const top = BigInt(Math.max(...[...history.keys()].map(Number)))
    await waitFor(
      async () => (await Promise.all([0, 1, 2, 3].map(headOf))).every((h) => h >= top),
      {
        timeoutMs: 60_000,
        what: `every node at ${top}`,
      },
    )
    observing = false
    await observer
    await Promise.all([0, 1, 2, 3].map(poll))

    t.same(conflicts, [], 'no node ever showed a different block at a height')
    t.same(regressions, [], 'no node came back below a head it had announced')
    for (let i = 0; i < 4; i++) {
      for (let n = 1n; n <= top; n++) {
        const block = (await call(i, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, false])) as {
          hash: string
        }
        if (block.hash !== history.get(n)?.hash) {
          t.fail(`v${i} at ${n}: ${block.hash}, history ${history.get(n)?.hash}`)
          break
        }
      }
    }
    t.pass(`every node's chain equals the first-seen history up to ${top}`)
    t.comment(`settled ${Math.round((Date.now() - chaosEnd) / 1000)} s after the chaos`)
    const counts = new Map<string, number>()
    for (let n = 1n; n <= top; n++)
      for (const tx of history.get(n)!.txs) counts.set(tx, (counts.get(tx) ?? 0) + 1)
    const notOnce = [...acked.keys()].filter((hash) => counts.get(hash) !== 1)
    t.same(notOnce, [], `all ${acked.size} acknowledged transactions included exactly once`)
    t.ok(acked.size > 0 && kills > 0, 'load and kills happened')
    for (const p of procs) await p.stop()
  },
)
