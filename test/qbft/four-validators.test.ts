/**
 * Four validators as separate processes over libp2p on loopback: blocks at the period,
 * identical headers everywhere, progress with one validator down, none with two, recovery
 * without a fork when one returns.
 */

import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import t from 'tap'
import { createPublicClient, type Hex, http } from 'viem'
import { decodeExtraData } from '../../chain/consensus/extra-data.ts'
import { verifyCommitSeals } from '../../chain/consensus/seals.ts'
import { makeGenesis, tempDir, waitFor } from '../support/chain.ts'
import { memberArgs, prepareNetwork } from '../support/network.ts'
import { NodeProcess } from '../support/p2p.ts'

const ROUND_TIMEOUT_MS = 1_000

t.test(
  '4 validator processes: period, identical headers, kill 1, restart, kill 2, recover',
  async (t) => {
    const setup = makeGenesis({
      validators: 4,
      accounts: 1,
      config: { blockPeriodMs: 1000, roundTimeoutMs: ROUND_TIMEOUT_MS, roundTimeoutMaxMs: 4_000 },
    })
    const dir = tempDir('qbft4-')
    t.teardown(() => dir.remove())
    const { genesisFile, members } = await prepareNetwork(setup, dir.path)
    const procs: Array<NodeProcess | undefined> = []
    const start = (i: number) => {
      procs[i] = new NodeProcess(members[i]!.name, memberArgs(genesisFile, members, i))
      return procs[i]!
    }
    t.teardown(async () => {
      for (const p of procs) p?.kill()
    })
    for (let i = 0; i < 4; i++) start(i)
    const clients = members.map((m) =>
      createPublicClient({ cacheTime: 0, transport: http(m.rpcUrl, { retryCount: 0 }) }),
    )
    const blockNumber = async (i: number) => {
      try {
        return await clients[i]!.getBlockNumber()
      } catch {
        return -1n
      }
    }
    const heads = async (which: number[]) => Promise.all(which.map((i) => blockNumber(i)))
    const all = [0, 1, 2, 3]

    await waitFor(async () => (await heads(all)).every((h) => h >= 6n), {
      timeoutMs: 90_000,
      what: '6 blocks on every node',
    })

    // The period: consecutive blocks one second apart (timestamps are in seconds).
    const blocks = await Promise.all(
      [1n, 2n, 3n, 4n, 5n, 6n].map((n) => clients[0]!.getBlock({ blockNumber: n })),
    )
    const gaps = blocks.slice(1).map((b, i) => Number(b.timestamp - blocks[i]!.timestamp))
    t.ok(
      gaps.filter((g) => g === 1).length >= 3,
      `blocks one period apart (gaps ${gaps.join(',')})`,
    )

    // Kill one validator: the others keep finalizing, each height within three round timeouts.
    procs[3]!.kill()
    await procs[3]!.exited
    let last = Math.max(...(await heads([0, 1, 2])).map(Number))
    for (let k = 0; k < 4; k++) {
      const target = BigInt(last + 1)
      await waitFor(async () => (await heads([0, 1, 2])).every((h) => h >= target), {
        timeoutMs: 3 * ROUND_TIMEOUT_MS + 2 * 1000 + 1000,
        what: `block ${target} with one validator down`,
      })
      last += 1
    }
    t.pass('blocks continue with one of four down')

    // Restart it: it catches up and signs again.
    start(3)
    const caughtUp = BigInt(last + 2)
    await waitFor(async () => (await blockNumber(3)) >= caughtUp, {
      timeoutMs: 60_000,
      what: 'restarted validator catches up',
    })
    const signer3 = setup.validators[3]!.addressHex
    const sealedBy = async (n: bigint) => {
      const child = await clients[0]!.getBlock({ blockNumber: n + 1n })
      const parent = await clients[0]!.getBlock({ blockNumber: n })
      const extra = decodeExtraData(hexToBytes(child.extraData as Hex))
      return verifyCommitSeals(
        hexToBytes(parent.hash as Hex),
        extra.parentCommitRound,
        extra.parentCommitSeals,
        setup.validators.map((v) => v.address),
      )
    }
    await waitFor(
      async () => {
        const head = await blockNumber(0)
        for (let n = caughtUp; n < head; n++) if ((await sealedBy(n)).includes(signer3)) return true
        return false
      },
      { timeoutMs: 60_000, what: 'a block sealed by the restarted validator' },
    )
    t.pass('the restarted validator signs again')

    // Kill two: no block is finalized.
    procs[2]!.kill()
    procs[3]!.kill()
    await Promise.all([procs[2]!.exited, procs[3]!.exited])
    const stalledAt = Math.max(...(await heads([0, 1])).map(Number))
    await new Promise((r) => setTimeout(r, 4 * ROUND_TIMEOUT_MS))
    const after = Math.max(...(await heads([0, 1])).map(Number))
    t.ok(
      after <= stalledAt + 1,
      `no progress without quorum (${stalledAt} -> ${after}; one block may have been in flight)`,
    )
    const frozen = after
    await new Promise((r) => setTimeout(r, 3 * ROUND_TIMEOUT_MS))
    t.equal(Math.max(...(await heads([0, 1])).map(Number)), frozen, 'still no progress')

    // Restart one: progress resumes.
    start(3)
    await waitFor(async () => (await heads([0, 1, 3])).every((h) => h >= BigInt(frozen + 3)), {
      timeoutMs: 90_000,
      what: 'progress after one returns',
    })
    t.pass('progress resumes with three validators')

    // No fork: every running node has the same header at every height.
    const top = Math.min(...(await heads([0, 1, 3])).map(Number))
    for (let n = 1; n <= top; n++) {
      const hashes = new Set(
        await Promise.all(
          [0, 1, 3].map(async (i) => (await clients[i]!.getBlock({ blockNumber: BigInt(n) })).hash),
        ),
      )
      if (hashes.size !== 1) t.fail(`different headers at height ${n}`)
    }
    t.pass(`identical headers at every height up to ${top}`)
    for (const p of procs) await p?.stop()
    void bytesToHex
  },
)
