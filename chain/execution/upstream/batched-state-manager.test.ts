/**
 * The batched state manager reads private parts of MerkleStateManager. When they are as in
 * 10.1.3 its batched paths run (their roots are checked against upstream in
 * ../batched-trie.test.ts); when one is missing or set up otherwise, every method hands over
 * to upstream's and the state roots are still upstream's.
 */
import { AccountCache, Caches, CacheType, MerkleStateManager } from '@ethereumjs/statemanager'
import { Account, Address } from '@ethereumjs/util'
import t, { type Test } from 'tap'
import { createChainCommon } from '../common.ts'
import { BatchedMerkleStateManager, batchedFlushBlocker } from './batched-state-manager.ts'

const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
const caches = (storage: { type?: CacheType } = {}) =>
  new Caches({ account: { size: 100 }, storage: { size: 100, ...storage } })

/** Replaces a prototype member for one test, as a new upstream release might. */
function simulateUpstream(t: Test, prototype: object, name: string, value: unknown) {
  const target = prototype as Record<string, unknown>
  const saved = Object.getOwnPropertyDescriptor(target, name)
  if (value === undefined) delete target[name]
  else target[name] = value
  t.teardown(() => {
    if (saved !== undefined) Object.defineProperty(target, name, saved)
  })
}

/** The same writes on `manager`, inside a checkpoint as a block does; its state root. */
async function writeBlock(manager: MerkleStateManager): Promise<Uint8Array> {
  await manager.checkpoint()
  for (let n = 1; n <= 5; n++) {
    const address = new Address(new Uint8Array(20).fill(n))
    await manager.putAccount(address, new Account(BigInt(n), 1000n * BigInt(n)))
    for (let slot = 0; slot < 4; slot++) {
      const key = new Uint8Array(32).fill(slot + 1)
      await manager.putStorage(address, key, new Uint8Array([n, slot]))
    }
  }
  await manager.putCode(new Address(new Uint8Array(20).fill(9)), new Uint8Array([0x60, 0, 0]))
  await manager.commit()
  return manager.getStateRoot()
}

t.test('the internals are where 10.1.3 has them', async (t) => {
  const manager = new BatchedMerkleStateManager({ common, caches: caches() })
  t.same(manager.batchedFlush, { active: true })
  t.equal(batchedFlushBlocker(manager), undefined)
})

t.test('a stub lacking the private members is refused member by member', async (t) => {
  t.match(batchedFlushBlocker({} as MerkleStateManager), /_getStorageTrie is missing/)
  const withMethods = { _getStorageTrie() {}, _getCodeDB() {} }
  t.match(batchedFlushBlocker(withMethods as never), /_prefixCodeHashes/)
  const upToTrie = { ...withMethods, _prefixCodeHashes: true, _prefixStorageTrieKeys: false }
  t.match(batchedFlushBlocker(upToTrie as never), /_trie is not a trie/)
  const real = new MerkleStateManager({ common, caches: caches() }) as unknown as {
    _trie: { _opts: Record<string, unknown> }
  }
  const renamedOptions = { ...upToTrie, _trie: { ...real._trie, _opts: undefined } }
  Object.setPrototypeOf(renamedOptions._trie, Object.getPrototypeOf(real._trie))
  t.match(batchedFlushBlocker(renamedOptions as never), /hashed-key trie/)
})

t.test('a renamed _getStorageTrie hands every method to upstream', async (t) => {
  simulateUpstream(t, MerkleStateManager.prototype, '_getStorageTrie', undefined)
  const manager = new BatchedMerkleStateManager({ common, caches: caches() })
  t.match(manager.batchedFlush, { active: false, reason: /_getStorageTrie/ })
})

t.test('account cache entries without accountRLP are refused', async (t) => {
  const get = AccountCache.prototype.get
  simulateUpstream(t, AccountCache.prototype, 'get', function (this: AccountCache, a: Address) {
    const element = get.call(this, a)
    return element === undefined ? undefined : { rlp: element.accountRLP }
  })
  const manager = new BatchedMerkleStateManager({ common, caches: caches() })
  t.match(manager.batchedFlush, { active: false, reason: /accountRLP/ })
})

t.test('setups the batched paths do not support fall back to upstream, same roots', async (t) => {
  const expected = await writeBlock(new MerkleStateManager({ common, caches: caches() }))
  const cases = [
    {
      what: 'a storage cache that may evict',
      options: { caches: caches({ type: CacheType.LRU }) },
      reason: /may evict/,
    },
    { what: 'no caches', options: {}, reason: /not a Caches/ },
    {
      what: 'storage tries with a key prefix',
      options: { caches: caches(), prefixStorageTrieKeys: true },
      reason: /_prefixStorageTrieKeys/,
    },
  ]
  for (const { what, options, reason } of cases) {
    const manager = new BatchedMerkleStateManager({ common, ...options })
    t.match(manager.batchedFlush, { active: false, reason }, what)
    const upstream = new MerkleStateManager({ common, ...options })
    t.same(await writeBlock(manager), await writeBlock(upstream), `${what}: upstream's root`)
    t.equal(manager.takeFlushedAccounts(), undefined, `${what}: flushed accounts not known`)
  }
  const batched = new BatchedMerkleStateManager({ common, caches: caches() })
  t.same(await writeBlock(batched), expected, 'the batched paths give the same root')
  t.ok(batched.takeFlushedAccounts()?.size, 'and know the accounts they flushed')
})
