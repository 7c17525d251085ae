/**
 * Acceptance: relayer processes killed (SIGKILL) at the dangerous points, relayers down, restarts. Three relayers,
 * threshold 2, anvil L1 with a block every 0.5 s and a real sidechain node.
 *
 *   A  relayer 0 dies right after its deposit vote is mined (after-confirm); with 1 of 3 down deposits mint and
 *      withdrawals release (relayer 1 steps in for relayer 0's release turn after the timeout).
 *   B  relayer 2 dies too: with 2 of 3 down nothing mints or releases, and claiming fails clearly.
 *   C  relayer 0 restarts, catches up on what it missed, and dies again between signing a withdrawal and storing
 *      the signature (after-sign); after the next restart it stores the journaled signature: everything pending
 *      completes.
 *   D  relayer 2 restarts, is the release turn owner and dies just before releasing (before-release); relayer 0
 *      releases after the turn timeout; relayer 2 restarts and finds nothing left to do.
 * Finally: every deposit minted once, every withdrawal released once, no conflicts, balances exact to the wei.
 */
import t from 'tap'
import { type Address, erc20Abi, type Hash, parseEther, zeroAddress, zeroHash } from 'viem'
import { runClaim } from '../../bridge/cli/claim.ts'
import { createContext } from '../../bridge/cli/context.ts'
import { auditBridge } from '../../bridge/core/audit.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../../bridge/deploy/index.ts'
import { CRASH_ENV } from '../../bridge/relayer/crash-hook.ts'
import { writeNetworkFile } from '../support/bridge/cli.ts'
import {
  type RelayerProcess,
  scrapeMetric,
  startBridgeEnv,
  waitFor,
  waitForReceipt,
} from '../support/bridge/env.ts'

t.test('relayer crashes, outages and restarts', async (t) => {
  const env = await startBridgeEnv({
    l1MineEveryMs: 500,
    confirmations: 2,
    releaseTurnTimeoutMs: 1_000,
  })
  t.teardown(() => env.stop())
  const network = writeNetworkFile(env)
  const alice = env.users[0]!
  const l1 = env.l1Wallet(alice)
  const sc = env.sidechainWallet(alice)
  const aliceL1Start = await env.l1.getBalance({ address: alice.address })
  const depositTxs: Hash[] = []
  let deposited = 0n
  let withdrawn = 0n

  const deposit = async (amount: bigint) => {
    const hash = await l1.writeContract({
      address: env.vault,
      abi: bridgeVaultAbi,
      functionName: 'depositETH',
      args: [alice.address],
      value: amount,
    })
    depositTxs.push(hash)
    deposited += amount
    await waitForReceipt(env.l1, hash)
  }
  let wrapped: Address = zeroAddress
  const withdraw = async (amount: bigint) => {
    if (wrapped === zeroAddress) {
      wrapped = await env.sidechain.readContract({
        address: env.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'wrappedTokenOf',
        args: [zeroAddress],
      })
    }
    withdrawn += amount
    await waitForReceipt(
      env.sidechain,
      await sc.writeContract({
        address: env.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'withdraw',
        args: [wrapped, amount, alice.address],
      }),
    )
  }
  const minted = async (id: bigint) =>
    (await env.sidechain.readContract({
      address: env.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'mintedPayload',
      args: [id],
    })) !== zeroHash
  const released = (id: bigint) => env.isReleased(id)
  const signatureCount = async (id: bigint) =>
    (
      await env.sidechain.readContract({
        address: env.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'getSignatures',
        args: [id],
      })
    )[0].length
  const voted = async (id: bigint, relayer: number) =>
    (await env.sidechain.readContract({
      address: env.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'voteOf',
      args: [id, env.relayers[relayer]!.address],
    })) !== zeroHash
  const killedBySignal = async (p: RelayerProcess) => {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), 30_000)
    })
    const exit = await Promise.race([p.exited, deadline])
    clearTimeout(timer)
    return exit?.signal === 'SIGKILL'
  }

  const r: RelayerProcess[] = [
    env.spawnRelayer(0, { env: { [CRASH_ENV]: 'after-confirm' } }),
    env.spawnRelayer(1),
    env.spawnRelayer(2),
  ]
  await Promise.all(r.map((p) => p.metricsPort))

  await t.test('A: killed after confirming; 1 of 3 down keeps the bridge working', async (t) => {
    await deposit(parseEther('1')) // deposit 0
    t.ok(await killedBySignal(r[0]!), 'relayer 0 killed itself right after its vote was mined')
    t.match(r[0]!.lines.join('\n'), /SIDECHAIN_RELAYER_CRASH_AT=after-confirm/)
    // Its vote was mined; whether it counted depends on whether relayers 1 and 2 minted first (then the bridge
    // ignores it). Either way deposit 0 is minted exactly once (checked at the end).
    await waitFor(() => minted(0n), { what: 'deposit 0 minted', timeoutMs: 20_000 })

    await Promise.all([deposit(parseEther('2')), withdraw(parseEther('0.3'))]) // deposit 1, withdrawal 0
    // Withdrawal 0 is relayer 0's turn: relayer 1 releases it after one turn timeout.
    await waitFor(async () => (await minted(1n)) && (await released(0n)), {
      what: 'deposit 1 minted and withdrawal 0 released without relayer 0',
      timeoutMs: 20_000,
    })
  })

  await t.test('B: with 2 of 3 down nothing mints or releases', async (t) => {
    await r[2]!.kill()
    await Promise.all([deposit(parseEther('0.5')), withdraw(parseEther('0.2'))]) // deposit 2, withdrawal 1
    await waitFor(async () => (await voted(2n, 1)) && (await signatureCount(1n)) === 1, {
      what: 'relayer 1 to vote and sign',
      timeoutMs: 20_000,
    })
    const head = await env.l1.getBlockNumber()
    await waitFor(async () => (await env.l1.getBlockNumber()) >= head + 2n, {
      what: 'two more L1 blocks',
    })
    t.equal(await minted(2n), false, 'one vote does not mint')
    t.equal(await released(1n), false, 'one signature does not release')
    const ctx = await createContext(
      { network, json: true, privateKey: undefined },
      { needsKey: false },
    )
    await t.rejects(runClaim(ctx, { withdrawalId: 1n }), {
      code: 'BRIDGE_INSUFFICIENT_SIGNATURES',
      message: /has 1 of 2 relayer signatures/,
    })
  })

  await t.test(
    'C: restart, catch up, killed between signing and submitting, restart again',
    async (t) => {
      r[0] = env.spawnRelayer(0, { env: { [CRASH_ENV]: 'after-sign' } })
      t.ok(
        await killedBySignal(r[0]),
        'relayer 0 killed itself after journaling its signature of withdrawal 1',
      )
      t.match(r[0].lines.join('\n'), /SIDECHAIN_RELAYER_CRASH_AT=after-sign/)
      t.equal(await released(1n), false)
      t.equal(await signatureCount(1n), 1, 'the signature did not leave the process')

      // Same environment: the crash hook has fired once and stays quiet.
      r[0] = env.spawnRelayer(0, { env: { [CRASH_ENV]: 'after-sign' } })
      await waitFor(async () => (await minted(2n)) && (await released(1n)), {
        what: 'deposit 2 minted and withdrawal 1 released after the restart',
        timeoutMs: 20_000,
      })
      const port = await r[0].metricsPort
      await waitFor(
        async () =>
          (await scrapeMetric(port, 'bridge_relayer_pending_deposits')) === 0 &&
          (await scrapeMetric(port, 'bridge_relayer_pending_withdrawals')) === 0,
        { what: 'relayer 0 to have nothing pending' },
      )
      t.equal(
        await voted(1n, 0),
        false,
        'relayer 0 did not vote on deposit 1, minted while it was down',
      )
    },
  )

  await t.test(
    'D: killed before releasing; the next relayer releases after the turn timeout',
    async (t) => {
      r[2] = env.spawnRelayer(2, { env: { [CRASH_ENV]: 'before-release' } })
      await r[2].metricsPort
      await withdraw(parseEther('0.25')) // withdrawal 2: relayer 2's turn
      t.ok(await killedBySignal(r[2]), 'relayer 2 killed itself before sending its release')
      await waitFor(() => released(2n), {
        what: 'withdrawal 2 released by relayer 0',
        timeoutMs: 20_000,
      })
      r[2] = env.spawnRelayer(2)
      const port = await r[2].metricsPort
      await waitFor(
        async () =>
          (await scrapeMetric(port, 'bridge_relayer_pending_deposits')) === 0 &&
          (await scrapeMetric(port, 'bridge_relayer_pending_withdrawals')) === 0,
        { what: 'relayer 2 to catch up' },
      )
      t.equal(
        await scrapeMetric(port, 'bridge_relayer_releases_total'),
        0,
        'the restarted relayer released nothing',
      )
    },
  )

  await t.test('no loss, nothing twice, balances exact', async (t) => {
    const [mints, releases, conflicts] = await Promise.all([
      env.sidechain.getContractEvents({
        address: env.bridge,
        abi: sidechainBridgeAbi,
        eventName: 'DepositMinted',
        fromBlock: 0n,
      }),
      env.l1.getContractEvents({
        address: env.vault,
        abi: bridgeVaultAbi,
        eventName: 'Released',
        fromBlock: 0n,
      }),
      env.sidechain.getContractEvents({
        address: env.bridge,
        abi: sidechainBridgeAbi,
        eventName: 'DepositConflict',
        fromBlock: 0n,
      }),
    ])
    t.same(
      mints.map((m) => m.args.depositId),
      [0n, 1n, 2n],
    )
    t.same(releases.map((x) => x.args.withdrawalId).sort(), [0n, 1n, 2n])
    t.equal(conflicts.length, 0)
    let gas = 0n
    for (const hash of depositTxs) {
      const receipt = await env.l1.getTransactionReceipt({ hash })
      gas += receipt.gasUsed * receipt.effectiveGasPrice
    }
    t.equal(
      await env.l1.getBalance({ address: alice.address }),
      aliceL1Start - deposited - gas + withdrawn,
    )
    t.equal(await env.l1.getBalance({ address: env.vault }), deposited - withdrawn)
    t.equal(
      await env.sidechain.readContract({
        address: wrapped,
        abi: erc20Abi,
        functionName: 'balanceOf',
        args: [alice.address],
      }),
      deposited - withdrawn,
    )
    const report = await auditBridge({
      l1: env.l1,
      sidechain: env.sidechain,
      vault: env.vault,
      bridge: env.bridge,
    })
    t.equal(report.ok, true)
    t.equal(report.hasSurplus, false)
  })
})
