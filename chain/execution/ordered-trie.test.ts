import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import t from 'tap'
import { keccak256 } from '../crypto/index.ts'
import { orderedTrieRoot } from './ordered-trie.ts'

t.test('orderedTrieRoot equals inserting rlp(index) keys into the MPT', async (t) => {
  let seed = 7
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed
  }
  for (const n of [0, 1, 2, 3, 15, 16, 17, 127, 128, 129, 255, 256, 257, 300, 1000]) {
    const values = Array.from({ length: n }, () =>
      new Uint8Array(1 + (rand() % 120)).map(() => rand() & 0xff),
    )
    const trie = new MerklePatriciaTrie()
    for (let i = 0; i < n; i++) await trie.put(RLP.encode(i), values[i]!)
    t.same(orderedTrieRoot(values, keccak256), trie.root(), `n = ${n}`)
  }
})
