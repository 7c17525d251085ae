/**
 * Issue 4 acceptance, separate processes over real libp2p on 127.0.0.1:
 * - a full node joining a single-validator network after 500 blocks syncs to the head and
 *   then follows gossip;
 * - a transaction sent to a node that is not connected to the validator reaches it through
 *   gossip (via the full node) and is included;
 * - the full node, stopped for 300 blocks, catches up after restart;
 * - block hashes and state roots equal the validator's at every height (read from both
 *   datadirs once the processes have stopped).
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { SidechainNode } from '../../chain/node.ts'
import { makeGenesis, tempDir, transfer, waitFor } from '../support/chain.ts'
import {
  buildChain,
  type LogLine,
  NodeProcess,
  readChain,
  testP2P,
  writeGenesisFile,
  writeValidatorKey,
} from '../support/p2p.ts'

const PERIOD_MS = 50
const PREBUILT = 500
const DOWNTIME_BLOCKS = 300

t.test(
  'full node process: sync after 500 blocks, follow, tx via gossip, catch up after downtime',
  async (t) => {
    const setup = makeGenesis({ accounts: 3, config: { blockPeriodMs: PERIOD_MS } })
    const root = tempDir('sidechain-p2p-sync-')
    const processes: NodeProcess[] = []
    const inProcess: SidechainNode[] = []
    // Processes die even when an assertion throws half-way.
    t.teardown(async () => {
      for (const node of inProcess) await node.stop().catch(() => undefined)
      for (const p of processes) await p.stop(3_000).catch(() => p.kill())
      root.remove()
    })
    const genesisFile = path.join(root.path, 'genesis.json')
    const keyFile = path.join(root.path, 'validator.key')
    const validatorDir = path.join(root.path, 'validator')
    const fullDir = path.join(root.path, 'full')
    mkdirSync(fullDir)
    writeGenesisFile(setup.genesis, genesisFile)
    writeValidatorKey(setup.validators[0]!, keyFile)

    const started = Date.now()
    await buildChain(setup, validatorDir, PREBUILT, { txEvery: 7 })
    t.comment(`pre-built ${PREBUILT} blocks in ${Date.now() - started} ms`)

    const common = ['--genesis', genesisFile, '--no-rpc', '--p2p-port', '0']
    const validator = new NodeProcess('validator', [
      ...common,
      '--datadir',
      validatorDir,
      '--validator-key',
      keyFile,
      '--insecure-key',
    ])
    processes.push(validator)
    const validatorAddr = (
      (await validator.waitForLine((l) => l.msg === 'p2p started', 'validator p2p'))
        .listen as string[]
    )[0]!
    await validator.waitForHead(PREBUILT + 5)

    const startFull = () => {
      const node = new NodeProcess('full', [
        ...common,
        '--datadir',
        fullDir,
        '--bootnodes',
        validatorAddr,
      ])
      processes.push(node)
      return node
    }

    let fullAddr = ''
    await t.test(
      'a node joining after 500 blocks syncs to the head, then follows gossip',
      async (t) => {
        const full = startFull()
        fullAddr = (
          (await full.waitForLine((l) => l.msg === 'p2p started', 'full node p2p'))
            .listen as string[]
        )[0]!
        const done = await full.waitForLine((l) => l.msg === 'sync complete', 'sync complete')
        // The validator kept sealing meanwhile; its log lines arrive with a little delay.
        t.ok(
          (done.head as number) >= PREBUILT && (done.head as number) >= validator.head - 20,
          `synced to ${done.head} (validator at ${validator.head})`,
        )
        t.ok(
          full.lines.some((l) => l.msg === 'sync started'),
          'logged the start of the sync',
        )
        // Following: gossip imports beyond what the validator had sealed when sync finished.
        const mark = validator.head
        await full.waitFor(
          () =>
            full.lines.some(
              (l) =>
                l.msg === 'imported block' &&
                l.source === 'gossip' &&
                (l.number as number) >= mark + 20,
            ),
          'gossip imports 20 blocks past the sync',
        )
        t.pass(`follows gossip past ${mark + 20}`)
      },
    )

    await t.test(
      'a transaction sent to a node without a validator connection is included',
      async (t) => {
        const dir = tempDir('sidechain-p2p-tx-')
        t.teardown(() => dir.remove())
        // Connected to the full node only: the tx travels node -> full -> validator.
        const node = new SidechainNode({
          genesis: setup.genesis,
          datadir: dir.path,
          p2p: testP2P({ bootnodes: [fullAddr] }),
        })
        inProcess.push(node)
        await node.start()
        await waitFor(() => node.ledger.head.number >= BigInt(validator.head - 5), {
          timeoutMs: 30_000,
          what: 'in-process node synced',
        })
        const [alice, bob] = setup.accounts as [
          (typeof setup.accounts)[0],
          (typeof setup.accounts)[0],
        ]
        const account = await node.ledger
          .headState()
          .getAccount(new (await import('@ethereumjs/util')).Address(alice.address))
        const tx = transfer(node.ledger.common, alice, bob.address, account?.nonce ?? 0n, 12_345n)
        await node.txpool.addRaw(tx.serialize())
        const location = await waitFor(() => node.ledger.getTxLocation(tx.hash()), {
          timeoutMs: 20_000,
          what: 'tx included',
        })
        const sealed = await validator.waitForLine(
          (l: LogLine) => l.msg === 'sealed block' && l.number === Number(location.blockNumber),
          'validator sealed the block with the tx',
        )
        t.ok((sealed.txs as number) >= 1, `validator included it in block ${location.blockNumber}`)
        const receipts = await node.ledger.getReceipts(location.blockHash)
        t.ok(receipts !== undefined, 'the block with the receipt reached the sending node')
        t.equal(node.p2p!.peerCount(), 1, 'the sending node has one peer (the full node)')
        await node.stop()
        inProcess.splice(inProcess.indexOf(node), 1)
        t.comment(`tx ${bytesToHex(tx.hash())} in block ${location.blockNumber}`)
      },
    )

    await t.test('a node stopped for 300 blocks catches up after restart', async (t) => {
      const first = processes.find((p) => p.name === 'full')!
      await first.stop()
      t.equal(first.child.exitCode, 0, 'clean shutdown')
      const stoppedAt = validator.head
      await validator.waitForHead(stoppedAt + DOWNTIME_BLOCKS, 60_000)
      const restartHead = validator.head
      const again = startFull()
      const done = await again.waitForLine(
        (l) => l.msg === 'sync complete',
        'sync complete after restart',
      )
      t.ok(
        (done.head as number) >= restartHead,
        `caught up from ${stoppedAt} to ${done.head} (validator was at ${restartHead})`,
      )
      await again.waitFor(
        () => again.head >= validator.head - 2 && again.head > (done.head as number),
        'following again',
      )
      t.ok(
        again.lines.some((l) => l.msg.startsWith('syncing ') || l.msg === 'sync complete'),
        'progress was logged',
      )
    })

    await t.test('block hashes and state roots equal the validator at every height', async (t) => {
      const full = processes.filter((p) => p.name === 'full').at(-1)!
      await full.stop()
      await validator.stop()
      const ours = await readChain(setup.genesis, fullDir)
      const theirs = await readChain(setup.genesis, validatorDir)
      t.ok(ours.length > PREBUILT + DOWNTIME_BLOCKS, `full node has ${ours.length - 1} blocks`)
      let mismatches = 0
      for (let n = 0; n < ours.length; n++) {
        const a = ours[n]!
        const b = theirs[n]
        if (b === undefined || a.hash !== b.hash || a.stateRoot !== b.stateRoot) mismatches++
      }
      t.equal(mismatches, 0, `all ${ours.length} heights match`)
      const distinctRoots = new Set(ours.map((b) => b.stateRoot)).size
      t.ok(distinctRoots > 50, `state roots change along the chain (${distinctRoots} distinct)`)
    })
  },
)
