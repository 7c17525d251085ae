/**
 * eth_getProof against anvil: the same account (code, balance, storage) on a real node and on
 * anvil must give the same answer shape and formats, the same account fields and storage root,
 * and the very same storage proofs (same storage trie); the node's proofs verify with
 * @ethereumjs/mpt against the state root of the block they were asked at.
 */
import { verifyMerkleProof } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt, hexToBytes } from '@ethereumjs/util'
import t from 'tap'
import { createPublicClient, type Hex, http, keccak256 } from 'viem'
import { verifyAccountProof } from '../../bridge/light-client/state-proof.ts'
import { startRpcNode } from '../../test/support/rpc-node.ts'
import { startAnvil } from '../lib/foundry.ts'

const ACCOUNT = '0x00000000000000000000000000000000000c0de5' as const
const CODE = '0x600160005500' as Hex
const STORAGE: Record<string, Hex> = {
  '0x0': '0x2a',
  '0x5': `0x${'ab'.repeat(32)}`,
  [`0x${'77'.repeat(32)}`]: '0x0100',
}
const BALANCE = 123_456_789n
/** 32-byte keys: anvil refuses shorter ones ("odd number of digits"), geth and the node take both. */
const ASKED = ['0x0', '0x5', `0x${'77'.repeat(32)}`, '0x9'].map(
  (k) => `0x${BigInt(k).toString(16).padStart(64, '0')}` as Hex,
)

interface Proof {
  address: string
  balance: string
  codeHash: string
  nonce: string
  storageHash: string
  accountProof: Hex[]
  storageProof: Array<{ key: string; value: string; proof: Hex[] }>
}

t.test('eth_getProof: the node answers as anvil does, and its proofs verify', async (t) => {
  const node = await startRpcNode({
    blockPeriodMs: 200,
    alloc: {
      [ACCOUNT]: {
        balance: `0x${BALANCE.toString(16)}`,
        code: CODE,
        nonce: '0x1',
        storage: STORAGE,
      },
    } as never,
  })
  t.teardown(() => node.stop())
  const anvil = await startAnvil()
  t.teardown(() => anvil.stop())
  const l1 = createPublicClient({ transport: http(anvil.url) })
  await l1.request({ method: 'anvil_setCode' as never, params: [ACCOUNT, CODE] as never })
  await l1.request({
    method: 'anvil_setBalance' as never,
    params: [ACCOUNT, `0x${BALANCE.toString(16)}`] as never,
  })
  await l1.request({ method: 'anvil_setNonce' as never, params: [ACCOUNT, '0x1'] as never })
  for (const [slot, value] of Object.entries(STORAGE)) {
    await l1.request({
      method: 'anvil_setStorageAt' as never,
      params: [
        ACCOUNT,
        `0x${BigInt(slot).toString(16).padStart(64, '0')}`,
        `0x${BigInt(value).toString(16).padStart(64, '0')}`,
      ] as never,
    })
  }
  await l1.request({ method: 'evm_mine' as never, params: [] as never })

  const fromNode = (await node.request('eth_getProof', [ACCOUNT, ASKED, 'latest'])).result as Proof
  const fromAnvil = (await l1.request({
    method: 'eth_getProof',
    params: [ACCOUNT, ASKED, 'latest'],
  })) as unknown as Proof

  t.same(Object.keys(fromNode).sort(), Object.keys(fromAnvil).sort(), 'same fields')
  for (const field of ['balance', 'nonce', 'codeHash', 'storageHash'] as const) {
    t.equal(fromNode[field].toLowerCase(), fromAnvil[field].toLowerCase(), `same ${field}`)
  }
  t.equal(fromNode.codeHash, keccak256(CODE))
  t.equal(fromNode.storageProof.length, ASKED.length)
  fromNode.storageProof.forEach((p, i) => {
    const a = fromAnvil.storageProof[i]!
    t.equal(BigInt(p.key), BigInt(a.key), `slot ${ASKED[i]}: same key`)
    t.equal(BigInt(p.value), BigInt(a.value), `slot ${ASKED[i]}: same value`)
    t.match(p.value, /^0x(0|[1-9a-f][0-9a-f]*)$/, `slot ${ASKED[i]}: value is a quantity`)
    t.same(p.proof, a.proof, `slot ${ASKED[i]}: the same storage proof as anvil`)
  })

  const block = (await node.request('eth_getBlockByNumber', ['latest', false])).result as {
    number: Hex
    stateRoot: Hex
  }
  const atBlock = (await node.request('eth_getProof', [ACCOUNT, ASKED, block.number]))
    .result as Proof
  const accountRlp = await verifyMerkleProof(
    hexToBytes(keccak256(ACCOUNT)),
    atBlock.accountProof.map((n) => hexToBytes(n)),
    { root: hexToBytes(block.stateRoot) },
  )
  t.ok(accountRlp, 'the account proof verifies against the block state root')
  const [, balance] = RLP.decode(accountRlp!) as Uint8Array[]
  t.equal(bytesToBigInt(balance!), BALANCE)

  const proven = await verifyAccountProof(block.stateRoot, ACCOUNT, [0n, 5n, 9n], atBlock as never)
  t.equal(proven.storage.get(`0x${'00'.repeat(32)}`), 0x2an)
  t.equal(proven.storage.get(`0x${'00'.repeat(31)}05`), BigInt(`0x${'ab'.repeat(32)}`))
  t.equal(proven.storage.get(`0x${'00'.repeat(31)}09`), 0n, 'an unset slot is proven empty')

  const short = (await node.request('eth_getProof', [ACCOUNT, ['0x0', '0x5'], block.number]))
    .result as Proof
  t.same(
    short.storageProof.map((p) => p.proof),
    atBlock.storageProof.slice(0, 2).map((p) => p.proof),
    'short slot keys prove the same slots',
  )

  const forged = structuredClone(atBlock)
  forged.storageProof[0]!.proof = fromNode.storageProof[1]!.proof
  await t.rejects(
    verifyAccountProof(block.stateRoot, ACCOUNT, [0n], forged as never),
    { code: 'RELAYER_PROOF_INVALID' },
    'a proof of another slot does not prove this one',
  )
  await t.rejects(
    verifyAccountProof(keccak256('0x01'), ACCOUNT, [0n], atBlock as never),
    { code: 'RELAYER_PROOF_INVALID' },
    'a proof does not verify against another state root',
  )
})
