/** The status table: colour only on a terminal without NO_COLOR; missing validators stand out. */
import t from 'tap'
import { sidechain } from '../../test/support/devnet.ts'
import { freePorts } from '../devnet/processes.ts'
import { formatStatus, type StatusReport, useColour } from './status-command.ts'

const report: StatusReport = {
  rpc: 'http://127.0.0.1:8545',
  chainId: 1337,
  head: { number: 120, hash: `0x${'ab'.repeat(32)}`, timestamp: 1_700_000_000, ageMs: 400 },
  finalized: { number: 120 },
  syncing: false,
  peers: 3,
  blockPeriodMs: 1000,
  missingAfterMs: 20_000,
  consensus: {
    running: true,
    isValidator: true,
    height: 121,
    round: 0,
    proposer: `0x${'11'.repeat(20)}`,
    validators: 2,
    quorum: 2,
    faultTolerance: 0,
    evidence: 0,
  },
  validators: [
    {
      address: `0x${'11'.repeat(20)}`,
      state: 'active',
      lastSeenAgoMs: 300,
      lastHeight: 121,
      proposalsMade: 60,
      proposalsMissed: 0,
      commitsIncluded: 119,
      equivocations: 0,
    },
    {
      address: `0x${'22'.repeat(20)}`,
      state: 'missing',
      lastSeenAgoMs: 42_000,
      lastHeight: 80,
      proposalsMade: 40,
      proposalsMissed: 3,
      commitsIncluded: 79,
      equivocations: 0,
    },
  ],
  relayers: [{ address: null, readyUrl: 'http://127.0.0.1:9464/ready', ready: false, detail: {} }],
}

const ESC = '\u001b['

t.test('colour on a terminal only, and never with NO_COLOR', (t) => {
  t.equal(useColour({ isTTY: true }, {}), true)
  t.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false, 'NO_COLOR=1')
  t.equal(useColour({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR is unset')
  t.equal(useColour({ isTTY: false }, {}), false, 'a pipe')
  t.equal(useColour({}, {}), false)
  t.end()
})

t.test('the table', (t) => {
  const plain = formatStatus(report, false)
  t.notOk(plain.includes(ESC), 'no escape codes without colour')
  t.match(
    plain,
    /head {7}#120 {2}0xabababab… {2}0\.4 s ago {2}finalized #120 \(every block is final\)/,
  )
  t.match(plain, /validators 2 \(quorum 2, tolerates 0\)/)
  t.match(plain, new RegExp(`0x${'22'.repeat(20)} +MISSING +42 s ago +40 +3 +79`))
  t.match(plain, new RegExp(`0x${'11'.repeat(20)} +active +0\\.3 s ago +60 +0 +119`))
  t.match(plain, /NOT READY +http:\/\/127\.0\.0\.1:9464\/ready/)
  const coloured = formatStatus(report, true)
  t.ok(coloured.includes(`${ESC}31mMISSING`), 'missing in red')
  t.ok(coloured.includes(`${ESC}32mactive`), 'active in green')
  t.end()
})

t.test('exit codes: 1 when the node does not answer, 2 on bad flags', async (t) => {
  const [port] = await freePorts(1)
  const down = await sidechain(['status', '--rpc', `http://127.0.0.1:${port}`, '--json'])
  t.equal(down.code, 1)
  t.match(
    JSON.parse(down.stdout),
    {
      ok: false,
      error: { code: 'STATUS_NODE_UNREACHABLE', message: /net_peerCount|eth_/ },
    },
    '--json: the error as JSON, no half report',
  )
  const noTarget = await sidechain(['status'])
  t.equal(noTarget.code, 2)
  t.match(noTarget.stderr, /\[STATUS_FLAGS_INVALID\]: give --rpc <url> or --network <file>/)
  const badWait = await sidechain(['status', '--rpc', 'http://x', '--missing-after', 'soon'])
  t.equal(badWait.code, 2)
  t.match(badWait.stderr, /--missing-after must be a positive number of seconds, got soon/)
  const badNetwork = await sidechain(['status', '--network', '/nonexistent/devnet.json'])
  t.equal(badNetwork.code, 2)
  t.match(badNetwork.stderr, /cannot read network file \/nonexistent\/devnet.json/)
})
