/**
 * The batched trie update must give the root of the resulting content (an MPT is canonical:
 * ethereumjs inserting the same keys into an empty trie), the root the upstream sequence of
 * put/del calls gives on the state's hashed keys, and leave a trie ethereumjs can read and
 * keep writing to. Random batches over random tries, with hashed keys (as the state uses)
 * and with short raw keys that are prefixes of each other (values in branches, inline
 * nodes, extensions split and folded). With such raw keys ethereumjs' own `del` can give a
 * wrong root (deleting 0x0100 next to 0x01 and 0x0111ff), so there only the canonical root
 * is the reference.
 */
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager'
import { Account, Address, bytesToHex, equalsBytes } from '@ethereumjs/util'
import t from 'tap'
import { keccak256 } from '../crypto/index.ts'
import { applyTrieBatch, type TrieChange } from './batched-trie.ts'
import { createChainCommon } from './common.ts'
import { BatchedMerkleStateManager, SerializingAccount } from './upstream/batched-state-manager.ts'

function random(seed: number) {
  let state = seed
  return (n: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state % n
  }
}

interface KeySpace {
  name: string
  hashKeys: boolean
  key: (rand: (n: number) => number) => Uint8Array
  value: (rand: (n: number) => number) => Uint8Array
}

const spaces: KeySpace[] = [
  {
    name: 'hashed 20-byte keys',
    hashKeys: true,
    key: (rand) => {
      // A few hundred distinct addresses, so batches update as well as insert.
      const key = new Uint8Array(20)
      key[18] = rand(2)
      key[19] = rand(256)
      return key
    },
    value: (rand) => new Uint8Array(1 + rand(80)).map(() => rand(256)),
  },
  {
    name: 'raw keys of 1-3 bytes from a small alphabet',
    hashKeys: false,
    key: (rand) => new Uint8Array(1 + rand(3)).map(() => [0x00, 0x01, 0x10, 0x11, 0xff][rand(5)]!),
    // Short values keep nodes under 32 bytes: inlined in their parents.
    value: (rand) => new Uint8Array(1 + (rand(4) === 0 ? 40 : rand(3))).map(() => 1 + rand(255)),
  },
]

function newTrie(space: KeySpace): MerklePatriciaTrie {
  return new MerklePatriciaTrie({ useKeyHashing: space.hashKeys, useKeyHashingFunction: keccak256 })
}

for (const space of spaces) {
  t.test(`batched update equals put/del in order: ${space.name}`, async (t) => {
    const rand = random(space.hashKeys ? 11 : 29)
    let checked = 0
    for (let trial = 0; trial < 12; trial++) {
      const reference = newTrie(space)
      const batched = newTrie(space)
      const model = new Map<string, Uint8Array>()
      for (let round = 0; round < 8; round++) {
        const size = [1, 2, 5, 30, 200][rand(5)]!
        const changes: TrieChange[] = []
        for (let i = 0; i < size; i++) {
          // Deletes of present and absent keys, the same key twice in one batch, puts.
          const existing = [...model.keys()]
          const key =
            existing.length > 0 && rand(2) === 0
              ? hexKey(existing[rand(existing.length)]!)
              : space.key(rand)
          const value = rand(3) === 0 ? null : space.value(rand)
          changes.push({ key, value })
        }
        if (round === 5) {
          // Empty the trie completely once.
          for (const key of model.keys()) changes.push({ key: hexKey(key), value: null })
        }
        for (const change of changes) {
          if (change.value === null) {
            await reference.del(change.key)
            model.delete(bytesToHex(change.key))
          } else {
            await reference.put(change.key, change.value)
            model.set(bytesToHex(change.key), change.value)
          }
        }
        const root = await applyTrieBatch(batched, changes, {
          hash: keccak256,
          hashKeys: space.hashKeys,
        })
        const canonical = newTrie(space)
        for (const [key, value] of model) await canonical.put(hexKey(key), value)
        if (!equalsBytes(root, canonical.root())) {
          t.fail(`trial ${trial} round ${round}: root differs from the content's`, {
            batched: bytesToHex(root),
            canonical: bytesToHex(canonical.root()),
          })
          return
        }
        if (space.hashKeys && !equalsBytes(root, reference.root())) {
          t.fail(`trial ${trial} round ${round}: root differs from put/del in order`)
          return
        }
        for (const [key, value] of model) {
          const read = await batched.get(hexKey(key))
          if (read === null || !equalsBytes(read, value)) {
            t.fail(`trial ${trial} round ${round}: ${key} reads back wrong`)
            return
          }
        }
        checked++
      }
      // ethereumjs keeps writing to the trie the batch produced.
      const key = space.key(rand)
      const canonical = newTrie(space)
      for (const [existing, value] of model) await canonical.put(hexKey(existing), value)
      await canonical.put(key, new Uint8Array([7, 7, 7]))
      await batched.put(key, new Uint8Array([7, 7, 7]))
      t.same(batched.root(), canonical.root(), `trial ${trial}: upstream put after batches`)
    }
    t.equal(checked, 12 * 8, 'every round compared roots and read every key back')
  })
}

t.test('an empty batch leaves the root; deleting every key gives the empty root', async (t) => {
  const trie = newTrie(spaces[0]!)
  const options = { hash: keccak256, hashKeys: true }
  t.same(await applyTrieBatch(trie, [], options), trie.EMPTY_TRIE_ROOT)
  const key = new Uint8Array(20).fill(1)
  const root = await applyTrieBatch(trie, [{ key, value: new Uint8Array([1]) }], options)
  t.notSame(root, trie.EMPTY_TRIE_ROOT)
  t.same(await applyTrieBatch(trie, [], options), root)
  t.same(await applyTrieBatch(trie, [{ key, value: null }], options), trie.EMPTY_TRIE_ROOT)
})

t.test('a missing node is a typed error', async (t) => {
  const trie = newTrie(spaces[0]!)
  trie.root(keccak256(new Uint8Array([1, 2, 3])))
  await t.rejects(
    applyTrieBatch(trie, [{ key: new Uint8Array(20), value: new Uint8Array([1]) }], {
      hash: keccak256,
      hashKeys: true,
    }),
    { code: 'EXEC_PARENT_STATE_MISSING' },
  )
})

t.test('the batched state manager flushes to the roots the upstream one does', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
  const caches = () => new Caches({ account: { size: 10_000 }, storage: { size: 10_000 } })
  const upstream = new MerkleStateManager({ common, caches: caches() })
  const batched = new BatchedMerkleStateManager({ common, caches: caches() })
  t.same(batched.batchedFlush, { active: true }, 'the batched paths run (not the fallback)')
  const rand = random(5)
  const accountAt = (n: number) => new Address(new Uint8Array(20).map((_, i) => (i < 18 ? 0 : n)))
  // Accounts 1-30 hold storage; 31-40 are deleted now and then. The EVM deletes only
  // accounts without storage (empty ones, or contracts created in the same transaction,
  // whose writes are still in the cache).
  const withStorage = () => accountAt(1 + rand(30))
  const slot = () => new Uint8Array(32).map((_, i) => (i === 31 ? rand(12) : 0))
  for (let block = 0; block < 20; block++) {
    // Each operation runs on both managers inside one checkpoint, as a block does.
    const ops: Array<(m: MerkleStateManager) => Promise<void>> = []
    for (let i = 0; i < 60; i++) {
      // Every six operations form a transaction: its own checkpoint, reverted now and then.
      if (i % 6 === 0) ops.push((m) => m.checkpoint())
      const who = withStorage()
      const kind = rand(10)
      if (kind < 4) {
        const other = accountAt(1 + rand(40))
        const fields = { nonce: BigInt(rand(5)), balance: BigInt(rand(1_000_000)) }
        ops.push(async (m) => m.modifyAccountFields(other, fields))
      } else if (kind < 8) {
        const key = slot()
        // Zero deletes the slot; leading zeros are trimmed by the manager.
        const value =
          rand(3) === 0 ? new Uint8Array(0) : new Uint8Array([0, 1 + rand(200), rand(256)])
        ops.push(async (m) => {
          if ((await m.getAccount(who)) === undefined) await m.putAccount(who, new Account())
          await m.putStorage(who, key, value)
        })
      } else if (kind < 9) {
        const gone = accountAt(31 + rand(10))
        ops.push(rand(2) === 0 ? (m) => m.deleteAccount(gone) : (m) => m.clearStorage(who))
      } else {
        const code = new Uint8Array([0x60, rand(256), 0x00])
        const target = accountAt(1 + rand(40))
        ops.push(async (m) => m.putCode(target, code))
      }
      // Reads within the block see the writes before them.
      const probe = slot()
      const reader = accountAt(1 + ((block * 60 + i) % 40))
      ops.push(async (m) => {
        reads.get(m)!.push(bytesToHex(await m.getStorage(who, probe)))
        // Accounts too: the batched manager keeps decoded accounts across puts and reverts.
        const account = await m.getAccount(reader)
        reads.get(m)!.push(account === undefined ? 'none' : `${account.nonce}/${account.balance}`)
      })
      if (i % 6 === 5) ops.push(rand(4) === 0 ? (m) => m.revert() : (m) => m.commit())
    }
    const reads = new Map<MerkleStateManager, string[]>([
      [upstream, []],
      [batched, []],
    ])
    for (const manager of [upstream, batched]) {
      await manager.checkpoint()
      for (const op of ops) await op(manager)
      await manager.commit()
    }
    t.same(reads.get(batched), reads.get(upstream), `block ${block}: reads during the block`)
    const [upstreamRoot, batchedRoot] = [
      await upstream.getStateRoot(),
      await batched.getStateRoot(),
    ]
    if (!equalsBytes(upstreamRoot, batchedRoot)) {
      t.fail(`block ${block}: state roots differ`)
      return
    }
  }
  t.pass('20 blocks of accounts, storage, deletions, code and reverted txs gave the same roots')
  // Read back from the tries alone (caches dropped): every account, slot and code agree.
  const root = await batched.getStateRoot()
  await upstream.setStateRoot(root)
  await batched.setStateRoot(root)
  let compared = 0
  for (let n = 1; n <= 40; n++) {
    const who = accountAt(n)
    const [a, b] = [await upstream.getAccount(who), await batched.getAccount(who)]
    t.same(b?.serialize(), a?.serialize(), `account ${n}`)
    if (a === undefined) continue
    t.same(await batched.getCode(who), await upstream.getCode(who), `code ${n}`)
    for (let s = 0; s < 12; s++) {
      const key = new Uint8Array(32)
      key[31] = s
      t.same(await batched.getStorage(who, key), await upstream.getStorage(who, key))
      compared++
    }
  }
  t.ok(compared > 0, 'some accounts hold storage')
})

function hexKey(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.slice(2), 'hex'))
}

t.test('accounts read from the batched manager are copies', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
  const state = new BatchedMerkleStateManager({
    common,
    caches: new Caches({ account: { size: 100 }, storage: { size: 100 } }),
  })
  const who = new Address(new Uint8Array(20).fill(7))
  const mine = new Account(1n, 100n)
  await state.putAccount(who, mine)
  mine.balance = 5n
  t.equal((await state.getAccount(who))!.balance, 100n, 'changing the put object after the put')
  const read = (await state.getAccount(who))!
  read.nonce = 9n
  t.not(await state.getAccount(who), read, 'a new object per read')
  t.equal((await state.getAccount(who))!.nonce, 1n, 'changing a read object without a put')
  await state.checkpoint()
  await state.modifyAccountFields(who, { balance: 50n })
  t.equal((await state.getAccount(who))!.balance, 50n)
  await state.revert()
  t.match(await state.getAccount(who), { nonce: 1n, balance: 100n }, 'a revert restores it')
  await state.deleteAccount(who)
  t.equal(await state.getAccount(who), undefined, 'deleted')
})

t.test('accounts put are serialized as upstream serializes them', async (t) => {
  const hash = (n: number) => new Uint8Array(32).fill(n)
  const accounts = [
    new Account(),
    new Account(0n, 0n, hash(1), hash(2)),
    new Account(1n, 1n),
    new Account(0xffn, 0x100n),
    new Account(2n ** 64n - 1n, 10n ** 30n, hash(3), hash(4)),
    new Account(12_345n, (1n << 256n) - 1n),
  ]
  for (const account of accounts) {
    t.same(
      new SerializingAccount(account).serialize(),
      account.serialize(),
      `${account.nonce}/${account.balance}`,
    )
  }
  const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
  const state = new BatchedMerkleStateManager({
    common,
    caches: new Caches({ account: { size: 100 }, storage: { size: 100 } }),
  })
  const who = new Address(new Uint8Array(20).fill(8))
  await state.putAccount(who, accounts[4]!)
  const cache = (state as unknown as { _caches: Caches })._caches.account!
  t.same(cache.get(who)!.accountRLP, accounts[4]!.serialize(), 'in the cache')
})
