/**
 * Acceptance (issue 20, case 2): a relayer whose sidechain endpoint lies gets no signature out.
 * Three relayer processes (threshold 2) on anvil and a real sidechain node; relayer 0 reaches the
 * sidechain only through a lying proxy (test/support/bridge/lying-proxy.ts).
 *
 *   A  the proxy invents withdrawal 0 (50 ETH to a thief) in every bridge read: no signature of
 *      it leaves relayer 0 (not in eth_estimateGas, not in a transaction), nothing reaches L1;
 *   B  the proxy changes the state root of the headers it serves: relayer 0 refuses them
 *      (bridge_relayer_verification_refusals_total) and signs nothing;
 *   C  the proxy turns honest: the real withdrawal 0 (1 ETH to alice) is signed by relayer 0 too
 *      and released, and relayer 0's journal holds the real payload only.
 */
import path from 'node:path'
import t from 'tap'
import { type Address, parseEther, parseEventLogs, zeroAddress } from 'viem'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../../bridge/deploy/index.ts'
import { RelayerJournal } from '../../bridge/journal/journal.ts'
import {
  L1_CHAIN_ID,
  SIDECHAIN_CHAIN_ID,
  scrapeMetric,
  startBridgeEnv,
  waitFor,
  waitForReceipt,
} from '../support/bridge/env.ts'
import { startLyingProxy } from '../support/bridge/lying-proxy.ts'

t.test('a lying sidechain endpoint gets no signature out of a relayer', async (t) => {
  const env = await startBridgeEnv({
    l1MineEveryMs: 500,
    confirmations: 2,
    releaseTurnTimeoutMs: 1_000,
  })
  t.teardown(() => env.stop())
  const thief = '0x000000000000000000000000000000000000beef' as Address
  const proxy = await startLyingProxy({
    target: env.sidechainUrl,
    bridge: env.bridge,
    l1ChainId: L1_CHAIN_ID,
    vault: env.vault,
    sidechainChainId: SIDECHAIN_CHAIN_ID,
    thief,
    amount: parseEther('50'),
    relayers: env.relayers.map((r) => r.address),
  })
  t.teardown(() => proxy.close())
  proxy.mode = 'forge-withdrawal'

  const genesis = await env.sidechain.getBlock({ blockNumber: 0n })
  const lying = env.spawnRelayer(0, {
    overrides: {
      sidechain: {
        rpcUrl: proxy.url,
        chainId: SIDECHAIN_CHAIN_ID,
        bridge: env.bridge,
        lightClient: { checkpointHash: genesis.hash },
      },
    },
  })
  const honest = [env.spawnRelayer(1), env.spawnRelayer(2)]
  t.teardown(() => Promise.all([lying, ...honest].map((r) => r.kill())))
  const lyingPort = await waitFor(() => lying.metricsPort, { timeoutMs: 60_000 })

  await t.test('A: an invented withdrawal is never signed', async (t) => {
    // Twenty sidechain ticks of relayer 0 behind the forging proxy (or the first leak).
    const ticks = () => proxy.counts.get('eth_blockNumber') ?? 0
    const start = ticks()
    await waitFor(() => ticks() - start >= 20 || proxy.leaks.length > 0, { timeoutMs: 30_000 })
    t.same(proxy.leaks, [], 'no signature of the forged withdrawal left the relayer')
    t.ok((proxy.counts.get('eth_getProof') ?? 0) > 0, 'relayer 0 asked for proofs of it')
    t.notOk(await env.isReleased(0n), 'nothing was released on L1')
  })

  await t.test('B: headers with a forged state root are refused', async (t) => {
    proxy.mode = 'forge-headers'
    const refusals = async () =>
      (await scrapeMetric(lyingPort, 'bridge_relayer_verification_refusals_total', {
        code: 'RELAYER_HEADER_MISMATCH',
      })) ?? 0
    await waitFor(async () => (await refusals()) >= 3, { timeoutMs: 30_000 })
    t.ok((await refusals()) >= 3, 'the relayer counts the refused headers')
    t.same(proxy.leaks, [])
  })

  await t.test('C: the real withdrawal 0 is signed by every relayer and released', async (t) => {
    proxy.mode = 'honest'
    const alice = env.users[0]!
    const l1 = env.l1Wallet(alice)
    const sc = env.sidechainWallet(alice)
    await waitForReceipt(
      env.l1,
      await l1.writeContract({
        address: env.vault,
        abi: bridgeVaultAbi,
        functionName: 'depositETH',
        args: [alice.address],
        value: parseEther('2'),
      }),
    )
    const wrapped = await waitFor(
      async () => {
        const token = await env.sidechain.readContract({
          address: env.bridge,
          abi: sidechainBridgeAbi,
          functionName: 'wrappedTokenOf',
          args: [zeroAddress],
        })
        return token === zeroAddress ? undefined : token
      },
      { timeoutMs: 30_000 },
    )
    const aliceBefore = await env.l1.getBalance({ address: alice.address })
    await waitForReceipt(
      env.sidechain,
      await sc.writeContract({
        address: env.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'withdraw',
        args: [wrapped, parseEther('1'), alice.address],
      }),
    )
    await waitFor(
      async () => {
        const [released, signedByLying] = await Promise.all([
          env.isReleased(0n),
          env.sidechain.readContract({
            address: env.bridge,
            abi: sidechainBridgeAbi,
            functionName: 'hasSigned',
            args: [0n, 0n, env.relayers[0]!.address],
          }),
        ])
        return released && signedByLying
      },
      { timeoutMs: 60_000 },
    )
    t.ok(await env.isReleased(0n), 'withdrawal 0 released')
    t.equal(
      (await env.l1.getBalance({ address: alice.address })) - aliceBefore,
      parseEther('1'),
      'alice received exactly her withdrawal',
    )
    t.equal(await env.l1.getBalance({ address: thief }), 0n, 'the thief received nothing')
    const releasedLogs = parseEventLogs({
      abi: bridgeVaultAbi,
      eventName: 'Released',
      logs: await env.l1.getLogs({ address: env.vault, fromBlock: 0n }),
    })
    t.same(
      releasedLogs.map((l) => (l.args as { recipient: Address }).recipient),
      [alice.address],
      'the only release on L1 is alice’s',
    )
    t.same(proxy.leaks, [], 'still no signature of the forged payload')

    const proofs = await Promise.all(
      ['sum', 'count'].map((k) =>
        scrapeMetric(lyingPort, `bridge_relayer_proof_verify_seconds_${k}`),
      ),
    )
    t.ok((proofs[1] ?? 0) > 0, 'relayer 0 verified storage proofs')
    t.comment(
      `relayer 0: ${proofs[1]} proofs verified, ${(((proofs[0] ?? 0) * 1000) / (proofs[1] ?? 1)).toFixed(2)} ms each on average`,
    )

    await lying.stop()
    const journal = new RelayerJournal(path.join(env.dir, 'relayer-0', 'journal'))
    await journal.open()
    t.teardown(() => journal.close())
    const signature = await journal.getSignature(0n)
    t.match(
      signature,
      { token: zeroAddress, recipient: alice.address, amount: parseEther('1') },
      'relayer 0 journaled and signed the real payload of withdrawal 0, never the forged one',
    )
  })
})
