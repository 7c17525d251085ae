/**
 * Re-announcement (issue 21), over real libp2p on 127.0.0.1: a transaction a node
 * acknowledged over RPC while it had no peers must not vanish. The full node accepts it
 * alone; the validator connects later; the transaction is announced to it and included.
 */
import { bytesToHex } from '@ethereumjs/util'
import t from 'tap'
import { SidechainNode } from '../../chain/node.ts'
import { makeGenesis, tempDir, transfer, waitFor } from '../support/chain.ts'
import { testP2P } from '../support/p2p.ts'

t.test(
  'a transaction accepted with no peers reaches a validator that connects later',
  async (t) => {
    const setup = makeGenesis({ accounts: 1, config: { blockPeriodMs: 200 } })
    const validatorDir = tempDir('reannounce-v-')
    const fullDir = tempDir('reannounce-f-')
    t.teardown(() => {
      validatorDir.remove()
      fullDir.remove()
    })
    const validator = new SidechainNode({
      genesis: setup.genesis,
      datadir: validatorDir.path,
      validatorKey: setup.validators[0],
      p2p: testP2P(),
    })
    await validator.start()
    t.teardown(() => validator.stop())
    const full = new SidechainNode({
      genesis: setup.genesis,
      datadir: fullDir.path,
      p2p: testP2P(),
      rpc: { port: 0 },
    })
    await full.start()
    t.teardown(() => full.stop())
    t.equal(full.p2p!.peerCount(), 0, 'the full node starts alone')

    const tx = transfer(
      validator.ledger.common,
      setup.accounts[0]!,
      new Uint8Array(20).fill(7),
      0n,
      1n,
    )
    const response = await fetch(full.rpc!.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_sendRawTransaction',
        params: [bytesToHex(tx.serialize())],
      }),
    })
    const sent = (await response.json()) as { result?: string; error?: unknown }
    t.equal(sent.result, bytesToHex(tx.hash()), 'the full node acknowledges the transaction')
    // Past the gossip flush window: the batch went out to nobody.
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal(validator.txpool.size, 0, 'the validator has not seen it')

    await full.p2p!.dial(validator.p2p!.listenAddresses()[0]!)
    const location = await waitFor(() => validator.ledger.getTxLocation(tx.hash()), {
      what: 'the transaction included by the validator',
      timeoutMs: 15_000,
    })
    t.ok(location.blockNumber > 0n, `included in block ${location.blockNumber}`)
    await waitFor(async () => (await full.ledger.getTxLocation(tx.hash())) !== undefined, {
      what: 'the full node imports the block with it',
    })
    t.equal(full.txpool.size, 0, 'and drops it from its pool')
  },
)
