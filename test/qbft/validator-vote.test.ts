/**
 * Validator set changes by vote, with every node a separate process over libp2p on
 * loopback: four validators run; a fifth node holding a validator key that is not in the
 * set syncs by range and follows; three of four vote it in, and it proposes and seals;
 * three of five vote it out, and the others keep finalizing without it. Each change must
 * apply from the same height on every node, with identical blocks everywhere.
 */

import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import t from 'tap'
import { type Block, createPublicClient, type Hex, http } from 'viem'
import { decodeExtraData } from '../../chain/consensus/extra-data.ts'
import { commitSealDigest, quorumSize } from '../../chain/consensus/seals.ts'
import { recoverAddress } from '../../chain/crypto/index.ts'
import { makeGenesis, tempDir, waitFor } from '../support/chain.ts'
import { memberArgs, prepareNetwork } from '../support/network.ts'
import { NodeProcess } from '../support/p2p.ts'

const ROUND_TIMEOUT_MS = 1_000

/** Ballots that change a set of `n` (chain/consensus/validator-votes.ts: agreeing * 2 > n). */
const votesNeeded = (n: number) => Math.floor(n / 2) + 1

/** One JSON-RPC call; an error reply throws with the node's message. */
async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = (await response.json()) as { result?: T; error?: { message: string } }
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

interface QbftStatusReply {
  isValidator: boolean
  validators: Array<{ address: string; proposalsMade: number; commitsIncluded: number }>
}

t.test(
  '5 processes: a validator voted in syncs, proposes and seals; voted out, the rest go on',
  async (t) => {
    const setup = makeGenesis({
      validators: 5,
      accounts: 1,
      config: { blockPeriodMs: 1000, roundTimeoutMs: ROUND_TIMEOUT_MS, roundTimeoutMaxMs: 4_000 },
    })
    const newcomer = setup.validators[4]!
    const me = newcomer.addressHex.toLowerCase()
    // The genesis names only the first four; the fifth key waits to be voted in.
    const genesis = {
      ...setup.genesis,
      validators: setup.genesis.validators.filter((v) => v.toLowerCase() !== me),
    }
    t.equal(genesis.validators.length, 4, 'genesis names four validators')
    const dir = tempDir('qbft-vote-')
    t.teardown(() => dir.remove())
    const { genesisFile, members } = await prepareNetwork({ ...setup, genesis }, dir.path)
    const founders = members.slice(0, 4)
    const procs: Array<NodeProcess | undefined> = []
    t.teardown(async () => {
      for (const p of procs) p?.kill()
      await Promise.all(procs.map((p) => p?.exited))
    })
    // The founders know only each other; the newcomer dials them (as a new validator would).
    const start = (i: number) => {
      // The votes and qbft_status are off on a public RPC unless named.
      const api = ['--rpc-api', 'eth,net,web3,qbft,admin']
      const args =
        i < 4 ? memberArgs(genesisFile, founders, i, api) : memberArgs(genesisFile, members, i, api)
      procs[i] = new NodeProcess(members[i]!.name, args)
      return procs[i]!
    }
    for (let i = 0; i < 4; i++) start(i)

    // cacheTime 0: viem otherwise answers getBlockNumber from a per-client cache for up to
    // 4 s (its default polling interval), and a stale head makes `settledChange` return a
    // height below the change, so the scan for the change height finds nothing.
    const clients = members.map((m) =>
      createPublicClient({ cacheTime: 0, transport: http(m.rpcUrl, { retryCount: 0 }) }),
    )
    const all = [0, 1, 2, 3, 4]
    const blockNumber = async (i: number) => {
      try {
        return await clients[i]!.getBlockNumber()
      } catch {
        return -1n
      }
    }
    /** Fails at once (not at a deadline) if a node process died; NodeProcess adds its stderr. */
    const heads = async (which: number[]) => {
      for (const p of procs) if (p?.running === false) await p.waitFor(() => undefined, 'blocks', 0)
      return Promise.all(which.map((i) => blockNumber(i)))
    }
    const minHead = async (which: number[]) => BigInt(Math.min(...(await heads(which)).map(Number)))
    const block = (i: number, n: bigint) => clients[i]!.getBlock({ blockNumber: n })
    /**
     * Lowercase addresses of the set that seals block `n` (a number up to the node's head,
     * or 'pending': the next block), as node `i` reports it.
     */
    const validatorsAt = async (i: number, n: bigint | 'pending') =>
      (
        await rpc<string[]>(members[i]!.rpcUrl, 'qbft_getValidatorsByBlockNumber', [
          n === 'pending' ? n : `0x${n.toString(16)}`,
        ])
      ).map((a) => a.toLowerCase())
    const isMember = async (i: number, n: bigint | 'pending') =>
      (await validatorsAt(i, n)).includes(me)
    /**
     * Waits until every node has `wanted` membership for its next block, then until every
     * head has passed the highest of those next blocks, so the change is below every head.
     */
    const settledChange = async (wanted: boolean, what: string) => {
      await waitFor(
        async () => {
          for (const i of all) if ((await isMember(i, 'pending')) !== wanted) return false
          return true
        },
        { timeoutMs: 40_000, what },
      )
      // Every node's 'pending' was at most its head + 1 then, so the change is at or below
      // the highest head read now (fresh reads: a failed one is read again, never guessed).
      const top = await waitFor(
        async () => {
          const now = await heads(all)
          return now.every((h) => h >= 0n) ? BigInt(Math.max(...now.map(Number))) + 1n : undefined
        },
        { timeoutMs: 20_000, what: 'the heads of all five' },
      )
      await waitFor(async () => (await minHead(all)) >= top, {
        timeoutMs: 20_000,
        what: `every node at ${top}`,
      })
      return top
    }
    /** First height in [from, to] at which node `i` reports the wanted membership. */
    const firstHeight = async (i: number, wanted: boolean, from: bigint, to: bigint) => {
      for (let n = from; n <= to; n++) if ((await isMember(i, n)) === wanted) return n
      return undefined
    }
    /** Signers (lowercase) of the commit seals that finalized block `n`, read from n + 1. */
    const sealersOf = async (n: bigint) => {
      const parent = await block(0, n)
      const extra = decodeExtraData(hexToBytes((await block(0, n + 1n)).extraData as Hex))
      const digest = commitSealDigest(hexToBytes(parent.hash as Hex), extra.parentCommitRound)
      return extra.parentCommitSeals.map((s): string => bytesToHex(recoverAddress(digest, s)))
    }
    const voteIn = (b: Block) => {
      const { vote } = decodeExtraData(hexToBytes(b.extraData as Hex))
      return vote === null || bytesToHex(vote.address) !== me ? undefined : vote.add
    }
    /** Every node has the same block hash at every height up to `top`. */
    const checkNoFork = async (top: bigint) => {
      for (let n = 1n; n <= top; n++) {
        const hashes = new Set(await Promise.all(all.map(async (i) => (await block(i, n)).hash)))
        if (hashes.size !== 1) t.fail(`different blocks at height ${n}`)
      }
      t.pass(`identical blocks on all five nodes up to ${top}`)
    }

    await waitFor(async () => (await minHead([0, 1, 2, 3])) >= 5n, {
      timeoutMs: 60_000,
      what: '5 blocks on the four founders',
    })

    // The newcomer starts behind, catches up by range sync and follows the tip.
    const newNode = start(4)
    const foundersAt = await minHead([0, 1, 2, 3])
    const synced = await newNode.waitForLine(
      (l) => l.msg === 'sync complete' && typeof l.blocks === 'number' && l.blocks > 0,
      'range sync on the newcomer',
      60_000,
    )
    t.pass(`the newcomer range-synced ${synced.blocks} blocks`)
    await waitFor(async () => (await blockNumber(4)) >= foundersAt + 2n, {
      timeoutMs: 30_000,
      what: 'the newcomer following the tip',
    })
    t.notOk(await isMember(0, 'pending'), 'the fifth key is not a validator yet')
    const idle = await rpc<QbftStatusReply>(members[4]!.rpcUrl, 'qbft_status')
    t.equal(idle.isValidator, false, 'qbft_status: the newcomer is not a validator yet')

    // Vote it in: a change needs more than half of the current set (3 of 4).
    const addVotesNeeded = votesNeeded(4)
    const votedFrom = (await minHead(all)) + 1n
    for (const i of [0, 1, 2].slice(0, addVotesNeeded)) {
      t.equal(
        await rpc<boolean>(members[i]!.rpcUrl, 'qbft_proposeValidatorVote', [
          newcomer.addressHex,
          true,
        ]),
        true,
        `v${i} votes to add`,
      )
    }
    const addTop = await settledChange(true, 'the newcomer added on every node')
    const added = await Promise.all(all.map((i) => firstHeight(i, true, votedFrom, addTop)))
    const addedAt = added[0]
    if (addedAt === undefined) throw new Error('no height with the newcomer in the set')
    t.same(
      added,
      all.map(() => addedAt),
      `added from the same height everywhere (${added})`,
    )
    t.ok(addedAt > votedFrom, 'added after the votes')
    for (const i of all) {
      t.notOk(await isMember(i, addedAt - 1n), `v${i}: not a member at ${addedAt - 1n}`)
      t.equal((await validatorsAt(i, addedAt)).length, 5, `v${i}: five validators at ${addedAt}`)
    }
    // The change applies from the block after the one carrying the deciding vote, and exactly
    // `addVotesNeeded` distinct proposers voted for it.
    const addVoters = new Set<string>()
    for (let n = votedFrom; n < addedAt; n++) {
      const b = await block(0, n)
      if (voteIn(b) === true) addVoters.add(b.miner.toLowerCase())
    }
    t.equal(voteIn(await block(0, addedAt - 1n)), true, 'the block before carries the last vote')
    t.equal(addVoters.size, addVotesNeeded, 'a majority of the four voted')

    // The newcomer proposes (coinbase) and seals (its seal in the child's extraData).
    const proposedAt = await waitFor(
      async () => {
        const head = await blockNumber(0)
        for (let n = addedAt; n <= head; n++)
          if ((await block(0, n)).miner.toLowerCase() === me) return n
        return undefined
      },
      { timeoutMs: 30_000, what: 'a block proposed by the newcomer' },
    )
    t.pass(`the newcomer proposed block ${proposedAt}`)
    const sealedAt = await waitFor(
      async () => {
        const head = await blockNumber(0)
        for (let n = addedAt; n < head; n++) if ((await sealersOf(n)).includes(me)) return n
        return undefined
      },
      { timeoutMs: 30_000, what: 'a block sealed by the newcomer' },
    )
    t.pass(`the newcomer sealed block ${sealedAt}`)
    const active = await rpc<QbftStatusReply>(members[4]!.rpcUrl, 'qbft_status')
    t.equal(active.isValidator, true, 'qbft_status: the newcomer is a validator')
    // A founder's consensus counts the newcomer's accepted proposals and commits.
    await waitFor(
      async () => {
        const status = await rpc<QbftStatusReply>(members[0]!.rpcUrl, 'qbft_status')
        const entry = status.validators.find((v) => v.address.toLowerCase() === me)
        return entry !== undefined && entry.proposalsMade > 0 && entry.commitsIncluded > 0
      },
      { timeoutMs: 20_000, what: "qbft_status on v0 counting the newcomer's work" },
    )
    t.pass('qbft_status on v0 counts proposals and commits of the newcomer')

    // Vote it out: more than half of the five (3), from three founders.
    const removeVotesNeeded = votesNeeded(5)
    // v0 does not vote; its add wish (dropped once it came true, or by this call) must not
    // count or come back after the removal.
    await rpc(members[0]!.rpcUrl, 'qbft_discardValidatorVote', [newcomer.addressHex])
    t.same(await rpc(members[0]!.rpcUrl, 'qbft_getPendingVotes'), {}, 'v0 has no pending vote')
    const removeFrom = (await minHead(all)) + 1n
    for (const i of [1, 2, 3].slice(0, removeVotesNeeded)) {
      await rpc(members[i]!.rpcUrl, 'qbft_proposeValidatorVote', [newcomer.addressHex, false])
    }
    const removeTop = await settledChange(false, 'the newcomer removed on every node')
    const removed = await Promise.all(all.map((i) => firstHeight(i, false, removeFrom, removeTop)))
    const removedAt = removed[0]
    if (removedAt === undefined) throw new Error('no height without the newcomer in the set')
    t.same(
      removed,
      all.map(() => removedAt),
      `removed from the same height everywhere (${removed})`,
    )
    for (const i of all) {
      t.ok(await isMember(i, removedAt - 1n), `v${i}: a member at ${removedAt - 1n}`)
      t.equal(
        (await validatorsAt(i, removedAt)).length,
        4,
        `v${i}: four validators at ${removedAt}`,
      )
    }
    t.equal(voteIn(await block(0, removedAt - 1n)), false, 'the block before carries the last vote')
    const removeVoters = new Set<string>()
    for (let n = removeFrom; n < removedAt; n++) {
      const b = await block(0, n)
      if (voteIn(b) === false) removeVoters.add(b.miner.toLowerCase())
    }
    t.equal(removeVoters.size, removeVotesNeeded, 'a majority of the five voted')

    // The four finalize without it; the newcomer keeps following as a full node.
    await waitFor(async () => (await minHead(all)) >= removedAt + 4n, {
      timeoutMs: 30_000,
      what: 'blocks after the removal',
    })
    for (let n = removedAt; n < removedAt + 4n; n++) {
      const sealers = await sealersOf(n)
      t.notOk(sealers.includes(me), `block ${n} is not sealed by the removed validator`)
      t.ok(sealers.length >= quorumSize(4), `block ${n} has a quorum of the four`)
      t.not((await block(0, n)).miner.toLowerCase(), me, `block ${n} not proposed by it`)
    }
    const after = await rpc<QbftStatusReply>(members[4]!.rpcUrl, 'qbft_status')
    t.equal(after.isValidator, false, 'qbft_status: the newcomer is no longer a validator')

    await checkNoFork(await minHead(all))
    await Promise.all(procs.map((p) => p?.stop()))
  },
)
