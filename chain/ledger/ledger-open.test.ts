/**
 * What the ledger refuses at open: a storage schema it does not read, and a database whose
 * newest blocks do not check out (a flipped byte in a header or body record, a missing
 * record). Real LevelDB in a temp folder; the damage is done with a second handle on the
 * closed database, as a disk or an operator would.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { intToBytes } from '@ethereumjs/util'
import { ClassicLevel } from 'classic-level'
import t from 'tap'
import {
  buildSealedBlock,
  makeGenesis,
  openStaticLedger,
  type TestGenesis,
  tempDir,
  transfer,
} from '../../test/support/chain.ts'
import { writeGenesisFile } from '../../test/support/p2p.ts'
import { isSidechainError } from '../lib/errors.ts'
import { META_KEYS, STORAGE_SCHEMA_VERSION } from '../storage/chain-db.ts'

const CLI = path.resolve(import.meta.dirname, '../cli/sidechain.js')

/** A chain of `blocks` blocks with a transfer each, written and closed in `dir`. */
async function writeChain(setup: TestGenesis, dir: string, blocks: number) {
  const { db, ledger } = await openStaticLedger(setup, dir)
  const [from, to] = setup.accounts as [TestGenesis['accounts'][0], TestGenesis['accounts'][0]]
  const hashes: Uint8Array[] = []
  for (let i = 0; i < blocks; i++) {
    const tx = transfer(ledger.common, from, to.address, BigInt(i), 1n)
    const { block } = await buildSealedBlock(ledger, setup.validators[0]!, [tx], (i + 1) * 1000)
    hashes.push(block.hash())
  }
  await db.close()
  return hashes
}

/** Rewrites one record of a closed database through a raw handle. */
async function damage(
  dir: string,
  sublevel: string,
  key: Uint8Array,
  change: (value: Uint8Array) => Uint8Array,
) {
  const raw = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
  const records = raw.sublevel<Uint8Array, Uint8Array>(sublevel, {
    keyEncoding: 'view',
    valueEncoding: 'view',
  })
  const value = await records.get(key)
  if (value === undefined) throw new Error(`no ${sublevel} record to damage`)
  await records.put(key, change(value))
  await raw.close()
}

async function putSchema(dir: string, value: Uint8Array) {
  const raw = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await raw
    .sublevel<string, Uint8Array>('meta', { valueEncoding: 'view' })
    .put(META_KEYS.schema, value)
  await raw.close()
}

function flipByte(at: number) {
  return (value: Uint8Array) => {
    const copy = value.slice()
    const index = at < 0 ? copy.length + at : at
    copy[index] = copy[index]! ^ 0x01
    return copy
  }
}

async function openError(setup: TestGenesis, dir: string): Promise<unknown> {
  try {
    const { db } = await openStaticLedger(setup, dir)
    await db.close()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('a sound database opens, with its head and schema checked', async (t) => {
  const setup = makeGenesis({ accounts: 2 })
  const dir = tempDir('ledger-open-')
  t.teardown(() => dir.remove())
  const hashes = await writeChain(setup, dir.path, 3)
  const { db, ledger } = await openStaticLedger(setup, dir.path)
  t.teardown(() => db.close())
  t.equal(ledger.head.number, 3n)
  t.same(ledger.head.hash(), hashes[2])
  t.same(await db.getMeta(META_KEYS.schema), intToBytes(STORAGE_SCHEMA_VERSION))
})

t.test('a flipped byte in the head header record is refused at open', async (t) => {
  const setup = makeGenesis({ accounts: 2 })
  const dir = tempDir('ledger-open-')
  t.teardown(() => dir.remove())
  const hashes = await writeChain(setup, dir.path, 3)
  // Inside the extraData of the header: the record still decodes as a header.
  await damage(dir.path, 'headers', hashes[2]!, flipByte(-200))
  const err = await openError(setup, dir.path)
  t.ok(isSidechainError(err, 'STORAGE_CORRUPT'), 'STORAGE_CORRUPT')
  t.match((err as Error).message, /the head header 0x[0-9a-f]+ does not hash to its key/)
})

t.test('a flipped byte in an older block record is refused at open', async (t) => {
  const setup = makeGenesis({ accounts: 2 })
  const dir = tempDir('ledger-open-')
  t.teardown(() => dir.remove())
  const hashes = await writeChain(setup, dir.path, 4)
  // A transaction's value byte in the body of block 2: only its transactions root tells.
  await damage(dir.path, 'bodies', hashes[1]!, flipByte(-70))
  const err = await openError(setup, dir.path)
  t.ok(isSidechainError(err, 'STORAGE_CORRUPT'), 'STORAGE_CORRUPT')
  t.match((err as Error).message, /block 2/)
})

t.test('a newer, older or unreadable schema version is refused at open', async (t) => {
  const setup = makeGenesis({ accounts: 2 })
  for (const [what, value, pattern] of [
    ['newer', intToBytes(STORAGE_SCHEMA_VERSION + 1), /newer version/],
    ['older', intToBytes(0), /cannot read/],
    ['unreadable', new Uint8Array(9), /cannot read/],
  ] as const) {
    const dir = tempDir('ledger-open-')
    t.teardown(() => dir.remove())
    await writeChain(setup, dir.path, 1)
    await putSchema(dir.path, value)
    const err = await openError(setup, dir.path)
    t.ok(isSidechainError(err, 'STORAGE_SCHEMA_UNSUPPORTED'), `${what}: STORAGE_SCHEMA_UNSUPPORTED`)
    t.match((err as Error).message, pattern, `${what}: says why`)
  }
})

t.test('the node command exits 3 with the reason on a refused datadir', async (t) => {
  const setup = makeGenesis({ accounts: 2 })
  const root = tempDir('ledger-open-cli-')
  t.teardown(() => root.remove())
  const genesisFile = path.join(root.path, 'genesis.json')
  writeGenesisFile(setup.genesis, genesisFile)
  const datadir = path.join(root.path, 'node')
  const chaindata = path.join(datadir, 'chaindata')
  await writeChain(setup, chaindata, 1)
  await putSchema(chaindata, intToBytes(STORAGE_SCHEMA_VERSION + 1))
  const run = spawnSync(
    process.execPath,
    [CLI, 'node', '--genesis', genesisFile, '--datadir', datadir, '--no-rpc', '--p2p-port', '0'],
    { encoding: 'utf8', timeout: 60_000 },
  )
  t.equal(run.status, 3, run.stderr)
  t.match(run.stderr, /STORAGE_SCHEMA_UNSUPPORTED.*newer version/)
})
