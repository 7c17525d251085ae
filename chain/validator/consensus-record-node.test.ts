/**
 * The consensus record in a real validator (SidechainNode with real LevelDB over an
 * in-process consensus hub): it is written, pruned, restored after a restart, and a datadir
 * whose record belongs to another key is refused, by the node and by the CLI (exit code 2).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { makeGenesis, relayBlocks, tempDir, waitFor } from '../../test/support/chain.ts'
import { writeKeyFile } from '../lib/keys.ts'
import { SidechainNode } from '../node.ts'
import { CONSENSUS_RECORD_FILE, ConsensusRecord } from './consensus-record.ts'
import { LocalConsensusHub, type QbftService } from './qbft-service.ts'

t.test(
  'validators record what they sign, prune it, and resume from it after a restart',
  async (t) => {
    const setup = makeGenesis({
      validators: 4,
      accounts: 1,
      config: { blockPeriodMs: 150, roundTimeoutMs: 600, roundTimeoutMaxMs: 2_000 },
    })
    const hub = new LocalConsensusHub()
    const dirs = setup.validators.map((_, i) => {
      const dir = tempDir(`record-${i}-`)
      t.teardown(() => dir.remove())
      return dir.path
    })
    const make = (i: number) =>
      new SidechainNode({
        genesis: setup.genesis,
        datadir: dirs[i]!,
        validatorKey: setup.validators[i]!,
        consensusTransport: hub.transport(`v${i}`),
      })
    const nodes = setup.validators.map((_, i) => make(i))
    t.teardown(async () => {
      for (const node of nodes) await node.stop()
    })
    for (const node of nodes) await node.start()
    relayBlocks(nodes)
    const minHead = () => nodes.map((n) => n.ledger.head.number).reduce((a, b) => (a < b ? a : b))
    await waitFor(() => minHead() >= 4n, { timeoutMs: 30_000, what: '4 blocks on every node' })

    // Stop one validator and read its record.
    await nodes[2]!.stop()
    const file = path.join(dirs[2]!, CONSENSUS_RECORD_FILE)
    t.ok(existsSync(file), 'the record is in the datadir')
    const head = nodes[2]!.ledger.head.number
    const record = ConsensusRecord.open({ path: file, validator: setup.validators[2]!.address })
    const heights = new Set(record.entries().map((e) => e.height))
    const size = record.sizeBytes
    record.close()
    // (A height it got by relay before its own votes went out may be missing.)
    t.ok(
      heights.size >= Number(head) - 1,
      `it signed at heights ${[...heights].join(', ')} through the record (head ${head})`,
    )
    t.ok(
      size < record.options.compactAtBytes * 2,
      `the file stays below its compaction bound (${size} bytes)`,
    )

    // It comes back from the same datadir and the network goes on with it.
    nodes[2] = make(2)
    await nodes[2].start()
    relayBlocks(nodes)
    const target = minHead() + 3n
    await waitFor(() => minHead() >= target, {
      timeoutMs: 30_000,
      what: 'the restarted validator follows',
    })
    for (const [i, node] of nodes.entries()) {
      t.equal(
        (node.engine as QbftService).evidence().length,
        0,
        `node ${i} holds no evidence against the restarted validator`,
      )
    }
    const hashes = new Set<string>()
    for (const node of nodes) {
      const block = await node.ledger.getBlockByNumber(target)
      hashes.add(Buffer.from(block!.hash()).toString('hex'))
    }
    t.equal(hashes.size, 1, 'one block at the height')
  },
)

t.test('a datadir whose record belongs to another key is refused', async (t) => {
  const setup = makeGenesis({ validators: 4, accounts: 1 })
  const dir = tempDir('record-wrong-key-')
  t.teardown(() => dir.remove())
  ConsensusRecord.open({
    path: path.join(dir.path, CONSENSUS_RECORD_FILE),
    validator: setup.validators[0]!.address,
  }).close()
  const node = new SidechainNode({
    genesis: setup.genesis,
    datadir: dir.path,
    validatorKey: setup.validators[1]!,
    consensusTransport: new LocalConsensusHub().transport(),
  })
  await t.rejects(node.start(), { code: 'CONSENSUS_RECORD_WRONG_KEY' })
  t.notOk(node.isRunning, 'the node did not start')
  t.notOk(node.db.isOpen, 'and closed its database again')

  // The same through the CLI: exit code 2 with the code in the message.
  const genesisFile = path.join(dir.path, 'genesis.json')
  writeFileSync(
    genesisFile,
    JSON.stringify({
      config: { chainId: 1337, blockPeriodMs: 1000 },
      timestamp: 1_700_000_000,
      validators: setup.validators.map((v) => v.addressHex),
      alloc: {},
    }),
  )
  const keyFile = path.join(dir.path, 'key-1.json')
  writeKeyFile(keyFile, setup.validators[1]!)
  const datadir = tempDir('record-wrong-key-cli-')
  t.teardown(() => datadir.remove())
  ConsensusRecord.open({
    path: path.join(datadir.path, CONSENSUS_RECORD_FILE),
    validator: setup.validators[0]!.address,
  }).close()
  const cli = spawnSync(
    process.execPath,
    [
      path.resolve(import.meta.dirname, '../cli/sidechain.js'),
      'node',
      '--genesis',
      genesisFile,
      '--datadir',
      datadir.path,
      '--validator-key',
      keyFile,
      '--insecure-key',
      '--no-rpc',
      '--p2p-port',
      '0',
      '--log-level',
      'error',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  )
  t.equal(cli.status, 2, cli.stderr)
  t.match(cli.stderr, /CONSENSUS_RECORD_WRONG_KEY/)
})
