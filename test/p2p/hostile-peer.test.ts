/**
 * A hand-made libp2p peer attacks a validator and a full node (real libp2p, 127.0.0.1):
 * it floods duplicates, sends junk bytes, an oversized message, a block with bad seals and
 * a block from a non-validator. Duplicates are dropped before validation and forwarded once;
 * invalid messages are REJECTed, its score drops, it is banned and disconnected; an IGNOREd
 * message costs nothing. The validator keeps producing, the full node keeps following, and a
 * node that joins during the attack syncs.
 */
import { createBlock } from '@ethereumjs/block'
import { Address, createAddressFromString } from '@ethereumjs/util'
import t from 'tap'
import { decodeExtraData, encodeExtraData } from '../../chain/consensus/extra-data.ts'
import { signCommitSeal } from '../../chain/consensus/seals.ts'
import { randomPrivateKey } from '../../chain/crypto/index.ts'
import { keyPairFromPrivateKey } from '../../chain/lib/keys.ts'
import { SidechainNode } from '../../chain/node.ts'
import { defaultTopicScore, topicName } from '../../chain/p2p/gossip.ts'
import type { Libp2pHost } from '../../chain/p2p/libp2p.ts'
import { encodeTxBatch, txGossipMessageCap } from '../../chain/sync/tx-gossip.ts'
import { encodeBlockMessage } from '../../chain/sync/validation.ts'
import { makeGenesis, tempDir, transfer, waitFor } from '../support/chain.ts'
import { startRawPeer, testP2P } from '../support/p2p.ts'

t.test('hostile peer: rejected, penalized, disconnected; honest nodes carry on', async (t) => {
  const setup = makeGenesis({ accounts: 2, config: { blockPeriodMs: 100 } })
  const dirs = [
    tempDir('sidechain-hostile-v-'),
    tempDir('sidechain-hostile-f-'),
    tempDir('sidechain-hostile-g-'),
  ]
  const nodes: SidechainNode[] = []
  const hosts: Libp2pHost[] = []
  t.teardown(async () => {
    for (const host of hosts) await host.stop().catch(() => undefined)
    for (const node of nodes) await node.stop().catch(() => undefined)
    for (const dir of dirs) dir.remove()
  })
  const validator = new SidechainNode({
    genesis: setup.genesis,
    datadir: dirs[0]!.path,
    validatorKey: setup.validators[0],
    p2p: testP2P(),
  })
  nodes.push(validator)
  await validator.start()
  const validatorAddr = validator.p2p!.listenAddresses()
  const full = new SidechainNode({
    genesis: setup.genesis,
    datadir: dirs[1]!.path,
    p2p: testP2P({ bootnodes: validatorAddr }),
  })
  nodes.push(full)
  await full.start()
  await waitFor(() => full.p2p!.peerCount() === 1 && full.ledger.head.number >= 3n, {
    what: 'full node following',
  })

  const chainStatus = {
    chainId: validator.ledger.chainId,
    genesisHash: validator.ledger.genesisHash,
    headNumber: 0n,
    headHash: validator.ledger.genesisHash,
  }
  // The rogue floods duplicates under random ids first, then sends invalid messages under
  // content ids (see startRawPeer); the observer counts every copy it receives.
  const rogueIds = { enabled: true }
  const rogue = await startRawPeer({ status: chainStatus, randomIds: rogueIds })
  const observer = await startRawPeer({ status: chainStatus, randomIds: { enabled: true } })
  hosts.push(rogue, observer)
  const blocksTopic = topicName(validator.ledger.chainId, 'blocks')
  const txTopic = topicName(validator.ledger.chainId, 'transactions')
  rogue.subscribe(blocksTopic, defaultTopicScore)
  rogue.subscribe(txTopic, defaultTopicScore)
  observer.subscribe(txTopic, defaultTopicScore)
  const copiesAtObserver = new Map<string, number>()
  observer.on('gossip:message', (msg) => {
    const key = Buffer.from(msg.data).toString('hex')
    copiesAtObserver.set(key, (copiesAtObserver.get(key) ?? 0) + 1)
  })
  await rogue.dial(validatorAddr[0]!)
  await rogue.dial(full.p2p!.listenAddresses()[0]!)
  await observer.dial(validatorAddr[0]!)
  await waitFor(
    () =>
      validator.p2p!.peerCount() === 3 &&
      full.p2p!.peerCount() === 2 &&
      validator.p2p!.topicPeers('transactions').mesh.includes(observer.peerId) &&
      rogue.topicPeers(txTopic).includes(validator.p2p!.peerId) &&
      rogue.topicPeers(txTopic).includes(full.p2p!.peerId) &&
      rogue.topicPeers(blocksTopic).includes(validator.p2p!.peerId),
    { what: 'rogue and observer connected and meshed' },
  )
  const rogueScore = () => validator.p2p!.gossipScore(rogue.peerId)
  const stats = (node: SidechainNode) => node.p2p!.gossipStats()

  await t.test('duplicates are validated once and forwarded once', async (t) => {
    const [alice, bob] = setup.accounts as [(typeof setup.accounts)[0], (typeof setup.accounts)[0]]
    const nonce =
      (await validator.ledger.headState().getAccount(new Address(alice.address)))?.nonce ?? 0n
    const tx = encodeTxBatch([
      transfer(validator.ledger.common, alice, bob.address, nonce, 777n).serialize(),
    ])
    for (let i = 0; i < 25; i++) await rogue.publish(txTopic, tx)
    const location = await waitFor(
      () =>
        full.ledger.getTxLocation(
          transfer(validator.ledger.common, alice, bob.address, nonce, 777n).hash(),
        ),
      {
        what: 'flooded tx included and seen by the full node',
      },
    )
    // Give any second copy time to arrive: wait for 5 more blocks (progress, not a sleep).
    await waitFor(() => full.ledger.head.number >= location.blockNumber + 5n, {
      what: '5 more blocks',
    })
    t.equal(
      copiesAtObserver.get(Buffer.from(tx).toString('hex')),
      1,
      'the observer got exactly one copy from the validator',
    )
    t.match(
      stats(validator).transactions,
      { received: 1, accepted: 1 },
      'validator validated it once',
    )
    t.equal(stats(full).transactions!.received, 1, 'full node validated it once')
    t.ok(
      rogueScore() >= 0,
      `duplicates of a valid message cost no score (${rogueScore().toFixed(2)})`,
    )
  })

  rogueIds.enabled = false
  await t.test('IGNORE costs nothing', async (t) => {
    const broke = keyPairFromPrivateKey(randomPrivateKey())
    const tx = encodeTxBatch([
      transfer(validator.ledger.common, broke, broke.address, 0n, 1n).serialize(),
    ])
    const before = stats(validator).transactions!.ignored
    await rogue.publish(txTopic, tx)
    await waitFor(() => stats(validator).transactions!.ignored === before + 1, {
      what: 'ignored (insufficient funds)',
    })
    t.ok(rogueScore() >= 0, 'no penalty for a transaction we merely cannot accept now')
  })

  const joinDir = dirs[2]!
  let joiner: SidechainNode | undefined
  await t.test(
    'junk, oversized, bad seals, non-validator block: rejected, score drops, banned',
    async (t) => {
      // A node joining now must sync while the attack goes on.
      joiner = new SidechainNode({
        genesis: setup.genesis,
        datadir: joinDir.path,
        p2p: testP2P({ bootnodes: validatorAddr }),
      })
      nodes.push(joiner)
      await joiner.start()
      const headAtStart = validator.ledger.head.number
      const rejected = () =>
        stats(validator).blocks!.rejected + stats(validator).transactions!.rejected

      await rogue.publish(blocksTopic, Uint8Array.from(Buffer.from('definitely not a block')))
      await waitFor(() => rejected() === 1, { what: 'junk rejected' })
      // Gossipsub caches scores for one heartbeat.
      await waitFor(() => rogueScore() < 0, { what: 'score below zero' })
      t.pass(`score dropped after one invalid message (${rogueScore().toFixed(0)})`)

      // A batch holding a legacy-looking RLP list header over garbage: not decodable (a junk
      // first byte below 0x80 would read as an unsupported tx type, which is IGNOREd).
      await rogue.publish(txTopic, encodeTxBatch([Uint8Array.of(0xf8, 0x40, 1, 2, 3)]))
      await waitFor(() => rejected() === 2, { what: 'junk transaction rejected' })

      const cap = txGossipMessageCap({ maxTxBytes: setup.genesis.config.maxTxSize })
      await rogue.publish(txTopic, new Uint8Array(cap + 1).fill(0xab))
      await waitFor(() => rejected() === 3, { what: 'oversized rejected' })
      t.equal(
        stats(validator).transactions!.oversized,
        1,
        'rejected by the size cap, before decoding',
      )

      const head = (await validator.ledger.getBlockByNumber(validator.ledger.head.number))!
      await rogue.publish(
        blocksTopic,
        encodeBlockMessage(head, {
          round: 0,
          seals: [signCommitSeal(head.hash(), 0, randomPrivateKey())],
        }),
      )
      await waitFor(() => rejected() === 4, { what: 'bad seals rejected' })

      const rogueKey = keyPairFromPrivateKey(randomPrivateKey())
      const extra = decodeExtraData(head.header.extraData)
      const headSeals = (await validator.ledger.getSeals(head.hash())) ?? []
      const forged = createBlock(
        {
          header: {
            ...head.header.toJSON(),
            number: head.header.number + 1n,
            parentHash: head.hash(),
            coinbase: createAddressFromString(rogueKey.addressHex),
            extraData: encodeExtraData({ ...extra, parentCommitSeals: headSeals }),
          } as never,
        },
        { common: validator.ledger.common, skipConsensusFormatValidation: true },
      )
      await rogue.publish(
        blocksTopic,
        encodeBlockMessage(forged, {
          round: 0,
          seals: [signCommitSeal(forged.hash(), 0, rogueKey.privateKey)],
        }),
      )
      await waitFor(() => rejected() === 5, { what: 'non-validator block rejected' })
      // P4 is (invalid messages)^2 per topic: a fourth invalid block takes the score past -1000.
      await rogue.publish(blocksTopic, Uint8Array.from(Buffer.from('more junk')))
      await waitFor(() => rogueScore() < -1000, { what: 'score below the disconnect threshold' })
      t.pass(`score below the disconnect threshold (${rogueScore().toFixed(0)})`)

      await waitFor(
        () => validator.p2p!.isBanned(rogue.peerId) && full.p2p!.isBanned(rogue.peerId),
        { what: 'banned by both' },
      )
      await waitFor(() => rogue.connections().length === 0, { what: 'rogue disconnected' })
      t.pass('banned and disconnected by the validator and the full node')
      // The gate refuses the banned peer once the encrypted handshake reveals its id.
      await rogue.dial(validatorAddr[0]!).catch(() => undefined)
      await waitFor(() => rogue.connections().length === 0, { what: 'reconnection refused' })
      t.notOk(
        validator.p2p!.connectedPeerIds().includes(rogue.peerId),
        'cannot reconnect while banned',
      )
      t.ok(stats(full).blocks!.rejected >= 2, 'the full node rejected the rogue blocks too')
      t.equal(stats(full).blocks!.accepted > 0, true)
      await waitFor(() => validator.ledger.head.number >= headAtStart + 10n, {
        what: 'validator still producing',
      })
    },
  )

  await t.test('honest nodes kept producing, following and syncing', async (t) => {
    const target = validator.ledger.head.number
    await waitFor(() => full.ledger.head.number >= target, { what: 'full node caught up' })
    await waitFor(() => joiner!.ledger.head.number >= target, { what: 'joining node synced' })
    const a = await validator.ledger.getBlockByNumber(target)
    const b = await joiner!.ledger.getBlockByNumber(target)
    t.same(b!.hash(), a!.hash(), 'same chain')
    t.equal(
      stats(validator).blocks!.accepted,
      0,
      'nothing from the rogue was ever accepted by the validator',
    )
    t.ok(validator.p2p!.peerCount() >= 2, 'honest peers still connected')
  })
})
