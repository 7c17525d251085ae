/**
 * Gossip block rules against a real ledger: ACCEPT imports the next block; duplicates,
 * future blocks and clock skew are IGNOREd; junk, bad seals, non-validator seals and wrong
 * proposers are REJECTed. Blocks come from a chain built by the real single-validator path.
 */
import path from 'node:path'
import { type Block, createBlock } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { createAddressFromString } from '@ethereumjs/util'
import t from 'tap'
import { makeGenesis, tempDir } from '../../test/support/chain.ts'
import { buildChain } from '../../test/support/p2p.ts'
import { decodeExtraData, emptyVanity, encodeExtraData } from '../consensus/extra-data.ts'
import { ConsensusRules, StaticValidatorSet } from '../consensus/rules.ts'
import { signCommitSeal } from '../consensus/seals.ts'
import { hexToBytes, randomPrivateKey } from '../crypto/index.ts'
import { Ledger } from '../ledger/ledger.ts'
import { type ErrorCode, SidechainError } from '../lib/errors.ts'
import { keyPairFromPrivateKey } from '../lib/keys.ts'
import { ChainDb } from '../storage/chain-db.ts'
import {
  type BlockMessage,
  classifyImportError,
  decodeBlockMessage,
  encodeBlockMessage,
  validateGossipBlock,
} from './validation.ts'

const setup = makeGenesis({ accounts: 2, config: { blockPeriodMs: 1000 } })
const validator = setup.validators[0]!
const rogue = keyPairFromPrivateKey(randomPrivateKey())

async function openLedger(datadir: string) {
  const db = new ChainDb(path.join(datadir, 'chaindata'))
  await db.open()
  const rules = new ConsensusRules(
    new StaticValidatorSet(setup.genesis.validators.map((v) => hexToBytes(v))),
  )
  const ledger = new Ledger({ genesis: setup.genesis }, { db, rules })
  await ledger.open()
  return { db, ledger }
}

/** A copy of `base` with header changes, optionally re-sealed by `signer`. */
function forge(base: Block, ledger: Ledger, changes: Record<string, unknown>): Block {
  return createBlock(
    { header: { ...base.header.toJSON(), ...changes } as never, transactions: base.transactions },
    { common: ledger.common, skipConsensusFormatValidation: true },
  )
}

function seal(block: Block, key: Uint8Array): Uint8Array {
  return signCommitSeal(block.hash(), decodeExtraData(block.header.extraData).round, key)
}

t.test('gossip block rules', async (t) => {
  const source = tempDir('sidechain-val-src-')
  const target = tempDir('sidechain-val-dst-')
  t.teardown(() => {
    source.remove()
    target.remove()
  })
  await buildChain(setup, source.path, 4, { txEvery: 2 })
  const src = await openLedger(source.path)
  const blocks: BlockMessage[] = []
  for (let n = 1n; n <= 4n; n++) {
    const block = (await src.ledger.getBlockByNumber(n))!
    blocks.push({ block, ...(await src.ledger.getCommit(block.hash()))! })
  }
  await src.db.close()
  const { db, ledger } = await openLedger(target.path)
  t.teardown(() => db.close())
  const now = Date.now()
  const validate = (msg: BlockMessage | Uint8Array) =>
    validateGossipBlock(
      msg instanceof Uint8Array ? msg : encodeBlockMessage(msg.block, msg),
      ledger,
      (block, commit) =>
        ledger.importBlock(block, { seals: commit.seals, sealRound: commit.round }),
      { nowMs: now, maxFutureSeconds: 15 },
    )
  const [b1, b2, b3] = blocks as [BlockMessage, BlockMessage, BlockMessage]

  t.test('codec round trip', async (t) => {
    const decoded = decodeBlockMessage(
      encodeBlockMessage(b2.block, { round: 7, seals: b2.seals }),
      ledger.common,
    )
    t.same(decoded.block.hash(), b2.block.hash())
    t.same(decoded.seals, b2.seals)
    t.equal(decoded.round, 7)
  })

  t.test('REJECT: undecodable messages', async (t) => {
    await t.rejects(
      validate(Uint8Array.of(1, 2, 3)),
      { action: 'REJECT', code: 'BLOCK_MALFORMED' },
      'junk bytes',
    )
    await t.rejects(
      validate(RLP.encode([Uint8Array.of(1)])),
      { action: 'REJECT', code: 'BLOCK_MALFORMED' },
      'wrong shape',
    )
    await t.rejects(
      validate(RLP.encode([b1.block.serialize(), 0, [Uint8Array.of(1)]])),
      { action: 'REJECT', code: 'BLOCK_MALFORMED' },
      'short seal',
    )
    await t.rejects(
      validate(RLP.encode([Uint8Array.of(0xc0), 0, []])),
      { action: 'REJECT', code: 'BLOCK_MALFORMED' },
      'not a block',
    )
    await t.rejects(
      validate(RLP.encode([b1.block.serialize(), Uint8Array.of(0, 1), b1.seals])),
      { action: 'REJECT', code: 'BLOCK_MALFORMED' },
      'non-minimal round',
    )
  })

  t.test('REJECT: the next block without valid seals', async (t) => {
    await t.rejects(
      validate({ block: b1.block, round: 0, seals: [] }),
      { action: 'REJECT', code: 'BLOCK_INVALID' },
      'no seals',
    )
    await t.rejects(
      validate({ block: b1.block, round: 0, seals: [seal(b1.block, rogue.privateKey)] }),
      { action: 'REJECT', code: 'BLOCK_INVALID' },
      'sealed by a non-validator',
    )
    await t.rejects(
      validate({ block: b1.block, round: 0, seals: [new Uint8Array(65).fill(3)] }),
      { action: 'REJECT', code: 'BLOCK_INVALID' },
      'garbage seal',
    )
    t.equal(ledger.head.number, 0n, 'nothing imported')
  })

  t.test('REJECT: a block proposed by a non-validator', async (t) => {
    const forged = forge(b1.block, ledger, { coinbase: createAddressFromString(rogue.addressHex) })
    await t.rejects(
      validate({ block: forged, round: 0, seals: [seal(forged, rogue.privateKey)] }),
      { action: 'REJECT', code: 'BLOCK_INVALID' },
    )
  })

  t.test('ACCEPT imports the next block; IGNORE its duplicate', async (t) => {
    const { imported } = await validate(b1)
    t.equal(imported.block.header.number, 1n)
    t.equal(ledger.head.number, 1n)
    await t.rejects(validate(b1), { action: 'IGNORE', code: 'BLOCK_KNOWN' })
    await t.rejects(
      validate({ block: b1.block, round: 0, seals: [seal(b1.block, rogue.privateKey)] }),
      { action: 'REJECT', code: 'BLOCK_BAD_SEALS' },
      'a known block relayed with bad seals is still rejected',
    )
  })

  t.test('future blocks: IGNORE with valid seals; REJECT only junk signatures', async (t) => {
    const err = await validate(b3).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.match(err, { action: 'IGNORE', code: 'BLOCK_FUTURE' })
    t.same(
      (err as { decoded?: BlockMessage }).decoded?.block.hash(),
      b3.block.hash(),
      'decoded block kept for buffering',
    )
    // Votes may change the set before that height: a non-member seal is not decidable yet.
    await t.rejects(
      validate({ block: b3.block, round: 0, seals: [seal(b3.block, rogue.privateKey)] }),
      { action: 'IGNORE', code: 'BLOCK_NOT_DECIDABLE' },
    )
    await t.rejects(
      validate({ block: b3.block, round: 0, seals: [new Uint8Array(65).fill(3)] }),
      { action: 'REJECT', code: 'BLOCK_BAD_SEALS' },
      'a seal that is no signature at all',
    )
    await t.rejects(
      validate({ block: b3.block, round: 0, seals: [...b3.seals, ...b3.seals] }),
      { action: 'REJECT', code: 'BLOCK_BAD_SEALS' },
      'the same signer twice',
    )
  })

  t.test('IGNORE: timestamps ahead of our clock (ours may be wrong)', async (t) => {
    const skewed = forge(b2.block, ledger, { timestamp: BigInt(Math.floor(now / 1000) + 3600) })
    await t.rejects(
      validate({ block: skewed, round: 0, seals: [seal(skewed, validator.privateKey)] }),
      { action: 'IGNORE', code: 'BLOCK_FUTURE_TIMESTAMP' },
    )
  })

  t.test('IGNORE: a different finalized block at a known height', async (t) => {
    const extra = decodeExtraData(b1.block.header.extraData)
    const vanity = emptyVanity()
    vanity[0] = 1
    const other = forge(b1.block, ledger, { extraData: encodeExtraData({ ...extra, vanity }) })
    await t.rejects(
      validate({ block: other, round: 0, seals: [seal(other, validator.privateKey)] }),
      { action: 'IGNORE', code: 'BLOCK_CONFLICT' },
    )
  })

  t.test('the next block imports on top', async (t) => {
    await validate(b2)
    await validate(b3)
    t.equal(ledger.head.number, 3n)
  })

  t.test(
    'a past block is judged by its header and seals, its transactions left encoded',
    async (t) => {
      t.ok(b2.block.transactions.length > 0, 'the block carries transactions')
      const err = await validate(b2).then(
        () => undefined,
        (e: unknown) => e as { code: string; decoded?: BlockMessage },
      )
      t.match(err, { action: 'IGNORE', code: 'BLOCK_KNOWN' })
      t.same(err?.decoded?.block.hash(), b2.block.hash(), 'the same header')
      t.equal(err?.decoded?.block.transactions.length, 0, 'no transaction objects built')
      await t.rejects(
        validate({ block: b2.block, round: 0, seals: [seal(b2.block, rogue.privateKey)] }),
        { action: 'REJECT', code: 'BLOCK_BAD_SEALS' },
        'bad seals are still rejected',
      )
      // The next block still goes through the full decoder and its errors.
      const b4 = blocks[3]!
      const [header, , ...rest] = RLP.decode(b4.block.serialize()) as unknown as Uint8Array[]
      const badNext = RLP.encode([header!, [Uint8Array.of(2, 1)], ...rest] as never)
      await t.rejects(
        validate(RLP.encode([badNext, 0, b4.seals])),
        { action: 'REJECT', code: 'BLOCK_MALFORMED' },
        'a block above the head with a transaction that does not decode',
      )
    },
  )

  t.test('the next block, as this node validated it, is imported without decoding', async (t) => {
    const b4 = blocks[3]!
    t.equal(ledger.head.number, 3n)
    t.ok(b4.block.transactions.length > 0, 'the block carries transactions')
    await ledger.validateBlock(b4.block)
    // Same header, another body: decoded in full, and the ledger refuses the pairing.
    const [header, txs, ...rest] = RLP.decode(b4.block.serialize()) as unknown as [
      Uint8Array,
      Uint8Array[],
      ...Uint8Array[],
    ]
    const otherBody = RLP.encode([header, txs.slice(1), ...rest] as never)
    await t.rejects(
      validate(RLP.encode([otherBody, b4.round, b4.seals] as never)),
      { action: 'REJECT', code: 'BLOCK_INVALID' },
      'the validated header with other transactions',
    )
    const { msg } = await validate(b4)
    t.equal(msg.block, b4.block, 'the very block object validated is imported')
    t.equal(ledger.head.number, 4n)
  })
})

t.test('import errors by ledger code', async (t) => {
  const e = (code: ErrorCode) => new SidechainError(code, 'x')
  t.equal(classifyImportError(e('LEDGER_KNOWN_BLOCK')), 'known')
  t.equal(classifyImportError(e('LEDGER_NOT_NEXT_BLOCK')), 'not-next')
  for (const code of [
    'LEDGER_INVALID_HEADER',
    'LEDGER_INVALID_BODY',
    'EXEC_STATE_ROOT_MISMATCH',
    'CONSENSUS_BAD_SEALS',
    'SEAL_INSUFFICIENT',
  ] as const) {
    t.equal(classifyImportError(e(code)), 'invalid', code)
  }
  // Ours, not the peer's: missing state, a closed ledger or storage, an executor misused.
  for (const code of [
    'LEDGER_CLOSED',
    'EXEC_PARENT_STATE_MISSING',
    'EXEC_BUILD_CLOSED',
    'EXEC_NOT_THE_EXECUTED_BLOCK',
    'EXEC_EXECUTION_CLOSED',
    'STORAGE_CORRUPT',
  ] as const)
    t.equal(classifyImportError(e(code)), 'internal', code)
  t.equal(classifyImportError(new Error('x')), 'internal')
})
