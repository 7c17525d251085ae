/**
 * The light client against headers built here with four validator keys, served by an
 * in-memory endpoint that can lie: missing seals, seals of strangers, an altered field, a
 * wrong genesis; validator votes change the set it checks seals against; a restart resumes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { bytesToHex } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import type { Hex } from 'viem'
import {
  emptyVanity,
  encodeExtraData,
  type ValidatorVote,
} from '../../chain/consensus/extra-data.ts'
import { signCommitSeal } from '../../chain/consensus/seals.ts'
import { keccak256, randomPrivateKey } from '../../chain/crypto/index.ts'
import { isSidechainError } from '../../chain/lib/errors.ts'
import { type KeyPair, keyPairFromPrivateKey } from '../../chain/lib/keys.ts'
import { silentLogger } from '../../chain/lib/logger.ts'
import { encodeRpcHeader, parseRpcHeader, type RpcHeader } from './header.ts'
import { type HeaderSource, SidechainLightClient } from './light-client.ts'

const ZERO32 = `0x${'00'.repeat(32)}` as Hex

function keys(n: number): KeyPair[] {
  return Array.from({ length: n }, () => keyPairFromPrivateKey(randomPrivateKey())).sort((a, b) =>
    Buffer.compare(a.address, b.address),
  )
}

function sorted(set: KeyPair[]): KeyPair[] {
  return [...set].sort((a, b) => Buffer.compare(a.address, b.address))
}

function withHash(fields: Omit<RpcHeader, 'hash'>): RpcHeader {
  const draft = { ...fields, hash: ZERO32 } as RpcHeader
  return { ...draft, hash: bytesToHex(keccak256(encodeRpcHeader(draft))) as Hex }
}

interface BlockPlan {
  /** Keys that seal this block (their seals travel in the child). Default: all validators. */
  sealers?: (validators: KeyPair[]) => KeyPair[]
  vote?: ValidatorVote
}

/**
 * A chain of `length` headers after genesis. `setAt(n)` is the validator set of block n (the
 * test decides when a vote takes effect, the light client must agree).
 */
function buildChain(
  genesisSet: KeyPair[],
  length: number,
  options: { setAt?: (n: number) => KeyPair[]; plan?: (n: number) => BlockPlan } = {},
): RpcHeader[] {
  const setAt = options.setAt ?? (() => genesisSet)
  const headers: RpcHeader[] = []
  const base = {
    sha3Uncles: `0x${'1d'.repeat(32)}` as Hex,
    transactionsRoot: `0x${'56'.repeat(32)}` as Hex,
    receiptsRoot: `0x${'56'.repeat(32)}` as Hex,
    logsBloom: `0x${'00'.repeat(256)}` as Hex,
    difficulty: '0x1' as Hex,
    gasLimit: '0x1c9c380' as Hex,
    gasUsed: '0x0' as Hex,
    mixHash: `0x${'63'.repeat(32)}` as Hex,
    nonce: '0x0000000000000000' as Hex,
    baseFeePerGas: '0x7' as Hex,
    withdrawalsRoot: `0x${'56'.repeat(32)}` as Hex,
  }
  for (let n = 0; n <= length; n++) {
    const validators = sorted(setAt(n))
    const parent = headers[n - 1]
    const parentSealers =
      n <= 1 ? [] : (options.plan?.(n - 1).sealers ?? ((v: KeyPair[]) => v))(sorted(setAt(n - 1)))
    const seals = parentSealers.map((k) =>
      signCommitSeal(Buffer.from(parent!.hash.slice(2), 'hex'), 0, k.privateKey),
    )
    const proposer = validators[n % validators.length]!
    headers.push(
      withHash({
        ...base,
        parentHash: parent?.hash ?? ZERO32,
        miner: n === 0 ? (`0x${'00'.repeat(20)}` as Hex) : proposer.addressHex,
        stateRoot: bytesToHex(keccak256(Uint8Array.of(n))) as Hex,
        number: `0x${n.toString(16)}` as Hex,
        timestamp: `0x${(1_700_000_000 + n).toString(16)}` as Hex,
        extraData: bytesToHex(
          encodeExtraData({
            vanity: emptyVanity(),
            round: 0,
            vote: n === 0 ? null : (options.plan?.(n).vote ?? null),
            validators: n === 0 ? validators.map((v) => v.address) : [],
            parentCommitRound: 0,
            parentCommitSeals: seals,
          }),
        ) as Hex,
      }),
    )
  }
  return headers
}

function source(headers: RpcHeader[], counter?: { fetched: number }): HeaderSource {
  return {
    blockNumber: async () => BigInt(headers.length - 1),
    header: async (n) => {
      if (counter) counter.fetched++
      const h = headers[Number(n)]
      if (h === undefined) throw new Error(`no block ${n}`)
      return structuredClone(h)
    },
  }
}

function tempState(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'light-client-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, 'light-client.json')
}

function client(
  headers: RpcHeader[],
  stateFile: string,
  extra: { checkpointHash?: Hex; refusals?: string[]; counter?: { fetched: number } } = {},
) {
  return new SidechainLightClient(
    {
      checkpoint:
        extra.checkpointHash === undefined ? undefined : { number: 0n, hash: extra.checkpointHash },
      epochLength: 30_000,
      stateFile,
      fetchConcurrency: 4,
    },
    {
      source: source(headers, extra.counter),
      logger: silentLogger(),
      onRefusal: (code) => extra.refusals?.push(code),
    },
  )
}

async function refusal(t: Test, promise: Promise<unknown>, code: string, what: string) {
  try {
    await promise
    t.fail(`${what}: accepted`)
  } catch (err) {
    t.ok(isSidechainError(err, code as never), `${what}: ${code} (${(err as Error).message})`)
  }
}

t.test(
  'an honest chain: the head parent is final, a restart resumes from the datadir',
  async (t) => {
    const set = keys(4)
    const headers = buildChain(set, 12)
    const file = tempState(t)
    const lc = client(headers, file, { checkpointHash: headers[0]!.hash })
    const finalized = await lc.sync()
    t.equal(finalized.number, 11n, 'the head carries the seals of its parent, not its own')
    t.equal(finalized.hash, headers[11]!.hash)
    t.equal(finalized.stateRoot, headers[11]!.stateRoot)

    headers.push(...buildChain(set, 15).slice(13))
    const counter = { fetched: 0 }
    const again = client(headers, file, { checkpointHash: headers[0]!.hash, counter })
    t.equal((await again.sync()).number, 14n)
    t.equal(
      counter.fetched,
      4,
      'a restarted client fetches only headers 12-15, after its last final one',
    )
  },
)

t.test('a header without a quorum of seals is refused, and nothing after it', async (t) => {
  const set = keys(4)
  // Block 6 is sealed by 2 of 4 validators (quorum is 3).
  const headers = buildChain(set, 10, {
    plan: (n) => (n === 6 ? { sealers: (v) => v.slice(0, 2) } : {}),
  })
  const refusals: string[] = []
  const lc = client(headers, tempState(t), { checkpointHash: headers[0]!.hash, refusals })
  await refusal(t, lc.sync(), 'RELAYER_HEADER_UNSEALED', 'two seals of four')
  t.equal(lc.finalized?.number, 5n, 'block 5 is the newest final block')
  await refusal(t, lc.sync(), 'RELAYER_HEADER_UNSEALED', 'asked again')
  t.equal(lc.finalized?.number, 5n)
  t.same(refusals, ['RELAYER_HEADER_UNSEALED', 'RELAYER_HEADER_UNSEALED'], 'each refusal reported')
})

t.test('seals of keys outside the validator set count for nothing', async (t) => {
  const set = keys(4)
  const strangers = keys(4)
  const headers = buildChain(set, 6, { plan: (n) => (n === 3 ? { sealers: () => strangers } : {}) })
  const lc = client(headers, tempState(t), { checkpointHash: headers[0]!.hash })
  await refusal(t, lc.sync(), 'RELAYER_HEADER_UNSEALED', 'four strangers')
  t.equal(lc.finalized?.number, 2n)
})

t.test('an altered field, a broken link and a wrong genesis are refused', async (t) => {
  const set = keys(4)
  const honest = buildChain(set, 6)

  const forgedRoot = structuredClone(honest)
  forgedRoot[4]!.stateRoot = `0x${'ee'.repeat(32)}` // claimed hash kept
  const a = client(forgedRoot, tempState(t), { checkpointHash: honest[0]!.hash })
  await refusal(t, a.sync(), 'RELAYER_HEADER_MISMATCH', 'state root changed under its hash')
  t.equal(a.finalized?.number, 2n)

  // A forged header with a hash of its own: its child names the real parent, and no quorum sealed it.
  const rehashed = structuredClone(honest)
  const { hash: _old, ...fields } = rehashed[4]!
  rehashed[4] = withHash({ ...fields, stateRoot: `0x${'ee'.repeat(32)}` })
  const b = client(rehashed, tempState(t), { checkpointHash: honest[0]!.hash })
  await refusal(t, b.sync(), 'RELAYER_HEADER_MISMATCH', 'a re-hashed forged header')
  t.ok(b.finalized!.number < 4n, 'the forged header never becomes final')

  const other = buildChain(keys(4), 3)
  const c = client(other, tempState(t), { checkpointHash: honest[0]!.hash })
  await refusal(t, c.sync(), 'RELAYER_UNTRUSTED_CHECKPOINT', 'another genesis')
  t.equal(c.finalized, undefined)
  t.equal(parseRpcHeader(honest[3]!).hashHex, honest[3]!.hash, 'header hashing round-trips')
})

t.test('validator votes move the set the seals are checked against', async (t) => {
  const set = keys(4)
  const newcomer = keys(1)[0]!
  const five = sorted([...set, newcomer])
  // Blocks 1-3 vote to add the newcomer; the third vote (3 of 4 > half) applies from block 4.
  const setAt = (n: number) => (n >= 4 ? five : set)
  const vote = { address: newcomer.address, add: true }
  const honest = buildChain(set, 9, { setAt, plan: (n) => (n >= 1 && n <= 3 ? { vote } : {}) })
  const lc = client(honest, tempState(t), { checkpointHash: honest[0]!.hash })
  t.equal((await lc.sync()).number, 8n, 'the grown set seals blocks 4 and later')

  // From block 4 the quorum is 4 of 5: the three old validators that used to be enough are not.
  const short = buildChain(set, 9, {
    setAt,
    plan: (n) =>
      n >= 1 && n <= 3
        ? { vote }
        : n === 5
          ? { sealers: (v) => v.filter((k) => k !== newcomer).slice(0, 3) }
          : {},
  })
  const lc2 = client(short, tempState(t), { checkpointHash: short[0]!.hash })
  await refusal(t, lc2.sync(), 'RELAYER_HEADER_UNSEALED', 'three seals of five')
  t.equal(lc2.finalized?.number, 4n)

  // Without the votes, a set grown by the endpoint's word alone is refused (wrong proposer or seals).
  const unvoted = buildChain(set, 6, { setAt })
  const lc3 = client(unvoted, tempState(t), { checkpointHash: unvoted[0]!.hash })
  await refusal(t, lc3.sync(), 'RELAYER_HEADER_UNSEALED', 'a set change nobody voted for')
})
