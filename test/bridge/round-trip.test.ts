/**
 * Acceptance: the user commands against anvil (a block every 0.5 s, 2 confirmations) and a real sidechain node, with three
 * relayer processes (threshold 2). ETH and an ERC-20 go to the sidechain and back, every balance exact to the wei;
 * the commands show their stages and fail clearly on bad input; `claim` releases a withdrawal whose turn owner is
 * down; `audit` passes, reports a surplus, and fails on an unbacked mint.
 */
import t from 'tap'
import {
  type Address,
  erc20Abi,
  type Hash,
  type LocalAccount,
  parseEther,
  type TransactionReceipt,
  zeroAddress,
} from 'viem'
import { runClaim } from '../../bridge/cli/claim.ts'
import { type BridgeContext, createContext } from '../../bridge/cli/context.ts'
import { runDeposit } from '../../bridge/cli/deposit.ts'
import { runStatus } from '../../bridge/cli/status.ts'
import { runWithdraw } from '../../bridge/cli/withdraw.ts'
import { auditBridge } from '../../bridge/core/audit.ts'
import {
  bridgeVaultAbi,
  deployTestToken,
  sidechainBridgeAbi,
  testTokenAbi,
} from '../../bridge/deploy/index.ts'
import { bridgeCli, writeNetworkFile } from '../support/bridge/cli.ts'
import {
  account,
  privateKeyOf,
  scrapeMetric,
  startBridgeEnv,
  waitFor,
  waitForReceipt,
} from '../support/bridge/env.ts'

t.test('bridge round trip through the user commands', async (t) => {
  const env = await startBridgeEnv({
    l1MineEveryMs: 500,
    confirmations: 2,
    releaseTurnTimeoutMs: 60_000,
  })
  t.teardown(() => env.stop())
  const relayers = [
    env.spawnRelayer(0, { overrides: { auditIntervalMs: 500 } }),
    env.spawnRelayer(1),
    env.spawnRelayer(2),
  ]
  const network = writeNetworkFile(env)
  const [alice, bob, carol] = env.users as [LocalAccount, LocalAccount, LocalAccount]
  const l1Recipient = account(4)
  const cli = (who: LocalAccount | undefined, args: string[]) => bridgeCli(network, who, args)
  const gasOf = async (hash: Hash) => {
    const r: TransactionReceipt = await env.l1.getTransactionReceipt({ hash })
    return r.gasUsed * r.effectiveGasPrice
  }
  const ethL1 = (a: Address) => env.l1.getBalance({ address: a })
  const tstL1 = (a: Address) =>
    env.l1.readContract({ address: env.token, abi: erc20Abi, functionName: 'balanceOf', args: [a] })
  const wrappedOf = (l1Token: Address) =>
    env.sidechain.readContract({
      address: env.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'wrappedTokenOf',
      args: [l1Token],
    })
  const balanceOn = (token: Address, a: Address) =>
    env.sidechain.readContract({
      address: token,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [a],
    })
  const supplyOf = (token: Address) =>
    env.sidechain.readContract({ address: token, abi: erc20Abi, functionName: 'totalSupply' })
  const ports = await Promise.all(relayers.map((r) => r.metricsPort))

  await t.test('refusals before anything is sent', async (t) => {
    // The command functions in this process (same code as the CLI, no process start-up), then the real CLI for
    // the exit codes and messages.
    const run = async (
      who: LocalAccount | undefined,
      fn: (ctx: BridgeContext) => Promise<unknown>,
    ) => {
      const ctx = await createContext(
        { network, json: true, privateKey: who === undefined ? undefined : privateKeyOf(who) },
        { needsKey: who !== undefined },
      )
      return fn(ctx).then(
        () => 'ok',
        (err: { code?: string }) => err.code,
      )
    }
    const deposit = (amount: string, token?: string) => (ctx: BridgeContext) =>
      runDeposit(ctx, { amount, token, wait: false })
    const unlisted = await deployTestToken(env.l1Wallet(env.deployer) as never, env.l1, {
      name: 'U',
      symbol: 'U',
    })
    const [inProcess, poor, noKey] = await Promise.all([
      Promise.all([
        run(alice, deposit('100000')),
        run(alice, deposit('0')),
        run(alice, deposit('1', '0x000000000000000000000000000000000000dEaD')),
        run(alice, deposit('1', unlisted.address)),
        run(alice, deposit('1', 'NOPE')),
        run(alice, deposit('lots')),
        run(alice, (ctx) => runWithdraw(ctx, { amount: '1', wait: false, claim: false })),
        run(undefined, deposit('1')).catch((err: { code?: string }) => err.code),
      ]),
      cli(alice, ['deposit', '--amount', '100000']),
      cli(undefined, ['deposit', '--amount', '1']),
    ])
    t.same(inProcess, [
      'BRIDGE_INSUFFICIENT_BALANCE',
      'BRIDGE_BELOW_MINIMUM',
      'BRIDGE_UNKNOWN_TOKEN',
      'BRIDGE_UNKNOWN_TOKEN',
      'BRIDGE_UNKNOWN_TOKEN',
      'BRIDGE_ARGUMENT_INVALID',
      'BRIDGE_UNKNOWN_TOKEN',
      'BRIDGE_KEY_INVALID',
    ])

    const pause = await env.l1Wallet(env.deployer).writeContract({
      address: env.vault,
      abi: bridgeVaultAbi,
      functionName: 'pause',
    })
    await waitForReceipt(env.l1, pause)
    t.equal(await run(alice, deposit('1')), 'BRIDGE_PAUSED')
    t.equal(poor.code, 1)
    t.match(
      poor.stderr,
      /error \[BRIDGE_INSUFFICIENT_BALANCE\]: insufficient balance: [\d.]+ ETH available, 100000 ETH needed/,
    )
    t.equal(noKey.code, 2, 'bad input exits 2')
    t.match(noKey.stderr, /error \[BRIDGE_KEY_INVALID\]: no key/)
    const unpause = await env.l1Wallet(env.deployer).writeContract({
      address: env.vault,
      abi: bridgeVaultAbi,
      functionName: 'unpause',
    })
    await waitForReceipt(env.l1, unpause)
  })

  const ethIn = parseEther('1.5')
  const tstIn = parseEther('20')
  let wrappedEth: Address = zeroAddress
  let wrappedTst: Address = zeroAddress

  await t.test(
    'deposit ETH and an ERC-20: minted after the confirmations, exact balances',
    async (t) => {
      const [aliceEth0, bobEth0, bobTst0] = await Promise.all([
        ethL1(alice.address),
        ethL1(bob.address),
        tstL1(bob.address),
      ])
      const [eth, tst] = await Promise.all([
        cli(alice, ['deposit', '--amount', '1.5']),
        cli(bob, ['deposit', '--amount', '20', '--token', 'TST', '--json']),
      ])
      t.equal(eth.code, 0, eth.stderr)
      t.equal(tst.code, 0, tst.stdout)
      // Stages as they happen, with counts and hashes (non-TTY: one line per change).
      t.match(eth.stderr, /✓ L1 deposit {2}0x[0-9a-f]{64} \(block \d+, deposit #\d\)/)
      // anvil mines every 0.5 s, so a loaded machine may poll past 1/2: the counts shown only ever rise, ending at 2/2.
      const confirmationCounts = [...eth.stderr.matchAll(/L1 confirmations (\d)\/2/g)].map((m) =>
        Number(m[1]),
      )
      t.ok(confirmationCounts.length > 0, 'L1 confirmations shown')
      t.same(
        confirmationCounts,
        [...confirmationCounts].sort((a, b) => a - b),
        'L1 confirmation counts never go down',
      )
      t.equal(confirmationCounts.at(-1), 2)
      t.match(eth.stderr, /✓ L1 confirmations 2\/2/)
      t.match(eth.stderr, /relayer confirmations [012]\/2/)
      t.match(eth.stderr, /✓ relayer confirmations 2\/2/)
      t.match(eth.stderr, /✓ minted on the sidechain {2}0x[0-9a-f]{64}/)
      t.match(eth.stdout, /deposit #\d: 1.5 ETH to 0x\w+ minted/)
      const r = tst.json as {
        status: string
        l1Tx: Hash
        approveTx: Hash
        amount: string
        deposit: { minted: boolean }
      }
      t.equal(r.status, 'minted')
      t.equal(r.amount, tstIn.toString())
      const ethTx = /L1 tx (0x[0-9a-f]{64})/.exec(eth.stdout)![1] as Hash

      wrappedEth = await wrappedOf(zeroAddress)
      wrappedTst = await wrappedOf(env.token)
      t.equal(await balanceOn(wrappedEth, alice.address), ethIn)
      t.equal(await balanceOn(wrappedTst, bob.address), tstIn)
      t.equal(await supplyOf(wrappedEth), ethIn)
      t.equal(await supplyOf(wrappedTst), tstIn)
      t.equal(await ethL1(env.vault), ethIn)
      t.equal(await tstL1(env.vault), tstIn)
      t.equal(await ethL1(alice.address), aliceEth0 - ethIn - (await gasOf(ethTx)))
      t.equal(await tstL1(bob.address), bobTst0 - tstIn)
      t.equal(
        await ethL1(bob.address),
        bobEth0 - (await gasOf(r.approveTx)) - (await gasOf(r.l1Tx)),
      )
    },
  )

  await t.test('withdraw both: released on L1, exact balances', async (t) => {
    const [aliceEth0, recipientTst0] = await Promise.all([
      ethL1(alice.address),
      tstL1(l1Recipient.address),
    ])
    const overLimitCtx = await createContext(
      { network, json: true, privateKey: privateKeyOf(bob) },
      { needsKey: true },
    )
    const [eth, tst, overLimit] = await Promise.all([
      cli(alice, ['withdraw', '--amount', '0.4']),
      cli(bob, [
        'withdraw',
        '--amount',
        '7',
        '--token',
        'TST',
        '--to',
        l1Recipient.address,
        '--json',
      ]),
      runWithdraw(overLimitCtx, { amount: '2000', token: 'TST', wait: false, claim: false }).catch(
        (e: unknown) => e,
      ),
    ])
    t.equal(eth.code, 0, eth.stderr)
    t.equal(tst.code, 0, tst.stdout)
    t.match(eth.stderr, /✓ sidechain withdrawal {2}0x[0-9a-f]{64} \(withdrawal #\d\)/)
    t.match(eth.stderr, /relayer signatures [01]\/2/)
    t.match(eth.stderr, /✓ relayer signatures 2\/2/)
    t.match(eth.stderr, /✓ released on L1 {2}0x[0-9a-f]{64}/)
    t.match(tst.json, { status: 'released', withdrawal: { released: true } })
    t.match(overLimit, { code: 'BRIDGE_OVER_LIMIT', message: /per-withdrawal limit of 1000 TST/ })

    // The relayer pays the release: the recipients get exactly the amount.
    t.equal(await ethL1(alice.address), aliceEth0 + parseEther('0.4'))
    t.equal(await tstL1(l1Recipient.address), recipientTst0 + parseEther('7'))
    t.equal(await balanceOn(wrappedEth, alice.address), parseEther('1.1'))
    t.equal(await balanceOn(wrappedTst, bob.address), parseEther('13'))
    t.equal(await supplyOf(wrappedEth), parseEther('1.1'))
    t.equal(await supplyOf(wrappedTst), parseEther('13'))
    t.equal(await ethL1(env.vault), parseEther('1.1'))
    t.equal(await tstL1(env.vault), parseEther('13'))
  })

  await t.test('status by transaction hash and by id', async (t) => {
    const ctx = await createContext({ network, json: true }, { needsKey: false })
    const byId = await runStatus(ctx, { target: 'withdrawal:1', wait: false })
    t.match(byId, { items: [{ kind: 'withdrawal', withdrawalId: 1n, stage: 'released' }] })
    const sidechainTx = (byId.items[0] as { sidechainTx: Hash }).sidechainTx
    await t.rejects(runStatus(ctx, { target: 'deposit:42', wait: false }), {
      code: 'BRIDGE_NOT_FOUND',
    })
    t.match(await runStatus(ctx, { target: sidechainTx, wait: false }), {
      items: [{ kind: 'withdrawal', withdrawalId: 1n, stage: 'released' }],
    })
    const both = await cli(undefined, ['status', '0'])
    t.equal(both.code, 0)
    t.match(both.stdout, /deposit #0: minted/)
    t.match(both.stdout, /withdrawal #0: released/)
    t.match(both.stderr, /✓ released on L1 {2}0x[0-9a-f]{64}/)
  })

  await t.test('claim: release it yourself while the turn owner is down', async (t) => {
    await relayers[2]!.stop() // withdrawal 2 is relayer 2's turn; the others wait 60 s before stepping in
    const aliceEth0 = await ethL1(alice.address)
    const aliceCtx = await createContext(
      { network, json: true, privateKey: privateKeyOf(alice) },
      { needsKey: true },
    )
    t.match(await runWithdraw(aliceCtx, { amount: '0.1', wait: false, claim: false }), {
      status: 'sent',
      withdrawalId: 2n,
    })
    await waitFor(
      async () => {
        const [signers] = await env.sidechain.readContract({
          address: env.bridge,
          abi: sidechainBridgeAbi,
          functionName: 'getSignatures',
          args: [2n],
        })
        return signers.length >= 2
      },
      { what: 'two signatures', timeoutMs: 20_000 },
    )
    t.equal(await env.isReleased(2n), false)
    const claim = await cli(carol, ['claim', '2'])
    t.equal(claim.code, 0, claim.stderr)
    t.match(claim.stdout, /withdrawal #2 released in L1 tx 0x[0-9a-f]{64}/)
    t.equal(
      await ethL1(alice.address),
      aliceEth0 + parseEther('0.1'),
      'the recipient gets it, the claimer pays gas',
    )
    t.match(await runClaim(aliceCtx, { withdrawalId: 2n }), { status: 'already-released' })

    // The turn owner comes back, sees it released, and does nothing twice.
    relayers[2] = env.spawnRelayer(2)
    ports[2] = await relayers[2].metricsPort
    await waitFor(
      async () => (await scrapeMetric(ports[2]!, 'bridge_relayer_pending_withdrawals')) === 0,
      {
        what: 'relayer 2 to catch up',
      },
    )
    const releases = await env.l1.getContractEvents({
      address: env.vault,
      abi: bridgeVaultAbi,
      eventName: 'Released',
      fromBlock: env.vaultBlock,
    })
    t.same(
      releases.map((r) => r.args.withdrawalId).sort(),
      [0n, 1n, 2n],
      'each withdrawal released exactly once',
    )
  })

  await t.test('audit: passes, reports a surplus, fails on an unbacked mint', async (t) => {
    const clean = await cli(undefined, ['audit'])
    t.equal(clean.code, 0, clean.stdout + clean.stderr)
    t.match(
      clean.stdout,
      /OK {7}ETH \(0x0{40}\): locked 1000000000000000000, wrapped supply 1000000000000000000/,
    )
    t.match(clean.stdout, /audit passed/)

    // Tokens sent to the vault without a deposit: more locked than owed. Reported; a failure only with --strict.
    await waitForReceipt(
      env.l1,
      await env.l1Wallet(bob).writeContract({
        address: env.token,
        abi: testTokenAbi,
        functionName: 'transfer',
        args: [env.vault, parseEther('5')],
      }),
    )
    const ctx = await createContext({ network, json: true }, { needsKey: false })
    const surplus = await auditBridge({
      l1: ctx.l1,
      sidechain: ctx.sidechain,
      vault: ctx.vault,
      bridge: ctx.bridge,
    })
    t.match(surplus, { ok: true, hasSurplus: true })
    t.match(
      surplus.tokens.find((x) => x.l1Token === env.token),
      { status: 'surplus', surplus: parseEther('5') },
    )
    const strict = await cli(undefined, ['audit', '--strict'])
    t.equal(strict.code, 1)
    t.match(strict.stdout, /SURPLUS {2}TST/)
    t.match(strict.stderr, /BRIDGE_AUDIT_MISMATCH/)

    // Two relayer keys (a compromised quorum) confirm a deposit that never happened on L1: wrapped ETH without
    // backing. This is the failure the audit exists for.
    for (const r of [env.relayers[1]!, env.relayers[2]!]) {
      await waitForReceipt(
        env.sidechain,
        await env.sidechainWallet(r).writeContract({
          address: env.bridge,
          abi: sidechainBridgeAbi,
          functionName: 'confirmDeposit',
          args: [1_000_000n, zeroAddress, carol.address, parseEther('1')],
          gas: 2_000_000n,
        }),
      )
    }
    t.equal(await supplyOf(wrappedEth), parseEther('2'))
    const bad = await cli(undefined, ['audit'])
    t.equal(bad.code, 1)
    t.match(bad.stdout, /DEFICIT {2}ETH/)
    t.match(
      bad.stdout,
      /deposit 1000000 minted 1000000000000000000 to 0x\w+ on the sidechain, but no such deposit exists on L1/,
    )
    t.match(bad.stderr, /error \[BRIDGE_AUDIT_MISMATCH\]/)
    // The relayer exports the same invariant as a metric.
    await waitFor(
      async () =>
        (await scrapeMetric(ports[0]!, 'bridge_supply_backed', { token: zeroAddress })) === 0,
      { what: 'the supply metric to flag ETH', timeoutMs: 10_000 },
    )
  })

  await t.test('relayer metrics and probes', async (t) => {
    const port = ports[0]!
    t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200)
    const ready = await fetch(`http://127.0.0.1:${port}/ready`)
    t.equal(ready.status, 200)
    t.match(await ready.json(), { status: 'ok', pendingDeposits: 0, pendingWithdrawals: 0 })
    t.ok(
      (await scrapeMetric(port, 'bridge_relayer_last_scanned_block', { chain: 'l1' }))! >
        Number(env.vaultBlock),
    )
    t.ok(
      (await scrapeMetric(port, 'bridge_relayer_last_scanned_block', { chain: 'sidechain' }))! > 0,
    )
    t.ok((await scrapeMetric(port, 'bridge_relayer_signatures_submitted_total'))! >= 3)
    t.ok((await scrapeMetric(port, 'bridge_relayer_deposits_confirmed_total'))! >= 1)
    t.ok((await scrapeMetric(port, 'bridge_relayer_gas_spent_wei', { chain: 'l1' })) !== undefined)
  })
})
