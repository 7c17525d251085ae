/**
 * Test fixtures for the chain: genesis with funded keys, nodes in temp folders, signed
 * transfers. Real LevelDB in a temp folder; time driven by a ManualScheduler where asked.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Common } from '@ethereumjs/common'
import { createTx, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { emptyVanity, encodeExtraData } from '../../chain/consensus/extra-data.ts'
import { ConsensusRules, StaticValidatorSet } from '../../chain/consensus/rules.ts'
import { signCommitSeal } from '../../chain/consensus/seals.ts'
import { randomPrivateKey } from '../../chain/crypto/index.ts'
import { Ledger } from '../../chain/ledger/ledger.ts'
import { type KeyPair, keyPairFromPrivateKey } from '../../chain/lib/keys.ts'
import type { Logger } from '../../chain/lib/logger.ts'
import { pollUntil as poll } from '../../chain/lib/poll.ts'
import { ChainDb } from '../../chain/storage/chain-db.ts'
import { type Genesis, type GenesisInput, parseGenesis } from '../../genesis/schema.ts'

export function tempDir(prefix = 'sidechain-test-'): { path: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface TestGenesis {
  genesis: Genesis
  validators: KeyPair[]
  accounts: KeyPair[]
}

export function makeGenesis(
  params: {
    validators?: number
    accounts?: number
    balanceWei?: bigint
    chainId?: number
    config?: Partial<GenesisInput['config']>
    alloc?: GenesisInput['alloc']
  } = {},
): TestGenesis {
  const validators = Array.from({ length: params.validators ?? 1 }, () =>
    keyPairFromPrivateKey(randomPrivateKey()),
  )
  const accounts = Array.from({ length: params.accounts ?? 4 }, () =>
    keyPairFromPrivateKey(randomPrivateKey()),
  )
  const balance = `0x${(params.balanceWei ?? 10n ** 24n).toString(16)}`
  const alloc: NonNullable<GenesisInput['alloc']> = { ...(params.alloc ?? {}) }
  for (const a of accounts) alloc[a.addressHex] = { balance }
  const genesis = parseGenesis({
    config: { chainId: params.chainId ?? 1337, blockPeriodMs: 1000, ...params.config },
    timestamp: 1_700_000_000,
    validators: validators.map((v) => v.addressHex),
    alloc,
  })
  return { genesis, validators, accounts }
}

/**
 * A ledger over a real LevelDB in `dir` with the genesis validators as a static set and a
 * fixed clock (no node around it): for driving block building and import directly.
 */
export async function openStaticLedger(
  setup: TestGenesis,
  dir: string,
  modules: { logger?: Logger } = {},
): Promise<{ db: ChainDb; ledger: Ledger }> {
  const db = new ChainDb(dir)
  await db.open()
  const rules = new ConsensusRules(new StaticValidatorSet(setup.validators.map((v) => v.address)))
  const ledger = new Ledger(
    { genesis: setup.genesis },
    { db, rules, clock: { now: () => 2_000_000_000_000 }, logger: modules.logger },
  )
  await ledger.open()
  return { db, ledger }
}

/**
 * openStaticLedger in a fresh temp folder (`prefix`), closed and removed when the test that
 * `t` is ends.
 */
export async function openTestLedger(
  t: { teardown(fn: () => unknown): void },
  setup: TestGenesis,
  prefix: string,
  modules: { logger?: Logger } = {},
): Promise<{ db: ChainDb; ledger: Ledger }> {
  const dir = tempDir(prefix)
  const opened = await openStaticLedger(setup, dir.path, modules)
  t.teardown(async () => {
    await opened.db.close()
    dir.remove()
  })
  return opened
}

/** Header fields of a round-0 block on the ledger's head, carrying the parent's seals. */
export function nextBlockFields(ledger: Ledger, validator: KeyPair, timestampMs: number) {
  const extra = encodeExtraData({
    vanity: emptyVanity(),
    round: 0,
    vote: null,
    validators: [],
    parentCommitRound: 0,
    parentCommitSeals: [...ledger.headSeals],
  })
  return ledger.nextHeaderFields(validator.address, extra, timestampMs)
}

/**
 * Builds a block on the ledger's head from `txs` (invalid ones left out), seals it with the
 * single validator's key and imports it. The parent's seals go in the header, as QBFT does.
 */
export async function buildSealedBlock(
  ledger: Ledger,
  validator: KeyPair,
  txs: Iterable<TypedTransaction>,
  timestampMs: number,
) {
  const fields = nextBlockFields(ledger, validator, timestampMs)
  const built = await ledger.buildBlock(fields, txs)
  const seal = signCommitSeal(built.block.hash(), 0, validator.privateKey)
  await ledger.importBlock(built.block, {
    seals: [seal],
    execution: built.execution,
    sealsVerified: true,
  })
  return { block: built.block, seal, rejected: built.rejected }
}

export function transfer(
  common: Common,
  from: KeyPair,
  to: Uint8Array,
  nonce: bigint,
  value: bigint,
  fees: { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint; gasLimit?: bigint } = {},
): TypedTransaction {
  return createTx(
    {
      type: 2,
      chainId: common.chainId(),
      nonce,
      to,
      value,
      gasLimit: fees.gasLimit ?? 21_000n,
      maxFeePerGas: fees.maxFeePerGas ?? 10n ** 10n,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 10n ** 9n,
    },
    { common },
  ).sign(from.privateKey)
}

export function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 20, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  return poll(check as () => Promise<NonNullable<T> | undefined>, { what, timeoutMs, intervalMs })
}

/**
 * Stands in for block gossip and sync (chain/sync) in this in-process test: a node that
 * missed a height's consensus messages (e.g. it started late) gets finalized blocks with
 * their commit from its peers, as it would over the network.
 */
export function relayBlocks(nodes: readonly { ledger: Ledger }[]): void {
  for (const source of nodes) {
    source.ledger.on('head', () => {
      for (const target of nodes) {
        if (target === source) continue
        void (async () => {
          for (let n = target.ledger.head.number + 1n; n <= source.ledger.head.number; n++) {
            const block = await source.ledger.getBlockByNumber(n)
            const commit =
              block === undefined ? undefined : await source.ledger.getCommit(block.hash())
            if (block === undefined || commit === undefined || target.ledger.head.number + 1n !== n)
              return
            await target.ledger
              .importBlock(block, { seals: commit.seals, sealRound: commit.round })
              .catch(() => undefined)
          }
          // A node stopped in the test (its ledger closed) takes no part any more.
        })().catch(() => undefined)
      }
    })
  }
}

export { bytesToHex }
