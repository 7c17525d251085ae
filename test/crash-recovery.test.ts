/**
 * A validator process killed with SIGKILL at random points (most of its time is spent
 * importing blocks full of transfers) must restart at the last complete block with
 * consistent state: every block up to the head is complete, the head state is readable,
 * and re-executing the chain from genesis reproduces every state root.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { Address, bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { ConsensusRules, StaticValidatorSet } from '../chain/consensus/rules.ts'
import { Ledger } from '../chain/ledger/ledger.ts'
import { writeKeyFile } from '../chain/lib/keys.ts'
import { ChainDb } from '../chain/storage/chain-db.ts'
import { genesisToJson } from '../genesis/schema.ts'
import { makeGenesis, tempDir, waitFor } from './support/chain.ts'

const KILLS = Number(process.env.CRASH_KILLS ?? 12)
const FIXTURE = path.join(import.meta.dirname, 'support/busy-node.ts')

function openLedger(setup: ReturnType<typeof makeGenesis>, dir: string) {
  const db = new ChainDb(dir)
  const rules = new ConsensusRules(new StaticValidatorSet(setup.validators.map((v) => v.address)))
  const ledger = new Ledger({ genesis: setup.genesis }, { db, rules })
  return { db, ledger }
}

t.test('SIGKILL during block import: restart at the last complete block', async (t) => {
  const setup = makeGenesis({ accounts: 150, config: { blockPeriodMs: 100 } })
  const dir = tempDir('crash-')
  t.teardown(() => dir.remove())
  const genesisPath = path.join(dir.path, 'genesis.json')
  writeFileSync(genesisPath, JSON.stringify(genesisToJson(setup.genesis)))
  const keyPath = path.join(dir.path, 'validator.key')
  writeKeyFile(keyPath, setup.validators[0]!)
  const accountsPath = path.join(dir.path, 'accounts.json')
  writeFileSync(accountsPath, JSON.stringify(setup.accounts.map((a) => bytesToHex(a.privateKey))))
  const datadir = path.join(dir.path, 'node')
  const chaindata = path.join(datadir, 'chaindata')

  let child: ChildProcess | undefined
  t.teardown(() => {
    child?.kill('SIGKILL')
  })
  let seed = 12345
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  let lastHead = 0n
  let blocksWithTxs = 0
  for (let kill = 0; kill < KILLS; kill++) {
    const proc = spawn(process.execPath, [FIXTURE, genesisPath, datadir, keyPath, accountsPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = proc
    let reported = -1n
    let stderr = ''
    proc.stderr!.on('data', (d) => {
      stderr += d
    })
    proc.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const match = /^head (\d+)(?: txs (\d+))?/.exec(line)
        if (match === null) continue
        reported = BigInt(match[1]!)
        if (Number(match[2] ?? 0) > 0) blocksWithTxs++
      }
    })
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    // Let it import a couple of full blocks, then kill it at a random moment.
    await waitFor(() => reported >= lastHead + 2n || proc.exitCode !== null, {
      timeoutMs: 60_000,
      what: 'blocks from the busy node',
    })
    t.equal(proc.exitCode, null, `process alive before kill ${kill}: ${stderr}`)
    await new Promise((r) => setTimeout(r, Math.floor(random() * 250)))
    proc.kill('SIGKILL')
    await exited

    const { db, ledger } = openLedger(setup, chaindata)
    await db.open()
    await ledger.open()
    const head = ledger.head
    t.ok(
      head.number >= lastHead,
      `kill ${kill}: head ${head.number} did not go back (was ${lastHead})`,
    )
    // Every block up to the head is complete.
    for (let n = lastHead; n <= head.number; n++) {
      const block = await ledger.getBlockByNumber(n)
      const receipts = block === undefined ? undefined : await ledger.getReceipts(block.hash())
      if (block === undefined || receipts?.length !== block.transactions.length) {
        t.fail(`block ${n} incomplete after kill ${kill}`)
        break
      }
    }
    // Head state is readable (the trie nodes of its root were written with it).
    const account = await ledger.headState().getAccount(new Address(setup.accounts[0]!.address))
    t.ok(account !== undefined && account.balance > 0n, `kill ${kill}: head state readable`)
    lastHead = head.number
    await db.close()
  }
  t.ok(blocksWithTxs >= KILLS, `blocks were full of transfers (${blocksWithTxs} seen)`)

  // Re-executing the whole chain from genesis reproduces every state root.
  const source = openLedger(setup, chaindata)
  await source.db.open()
  await source.ledger.open()
  const replayDir = tempDir('crash-replay-')
  t.teardown(() => replayDir.remove())
  const replay = openLedger(setup, replayDir.path)
  await replay.db.open()
  await replay.ledger.open()
  let txs = 0
  for (let n = 1n; n <= source.ledger.head.number; n++) {
    const block = (await source.ledger.getBlockByNumber(n))!
    txs += block.transactions.length
    const commit = (await source.ledger.getCommit(block.hash()))!
    await replay.ledger.importBlock(block, { seals: commit.seals, sealRound: commit.round })
  }
  t.same(
    replay.ledger.head.stateRoot,
    source.ledger.head.stateRoot,
    `re-execution of ${source.ledger.head.number} blocks (${txs} txs) matches`,
  )
  await source.db.close()
  await replay.db.close()
})
