import { RLP } from '@ethereumjs/rlp'
import { createTx } from '@ethereumjs/tx'
import {
  Address,
  bigIntToUnpaddedBytes,
  bytesToBigInt,
  bytesToHex,
  concatBytes,
} from '@ethereumjs/util'
import t from 'tap'
import { makeGenesis, tempDir, transfer, waitFor } from '../../test/support/chain.ts'
import { randomPrivateKey, SECP256K1_N } from '../crypto/index.ts'
import { createChainCommon } from '../execution/common.ts'
import { keyPairFromPrivateKey } from '../lib/keys.ts'
import { SidechainNode } from '../node.ts'
import { ManualScheduler } from '../util/scheduler.ts'
import { type PoolAccount, TxPool } from './txpool.ts'

/** Re-signs nothing: flips s to n - s and the parity bit, the malleable twin of a signature. */
function highSTwin(raw: Uint8Array): Uint8Array {
  const fields = RLP.decode(raw.subarray(1)) as Uint8Array[]
  const s = bytesToBigInt(fields[11]!)
  const parity = bytesToBigInt(fields[9]!)
  fields[9] = bigIntToUnpaddedBytes(parity ^ 1n)
  fields[11] = bigIntToUnpaddedBytes(SECP256K1_N - s)
  return concatBytes(raw.subarray(0, 1), RLP.encode(fields))
}

t.test('refused transactions get distinct codes and change nothing', async (t) => {
  const setup = makeGenesis({ accounts: 2, config: { blockPeriodMs: 1000 } })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const scheduler = new ManualScheduler()
  const node = new SidechainNode(
    { genesis: setup.genesis, datadir: dir.path, validatorKey: setup.validators[0] },
    { scheduler },
  )
  await node.start()
  t.teardown(() => node.stop())
  const common = node.ledger.common
  const [alice, bob] = setup.accounts as [(typeof setup.accounts)[0], (typeof setup.accounts)[0]]

  // Land nonce 0 so that "nonce too low" is a real state fact.
  await node.txpool.addRaw(transfer(common, alice, bob.address, 0n, 1n).serialize())
  scheduler.advance(1000)
  await waitFor(() => node.ledger.head.number === 1n, { what: 'block 1' })

  const poor = keyPairFromPrivateKey(randomPrivateKey())
  const otherChain = createChainCommon({ chainId: 999, hardfork: 'osaka' })
  const legacy = (chainId: bigint | undefined, nonce: bigint) =>
    createTx(
      { type: 0, nonce, to: bob.address, value: 1n, gasLimit: 21_000n, gasPrice: 10n ** 10n },
      {
        common:
          chainId === undefined ? createChainCommon({ chainId: 1337, hardfork: 'osaka' }) : common,
      },
    ).sign(alice.privateKey)
  const cases: Array<[string, Uint8Array, string]> = [
    [
      'wrong chain id',
      transfer(otherChain, alice, bob.address, 1n, 1n).serialize(),
      'TX_WRONG_CHAIN_ID',
    ],
    [
      'high-s signature',
      highSTwin(transfer(common, alice, bob.address, 1n, 1n).serialize()),
      'TX_HIGH_S',
    ],
    ['nonce too low', transfer(common, alice, bob.address, 0n, 5n).serialize(), 'TX_NONCE_TOO_LOW'],
    [
      'insufficient funds',
      transfer(common, poor, bob.address, 0n, 1n).serialize(),
      'TX_INSUFFICIENT_FUNDS',
    ],
    [
      'intrinsic gas too low',
      transfer(common, alice, bob.address, 1n, 1n, { gasLimit: 20_999n }).serialize(),
      'TX_INTRINSIC_GAS_TOO_LOW',
    ],
    [
      'oversized',
      createTx(
        {
          type: 2,
          chainId: 1337n,
          nonce: 1n,
          to: bob.address,
          data: new Uint8Array(200_000),
          gasLimit: 16_000_000n,
          maxFeePerGas: 10n ** 10n,
          maxPriorityFeePerGas: 1n,
        },
        { common },
      )
        .sign(alice.privateKey)
        .serialize(),
      'TX_OVERSIZED',
    ],
    [
      'fee cap below the base fee floor',
      transfer(common, alice, bob.address, 1n, 1n, {
        maxFeePerGas: 1n,
        maxPriorityFeePerGas: 1n,
      }).serialize(),
      'TX_FEE_CAP_TOO_LOW',
    ],
    ['garbage bytes', Uint8Array.of(0x02, 0xc1, 0xff), 'TX_INVALID_ENCODING'],
    ['blob transaction type', Uint8Array.of(0x03, 0xc0), 'TX_UNSUPPORTED_TYPE'],
    [
      'legacy without replay protection',
      (() => {
        const tx = legacy(undefined, 1n)
        const fields = tx.raw()
        // Pre-EIP-155 form: v = 27/28 over the unprotected hash is what old tools send.
        fields[6] = Uint8Array.of(27)
        return RLP.encode(fields)
      })(),
      'TX_UNPROTECTED',
    ],
  ]
  const codes = new Set<string>()
  const stateRoot = bytesToHex(node.ledger.head.stateRoot)
  for (const [name, raw, code] of cases) {
    await t.rejects(node.txpool.addRaw(raw), { code }, name)
    codes.add(code)
    t.equal(node.txpool.size, 0, `${name}: pool unchanged`)
  }
  t.equal(codes.size, cases.length, 'every refusal has its own code')
  t.equal(bytesToHex(node.ledger.head.stateRoot), stateRoot, 'state unchanged')
  const aliceAccount = await node.ledger.headState().getAccount(new Address(alice.address))
  t.equal(aliceAccount?.nonce, 1n, 'nonce unchanged')

  // Duplicates and replacements.
  const tx1 = transfer(common, alice, bob.address, 1n, 1n)
  await node.txpool.addRaw(tx1.serialize())
  await t.rejects(node.txpool.addRaw(tx1.serialize()), { code: 'TX_ALREADY_KNOWN' })
  const cheapReplacement = transfer(common, alice, bob.address, 1n, 2n, {
    maxFeePerGas: 10n ** 10n + 1n,
    maxPriorityFeePerGas: 10n ** 9n + 1n,
  })
  await t.rejects(node.txpool.addRaw(cheapReplacement.serialize()), {
    code: 'TX_REPLACEMENT_UNDERPRICED',
  })
  const replacement = transfer(common, alice, bob.address, 1n, 3n, {
    maxFeePerGas: 11n * 10n ** 9n,
    maxPriorityFeePerGas: 11n * 10n ** 8n,
  })
  await node.txpool.addRaw(replacement.serialize())
  t.equal(node.txpool.size, 1)
  t.ok(node.txpool.has(bytesToHex(replacement.hash())), 'a 10% fee bump replaces')
  t.notOk(node.txpool.has(bytesToHex(tx1.hash())))
})

t.test('candidates: highest tip first, nonce order per sender; eviction when full', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
  const accounts = new Map<string, PoolAccount>()
  const keys = Array.from({ length: 4 }, () => keyPairFromPrivateKey(randomPrivateKey()))
  for (const k of keys)
    accounts.set(new Address(k.address).toString(), { nonce: 0n, balance: 10n ** 24n })
  const pool = new TxPool(
    { common, maxTxSize: 128 * 1024, baseFeeFloor: 1n, maxTransactions: 5 },
    {
      state: {
        getAccount: async (a) => accounts.get(a.toString()) ?? { nonce: 0n, balance: 0n },
        nextBaseFee: () => 1n,
        blockGasLimit: () => 30_000_000n,
      },
    },
  )
  const to = keys[3]!.address
  const tipped = (k: (typeof keys)[0], nonce: bigint, tip: bigint) =>
    transfer(common, k, to, nonce, 1n, { maxFeePerGas: 10n ** 12n, maxPriorityFeePerGas: tip })
  // Sender 0 pays a low tip on nonce 0 and a high one on nonce 1: nonce order must win.
  await pool.add(tipped(keys[0]!, 1n, 500n))
  await pool.add(tipped(keys[0]!, 0n, 10n))
  await pool.add(tipped(keys[1]!, 0n, 100n))
  await pool.add(tipped(keys[2]!, 0n, 50n))
  await pool.add(tipped(keys[2]!, 2n, 1000n)) // gap: not executable
  const order: string[] = []
  for await (const entry of pool.candidates(1n))
    order.push(
      `${keys.findIndex((k) => new Address(k.address).toString() === entry.sender)}:${entry.nonce}`,
    )
  t.same(order, ['1:0', '2:0', '0:0', '0:1'], 'by tip, nonce order kept, gapped tx left out')

  await t.rejects(
    pool.add(tipped(keys[1]!, 1n, 5n)),
    { code: 'TX_POOL_FULL' },
    'a cheaper tx cannot evict',
  )
  await pool.add(tipped(keys[1]!, 1n, 5_000n))
  t.equal(pool.size, 5, 'a better-paying tx evicts the cheapest tail')
})

t.test('candidates: equal tips go in arrival order, whatever the senders', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
  const keys = Array.from({ length: 12 }, () => keyPairFromPrivateKey(randomPrivateKey()))
  let clock = 1_000
  const pool = new TxPool(
    { common, maxTxSize: 128 * 1024, baseFeeFloor: 1n },
    {
      state: {
        getAccount: async () => ({ nonce: 0n, balance: 10n ** 24n }),
        nextBaseFee: () => 1n,
        blockGasLimit: () => 30_000_000n,
      },
      now: () => clock,
    },
  )
  const to = keys[0]!.address
  // Two rounds of one transfer per sender, senders in a shuffled order, one ms apart.
  const shuffled = [7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4]
  const arrival: string[] = []
  for (const nonce of [0n, 1n])
    for (const i of shuffled) {
      clock++
      await pool.add(transfer(common, keys[i]!, to, nonce, 1n))
      arrival.push(`${i}:${nonce}`)
    }
  const order: string[] = []
  for await (const entry of pool.candidates(1n)) {
    const i = keys.findIndex((k) => new Address(k.address).toString() === entry.sender)
    order.push(`${i}:${entry.nonce}`)
  }
  t.same(order, arrival, 'first come, first served: no sender waits behind later arrivals')
})

t.test('the pool is capped in bytes, not only in count', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'osaka' })
  const keys = Array.from({ length: 40 }, () => keyPairFromPrivateKey(randomPrivateKey()))
  const pool = new TxPool(
    { common, maxTxSize: 128 * 1024, baseFeeFloor: 1n, maxBytes: 1024 * 1024 },
    {
      state: {
        getAccount: async () => ({ nonce: 0n, balance: 10n ** 24n }),
        nextBaseFee: () => 1n,
        blockGasLimit: () => 30_000_000n,
      },
    },
  )
  // 100 KB of calldata each (a flood of large transactions from many senders).
  const large = (i: number, tip: bigint, feeCap = 10n ** 12n) =>
    createTx(
      {
        type: 2,
        chainId: 1337n,
        nonce: 0n,
        to: keys[0]!.address,
        data: new Uint8Array(100_000).fill(1),
        gasLimit: 5_000_000n,
        maxFeePerGas: feeCap,
        maxPriorityFeePerGas: tip,
      },
      { common },
    ).sign(keys[i]!.privateKey)
  const outcomes = new Map<string, number>()
  for (let i = 0; i < 30; i++) {
    const code = await pool.add(large(i, 100n)).then(
      () => 'added',
      (err: { code: string }) => err.code,
    )
    outcomes.set(code, (outcomes.get(code) ?? 0) + 1)
  }
  t.ok(pool.bytes <= 1024 * 1024, `${pool.bytes} bytes held (cap 1 MiB)`)
  t.equal(outcomes.get('added'), 10, 'ten 100 KB transactions fit')
  t.equal(outcomes.get('TX_POOL_FULL'), 20, 'the rest are refused as pool full')
  // A better-paying one evicts the cheapest tail and still fits.
  await pool.add(large(35, 1_000n))
  t.ok(pool.bytes <= 1024 * 1024, 'a better tip evicts, the cap holds')
  t.equal(pool.size, 10)
  // A replacement that grows a small transaction is counted too.
  const small = transfer(common, keys[36]!, keys[0]!.address, 0n, 1n, {
    maxFeePerGas: 10n ** 12n,
    maxPriorityFeePerGas: 5_000n,
  })
  await pool.add(small)
  await pool.add(large(36, 10_000n, 2n * 10n ** 12n))
  t.equal(pool.get(bytesToHex(small.hash())), undefined, 'the small one was replaced')
  t.ok(pool.bytes <= 1024 * 1024, `${pool.bytes} bytes after a growing replacement`)
})

t.test('pool and consensus buffer limits are node options, validated at the edge', async (t) => {
  const setup = makeGenesis({ accounts: 1 })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  t.throws(
    () => new SidechainNode({ genesis: setup.genesis, datadir: dir.path, txpool: { maxBytes: 0 } }),
    { code: 'NODE_OPTIONS_INVALID', message: /invalid txpool options/ },
  )
  t.throws(
    () =>
      new SidechainNode({
        genesis: setup.genesis,
        datadir: dir.path,
        consensus: { futureBytes: -1 },
      }),
    { code: 'NODE_OPTIONS_INVALID', message: /invalid consensus options/ },
  )
  const node = new SidechainNode({
    genesis: setup.genesis,
    datadir: dir.path,
    txpool: { maxBytes: 1000 },
  })
  await node.start()
  t.teardown(() => node.stop())
  const [alice] = setup.accounts as [(typeof setup.accounts)[0]]
  const big = createTx(
    {
      type: 2,
      chainId: 1337n,
      nonce: 0n,
      to: alice.address,
      data: new Uint8Array(2000).fill(1),
      gasLimit: 200_000n,
      maxFeePerGas: 10n ** 12n,
      maxPriorityFeePerGas: 1n,
    },
    { common: node.ledger.common },
  ).sign(alice.privateKey)
  await t.rejects(node.txpool.add(big), { code: 'TX_POOL_FULL' }, 'the configured byte cap applies')
})
