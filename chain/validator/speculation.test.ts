/**
 * Speculative validation: a validator executes the next block from its proposer's previews
 * and, when the proposal arrives, runs only the rest. These tests pin that the shortcut
 * gives exactly the result of a full execution, is taken only for the block it fits, never
 * lets an invalid block through, and that previews follow the gossip rules.
 */
import { Block, createBlockHeaderFromBytesArray } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToHex } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import {
  makeGenesis,
  nextBlockFields,
  openStaticLedger,
  openTestLedger,
  tempDir,
  transfer,
  waitFor,
} from '../../test/support/chain.ts'
import { signCommitSeal } from '../consensus/seals.ts'
import { randomPrivateKey } from '../crypto/index.ts'
import type { Ledger } from '../ledger/ledger.ts'
import { keyPairFromPrivateKey } from '../lib/keys.ts'
import {
  decodePreview,
  encodePreview,
  MAX_PREVIEW_BYTES,
  MAX_PREVIEW_HASHES,
  PREVIEW_TAG,
  type Preview,
  ProposalPreviews,
  previewAuthor,
} from './speculation.ts'

// One validator proposes every block; the follower's own key matters only to tell its own
// previews apart.
const setup = makeGenesis({ validators: 1, accounts: 3 })
const proposerKey = setup.validators[0]!
const validatorKey = keyPairFromPrivateKey(randomPrivateKey())
const CHAIN_ID = 1337n
const TIMESTAMP_MS = 1_700_000_001_000

async function openLedger(t: Test): Promise<Ledger> {
  const { ledger } = await openTestLedger(t, setup, 'speculation-test-')
  return ledger
}

/** Three transfers, one per account, as the proposer's pool would hold them. */
function transfers(ledger: Ledger, nonce = 0n): TypedTransaction[] {
  return setup.accounts.map((from, i) =>
    transfer(ledger.common, from, setup.accounts[(i + 1) % 3]!.address, nonce, 1n + BigInt(i)),
  )
}

/** The proposer's block on the genesis head: its coinbase, its timestamp, these transactions. */
async function proposedBlock(txs: TypedTransaction[]): Promise<Block> {
  const dir = tempDir('speculation-proposer-')
  const { db, ledger } = await openStaticLedger(setup, dir.path)
  try {
    const built = await ledger.buildBlock(nextBlockFields(ledger, proposerKey, TIMESTAMP_MS), txs)
    return built.block
  } finally {
    await db.close()
    dir.remove()
  }
}

const speculation = (ledger: Ledger, timestampMs = TIMESTAMP_MS) =>
  ledger.speculate({
    parentHash: ledger.head.hash(),
    coinbase: proposerKey.address,
    timestamp: BigInt(timestampMs / 1000),
  })

t.test('a block executed ahead is validated by running only the rest', async (t) => {
  const ledger = await openLedger(t)
  const txs = transfers(ledger)
  const block = await proposedBlock(txs)
  // Kept at the parent by the ledger's head accounts: the import must update them.
  for (const account of setup.accounts) await ledger.headAccount(new Address(account.address))
  const ahead = await speculation(ledger)
  await ahead.add(txs.slice(0, 2))
  t.equal(ahead.executed, 2)

  const execution = await ledger.validateBlock(block)
  t.same(ledger.speculativeValidations, { used: 1, fellBack: 0 }, 'the speculation was used')
  t.same(execution.stateRoot, block.header.stateRoot, 'the state root of a full execution')
  t.notOk(ahead.open, 'the speculation is over')
  await t.rejects(ahead.add(txs.slice(2)), { code: 'LEDGER_SPECULATION_ENDED' })

  // The import takes the validated state, as after any validation.
  await ledger.importBlock(block, {
    seals: [signCommitSeal(block.hash(), 0, proposerKey.privateKey)],
  })
  t.same(ledger.head.stateRoot, block.header.stateRoot)
  for (const account of setup.accounts) {
    const state = await ledger.headState().getAccount(new Address(account.address))
    t.equal(state?.nonce, 1n, 'each transfer applied once')
    const kept = await ledger.headAccount(new Address(account.address))
    t.same([kept?.nonce, kept?.balance], [state?.nonce, state?.balance], 'head accounts updated')
  }
})

t.test('a block that does not continue the speculation is executed in full', async (t) => {
  const cases: Array<[string, (ledger: Ledger, txs: TypedTransaction[]) => Promise<void>]> = [
    [
      'another timestamp',
      async (ledger, txs) => (await speculation(ledger, TIMESTAMP_MS + 1_000)).add(txs.slice(0, 1)),
    ],
    ['another order', async (ledger, txs) => (await speculation(ledger)).add([txs[1]!])],
    [
      'another coinbase (a later round, another proposer)',
      async (ledger, txs) =>
        (
          await ledger.speculate({
            parentHash: ledger.head.hash(),
            coinbase: validatorKey.address,
            timestamp: BigInt(TIMESTAMP_MS / 1000),
          })
        ).add(txs.slice(0, 1)),
    ],
    [
      'more transactions than the block',
      async (ledger, txs) => {
        const extra = transfer(
          ledger.common,
          setup.accounts[0]!,
          setup.accounts[1]!.address,
          1n,
          1n,
        )
        await (await speculation(ledger)).add([...txs, extra])
      },
    ],
  ]
  for (const [what, speculate] of cases) {
    const ledger = await openLedger(t)
    const txs = transfers(ledger)
    const block = await proposedBlock(txs)
    await speculate(ledger, txs)
    const execution = await ledger.validateBlock(block)
    t.same(ledger.speculativeValidations, { used: 0, fellBack: 1 }, `${what}: not used`)
    t.same(execution.stateRoot, block.header.stateRoot, `${what}: the block is valid all the same`)
  }
})

t.test('a block executed ahead is still refused when its commitments are wrong', async (t) => {
  const ledger = await openLedger(t)
  const txs = transfers(ledger)
  const block = await proposedBlock(txs)
  const raw = block.header.raw()
  raw[3] = new Uint8Array(32).fill(7) // stateRoot
  const forged = new Block(
    createBlockHeaderFromBytesArray(raw, {
      common: ledger.common,
      skipConsensusFormatValidation: true,
    }),
    block.transactions,
    [],
    [],
    { common: ledger.common },
  )
  await (await speculation(ledger)).add(txs)
  await t.rejects(ledger.validateBlock(forged), { code: 'EXEC_STATE_ROOT_MISMATCH' })
  t.same(ledger.speculativeValidations, { used: 0, fellBack: 1 })
  const execution = await ledger.validateBlock(block)
  t.same(execution.stateRoot, block.header.stateRoot, 'the executor is clean for the real block')
})

t.test('a transaction that fails ends the speculation; the proposal runs in full', async (t) => {
  const ledger = await openLedger(t)
  const txs = transfers(ledger)
  const block = await proposedBlock(txs)
  const ahead = await speculation(ledger)
  await ahead.add(txs.slice(0, 1))
  const gap = transfer(ledger.common, setup.accounts[1]!, setup.accounts[0]!.address, 5n, 1n)
  await t.rejects(ahead.add([gap]), { code: 'EXEC_INVALID_TX' })
  t.notOk(ahead.open)
  const execution = await ledger.validateBlock(block)
  t.same(execution.stateRoot, block.header.stateRoot)
  t.same(ledger.speculativeValidations, { used: 0, fellBack: 0 }, 'nothing was left to use')
})

t.test('a speculation gives way to an import and is not started off the head', async (t) => {
  const ledger = await openLedger(t)
  const txs = transfers(ledger)
  const block = await proposedBlock(txs)
  const ahead = await speculation(ledger)
  await ahead.add(txs.slice(0, 1))
  await ledger.importBlock(block, {
    seals: [signCommitSeal(block.hash(), 0, proposerKey.privateKey)],
  })
  t.notOk(ahead.open, 'the import took the executor')
  t.same(ledger.head.stateRoot, block.header.stateRoot)
  await t.rejects(
    ledger.speculate({
      parentHash: new Uint8Array(32),
      coinbase: proposerKey.address,
      timestamp: 1n,
    }),
    { code: 'LEDGER_NOT_NEXT_BLOCK' },
  )
})

t.test('a speculation is not started over a validated proposal awaiting import', async (t) => {
  const ledger = await openLedger(t)
  const block = await proposedBlock(transfers(ledger))
  await ledger.validateBlock(block)
  await t.rejects(speculation(ledger), { code: 'LEDGER_NEXT_BLOCK_VALIDATED' })
  // The import still takes the validated state (no second execution needed).
  await ledger.importBlock(block, {
    seals: [signCommitSeal(block.hash(), 0, proposerKey.privateKey)],
  })
  t.same(ledger.head.stateRoot, block.header.stateRoot)
})

t.test(
  'the execution environment is every header field but the results and extraData',
  async (t) => {
    // sameExecutionEnvironment skips raw() positions 3, 4, 5, 6, 10 and 12: pin the layout.
    const { header } = await proposedBlock(transfers(await openLedger(t)))
    const raw = header.raw()
    t.equal(raw.length, 21, 'header fields up to requestsHash')
    t.same(raw[3], header.stateRoot)
    t.same(raw[4], header.transactionsTrie)
    t.same(raw[5], header.receiptTrie)
    t.same(raw[6], header.logsBloom)
    t.equal(BigInt(bytesToHex(raw[10]!)), header.gasUsed)
    t.same(raw[12], header.extraData)
  },
)

const preview = (ledger: Ledger, hashes: Uint8Array[], over: Partial<Preview> = {}): Preview => ({
  height: ledger.head.number + 1n,
  parentHash: ledger.head.hash(),
  timestamp: BigInt(TIMESTAMP_MS / 1000),
  hashes,
  ...over,
})

t.test('previews decode strictly and name their author', (t) => {
  const hashes = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]
  const p: Preview = { height: 5n, parentHash: new Uint8Array(32).fill(9), timestamp: 7n, hashes }
  const data = encodePreview(CHAIN_ID, p, proposerKey.privateKey)
  t.equal(data[0], PREVIEW_TAG)
  const decoded = decodePreview(data)
  t.same(decoded.preview, p)
  t.equal(bytesToHex(previewAuthor(CHAIN_ID, p, decoded.signature)), proposerKey.addressHex)
  t.not(
    bytesToHex(previewAuthor(CHAIN_ID + 1n, p, decoded.signature)),
    proposerKey.addressHex,
    'signed for one chain only',
  )

  const body = RLP.decode(data.subarray(1)) as [Uint8Array[], Uint8Array]
  const withBody = (fields: unknown[], sig: Uint8Array = body[1]) => {
    const encoded = RLP.encode([fields as Uint8Array[], sig])
    const out = new Uint8Array(encoded.length + 1)
    out[0] = PREVIEW_TAG
    out.set(encoded, 1)
    return out
  }
  const malformed: Array<[string, Uint8Array]> = [
    ['not tagged', data.subarray(1)],
    ['not RLP', Uint8Array.of(PREVIEW_TAG, 0xf9)],
    ['a height with a leading zero', withBody([Uint8Array.of(0, 5), ...body[0].slice(1)])],
    ['a short parent hash', withBody([body[0][0]!, new Uint8Array(31), body[0][2]!, body[0][3]!])],
    ['a short transaction hash', withBody([...body[0].slice(0, 3), [new Uint8Array(31)]])],
    [
      'too many transaction hashes',
      withBody([
        ...body[0].slice(0, 3),
        Array.from({ length: MAX_PREVIEW_HASHES + 1 }, () => new Uint8Array(32)),
      ]),
    ],
    ['a missing field', withBody(body[0].slice(0, 3))],
    ['a short signature', withBody(body[0], new Uint8Array(64))],
    ['oversized', new Uint8Array(MAX_PREVIEW_BYTES + 1).fill(PREVIEW_TAG, 0, 1)],
  ]
  for (const [what, bytes] of malformed) {
    t.throws(() => decodePreview(bytes), { code: 'PREVIEW_MALFORMED' }, what)
  }
  const badSig = new Uint8Array(65).fill(0xff)
  t.throws(() => previewAuthor(CHAIN_ID, p, badSig), { code: 'PREVIEW_BAD_SIGNATURE' })
  t.end()
})

t.test('previews: gossip verdicts, and a validator joining late executes them all', async (t) => {
  const ledger = await openLedger(t)
  const txs = transfers(ledger)
  const pool = new Map(txs.map((tx) => [bytesToHex(tx.hash()), { tx }]))
  const published: Uint8Array[] = []
  const previews = new ProposalPreviews(
    { chainId: CHAIN_ID, validatorKey },
    {
      ledger,
      knownTransactions: pool,
      nextProposer: () => proposerKey.address,
      publish: (data) => published.push(data),
    },
  )
  t.teardown(() => previews.stop())
  const from = (key: typeof proposerKey, p: Preview) => encodePreview(CHAIN_ID, p, key.privateKey)
  const hashes = txs.map((tx) => tx.hash())

  t.equal(previews.onMessage(Uint8Array.of(PREVIEW_TAG, 1, 2)), 'REJECT', 'malformed')
  const asProposer = new ProposalPreviews(
    { chainId: CHAIN_ID, validatorKey: proposerKey },
    { ledger, knownTransactions: pool, nextProposer: () => proposerKey.address, publish: () => {} },
  )
  t.equal(
    asProposer.onMessage(from(proposerKey, preview(ledger, hashes))),
    'IGNORE',
    'our own, back from the network',
  )
  t.equal(
    previews.onMessage(from(setup.accounts[0]!, preview(ledger, hashes))),
    'REJECT',
    'not from the next proposer',
  )
  t.equal(
    previews.onMessage(from(proposerKey, preview(ledger, hashes, { height: 2n }))),
    'IGNORE',
    'another height',
  )
  t.equal(
    previews.onMessage(
      from(proposerKey, preview(ledger, hashes, { parentHash: new Uint8Array(32) })),
    ),
    'IGNORE',
    'another parent',
  )
  t.equal(previews.stats.followed, 0, 'none of those was followed')

  // The stream's first preview was lost: the second lists everything from the start.
  t.equal(previews.onMessage(from(proposerKey, preview(ledger, hashes.slice(0, 2)))), 'ACCEPT')
  await waitFor(() => previews.stats.executed === 2, { what: 'two executed ahead' })
  t.equal(previews.onMessage(from(proposerKey, preview(ledger, hashes))), 'ACCEPT')
  await waitFor(() => previews.stats.executed === 3, { what: 'the third executed ahead' })
  // Each accepted preview is forwarded once: one that does not strictly extend it is not.
  t.equal(previews.onMessage(from(proposerKey, preview(ledger, hashes))), 'IGNORE', 'a repeat')
  t.equal(
    previews.onMessage(from(proposerKey, preview(ledger, [hashes[1]!]))),
    'IGNORE',
    'another order',
  )
  t.equal(
    previews.onMessage(
      from(proposerKey, preview(ledger, [...hashes, hashes[0]!], { timestamp: 1n })),
    ),
    'IGNORE',
    'another timestamp',
  )
  t.equal(previews.stats.followed, 1)

  const block = await proposedBlock(txs)
  await ledger.validateBlock(block)
  t.same(ledger.speculativeValidations, { used: 1, fellBack: 0 }, 'the proposal used it')
  t.equal(published.length, 0, 'a follower publishes nothing')
})

/**
 * A follower whose pool lacks the second of three previewed transfers (the preview outran
 * its gossip), once it has accepted the preview and run the first.
 */
async function followerLackingTheSecond(t: Test) {
  const ledger = await openLedger(t)
  const txs = transfers(ledger)
  const pool = new Map([
    [bytesToHex(txs[0]!.hash()), { tx: txs[0]! }],
    [bytesToHex(txs[2]!.hash()), { tx: txs[2]! }],
  ])
  const previews = new ProposalPreviews(
    { chainId: CHAIN_ID, validatorKey },
    { ledger, knownTransactions: pool, nextProposer: () => proposerKey.address, publish: () => {} },
  )
  const hashes = txs.map((tx) => tx.hash())
  const message = encodePreview(CHAIN_ID, preview(ledger, hashes), proposerKey.privateKey)
  t.equal(previews.onMessage(message), 'ACCEPT')
  await waitFor(() => previews.stats.executed === 1, { what: 'the first executed ahead' })
  return { ledger, txs, pool, previews, message }
}

t.test('a follower runs the transactions it has, up to the first it does not', async (t) => {
  const { ledger, txs, previews, message } = await followerLackingTheSecond(t)
  const block = await proposedBlock(txs)
  const execution = await ledger.validateBlock(block)
  t.same(execution.stateRoot, block.header.stateRoot)
  t.same(ledger.speculativeValidations, { used: 1, fellBack: 0 }, 'the rest ran at validation')
  await previews.stop()
  previews.onMessage(message)
  t.equal(previews.stats.followed, 1, 'stopped: nothing more is followed')
})

t.test('a follower paused on a missing transaction resumes when its pool admits it', async (t) => {
  const { ledger, txs, pool, previews } = await followerLackingTheSecond(t)
  t.teardown(() => previews.stop())
  pool.set(bytesToHex(txs[1]!.hash()), { tx: txs[1]! })
  previews.transactionArrived(bytesToHex(txs[1]!.hash()))
  await waitFor(() => previews.stats.executed === 3, { what: 'the rest executed ahead' })
  const block = await proposedBlock(txs)
  const execution = await ledger.validateBlock(block)
  t.same(execution.stateRoot, block.header.stateRoot)
  t.same(ledger.speculativeValidations, { used: 1, fellBack: 0 }, 'the proposal used it')
})

t.test('a speculation does not cancel a block of ours being built', async (t) => {
  const ledger = await openLedger(t)
  // A later round's proposal of ours, open on the executor.
  const fields = ledger.nextHeaderFields(validatorKey.address, new Uint8Array(0), Date.now())
  const build = await ledger.startBuild(fields)
  await t.rejects(
    ledger.speculate({
      parentHash: ledger.head.hash(),
      coinbase: proposerKey.address,
      timestamp: ledger.head.timestamp + 1n,
    }),
    { code: 'LEDGER_BUILDING' },
  )
  t.ok(build.open, 'the build is still open')
  await build.abort()
})
