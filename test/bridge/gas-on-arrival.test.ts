/**
 * Acceptance of gas on arrival through the real CLI: a fresh key funded only on L1 deposits ETH, gets its wrapped
 * ETH and a gas drop with the mint, and withdraws back to L1 with nothing else (before the drop, `withdraw`
 * refused it with BRIDGE_INSUFFICIENT_BALANCE). Its second deposit drops nothing; a deposit after the reserve ran
 * dry still mints, and the relayers' metrics count the drop and the refusal.
 */
import t from 'tap'
import { erc20Abi, formatEther, type Hex, parseEther, zeroAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { configureGasDrop, sidechainBridgeAbi } from '../../bridge/deploy/index.ts'
import { runCli, writeNetworkFile } from '../support/bridge/cli.ts'
import { scrapeMetric, startBridgeEnv, waitFor, waitForReceipt } from '../support/bridge/env.ts'

const DROP = parseEther('0.01')

// Four transfers through the real CLI: generous bounds, the machine may be shared.
t.setTimeout(600_000)
t.test('a key funded only on L1 bridges in, gets gas, and bridges out', async (t) => {
  const env = await startBridgeEnv({ l1MineEveryMs: 500, confirmations: 2 })
  t.teardown(() => env.stop())
  // The reserve pays exactly one drop: the second fresh key finds it empty.
  await configureGasDrop(env.sidechainWallet(env.deployer) as never, env.sidechain, env.bridge, {
    amount: DROP,
    balanceThreshold: parseEther('0.005'),
    windowCap: parseEther('1'),
    fund: DROP,
  })
  const relayers = [
    env.spawnRelayer(0, { overrides: { auditIntervalMs: 300 } }),
    env.spawnRelayer(1),
    env.spawnRelayer(2),
  ]
  const metricsPort = await relayers[0]!.metricsPort
  const network = writeNetworkFile(env)
  const cli = (key: Hex, args: string[]) =>
    runCli(['bridge', ...args, '--network', network, '--json'], {
      env: { SIDECHAIN_PRIVATE_KEY: key },
      timeoutMs: 240_000,
    })
  const freshKey = async () => {
    const key = generatePrivateKey()
    const address = privateKeyToAccount(key).address
    await env.l1Test.setBalance({ address, value: parseEther('2') })
    return { key, address }
  }
  const native = (address: Hex) => env.sidechain.getBalance({ address })
  const wrappedEth = async (address: Hex) => {
    const token = await env.sidechain.readContract({
      address: env.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'wrappedTokenOf',
      args: [zeroAddress],
    })
    return env.sidechain.readContract({
      address: token,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [address],
    })
  }

  const user = await freshKey()
  t.equal(await native(user.address), 0n, 'the key has no sidechain coin')

  await t.test('deposit mints the wrapped ETH and drops gas', async (t) => {
    const r = await cli(user.key, ['deposit', '--amount', '1'])
    t.equal(r.code, 0, `${r.stdout}${r.stderr}`)
    const deposit = r.json?.deposit as { gasDrop?: { dropped?: string } } | undefined
    t.same(deposit?.gasDrop, { dropped: DROP.toString() }, 'the status reports the drop')
    t.equal(await native(user.address), DROP)
    t.equal(await wrappedEth(user.address), parseEther('1'))
  })

  await t.test('withdraw with nothing but the drop, released on L1', async (t) => {
    const before = await env.l1.getBalance({ address: user.address })
    const r = await cli(user.key, ['withdraw', '--amount', '0.5'])
    t.equal(r.code, 0, `${r.stdout}${r.stderr}`)
    t.equal(r.json?.status, 'released')
    t.equal((await env.l1.getBalance({ address: user.address })) - before, parseEther('0.5'))
    const left = await native(user.address)
    t.ok(left > 0n && left < DROP, `the withdrawal cost ${formatEther(DROP - left)} of the drop`)
  })

  await t.test('a second deposit to the same address drops nothing', async (t) => {
    // Spend the coin down below the threshold: the drop is once per address, not per empty wallet.
    const wallet = env.sidechainWallet(privateKeyToAccount(user.key) as never)
    const left = await native(user.address)
    await waitForReceipt(
      env.sidechain,
      await wallet.sendTransaction({
        to: env.deployer.address,
        value: left - parseEther('0.001'),
      }),
    )
    const r = await cli(user.key, ['deposit', '--amount', '0.1'])
    t.equal(r.code, 0, `${r.stdout}${r.stderr}`)
    const deposit = r.json?.deposit as { minted?: boolean; gasDrop?: unknown } | undefined
    t.equal(deposit?.minted, true)
    t.equal(deposit?.gasDrop, undefined, 'no drop, no refusal')
    t.ok((await native(user.address)) < parseEther('0.001'))
    t.equal(await wrappedEth(user.address), parseEther('0.6'))
  })

  await t.test('an empty reserve still mints and counts the refusal', async (t) => {
    const other = await freshKey()
    const r = await cli(other.key, ['deposit', '--amount', '0.2'])
    t.equal(r.code, 0, `${r.stdout}${r.stderr}`)
    t.match(
      r.json?.warnings,
      [/gets no gas with this mint: the bridge's gas reserve is empty/],
      'warned before sending',
    )
    const deposit = r.json?.deposit as { gasDrop?: unknown } | undefined
    t.same(deposit?.gasDrop, { refused: 'reserve-empty' })
    t.equal(await wrappedEth(other.address), parseEther('0.2'), 'minted')
    t.equal(await native(other.address), 0n)
    await waitFor(
      async () =>
        (await scrapeMetric(metricsPort, 'bridge_gas_drop_refusals', {
          reason: 'reserve-empty',
        })) === 1,
      { timeoutMs: 10_000, what: 'the refusal in the relayer metrics' },
    )
    t.equal(await scrapeMetric(metricsPort, 'bridge_gas_drops'), 1)
    t.equal(await scrapeMetric(metricsPort, 'bridge_gas_reserve_wei'), 0)
  })
})
