import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createTx } from '@ethereumjs/tx'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { parseGenesis } from './genesis/schema.ts'
import { ChainDb } from './chain/storage/chain-db.ts'
import { Ledger } from './chain/ledger/ledger.ts'
import { ConsensusRules, StaticValidatorSet } from './chain/consensus/rules.ts'
import { privateKeyToAddress, randomPrivateKey } from './chain/crypto/index.ts'
import { emptyVanity, encodeExtraData } from './chain/consensus/extra-data.ts'
import { signCommitSeal } from './chain/consensus/seals.ts'

const vkey = randomPrivateKey(); const vaddr = privateKeyToAddress(vkey)
const N = Number(process.argv[2] ?? 500)
const keys = Array.from({ length: N }, () => randomPrivateKey())
const alloc: Record<string, unknown> = {}
for (const k of keys) alloc[bytesToHex(privateKeyToAddress(k))] = { balance: '1000000000000000000000' }
const genesis = parseGenesis({ config: { chainId: 1337 }, validators: [bytesToHex(vaddr)], alloc })
const db = new ChainDb(mkdtempSync(path.join(tmpdir(), 'probe-')))
await db.open()
const rules = new ConsensusRules(new StaticValidatorSet([vaddr]))
const ledger = new Ledger({ genesis }, { db, rules })
await ledger.open()
console.log('genesis', bytesToHex(ledger.genesisHash))
const t0 = performance.now()
const txs = keys.map((k, i) => createTx({ type: 2, nonce: 0n, to: privateKeyToAddress(keys[(i + 1) % N]!), value: 1000n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, chainId: 1337n }, { common: ledger.common }).sign(k))
const t1 = performance.now()
const fields = ledger.nextHeaderFields(vaddr, encodeExtraData({ vanity: emptyVanity(), round: 0, vote: null, validators: [], parentCommitSeals: [] }), Date.now())
const built = await ledger.buildBlock(fields, txs)
const t2 = performance.now()
console.log('built', built.block.transactions.length, 'rejected', built.rejected.length, built.rejected[0]?.error)
const seal = signCommitSeal(built.block.hash(), 0, vkey)
await ledger.importBlock(built.block, { seals: [seal], execution: built.execution })
const t3 = performance.now()
console.log('sign', (t1 - t0).toFixed(0), 'build', (t2 - t1).toFixed(0), 'import', (t3 - t2).toFixed(0), 'tx/s', (N / ((t2 - t1) / 1000)).toFixed(0))
console.log('head', ledger.head.number, ledger.head.gasUsed)
await db.close()
