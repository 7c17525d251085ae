/**
 * Issue #20 case 5 with real relayer processes (`sidechain relayer --config`, threshold 2 of 3) on anvil and a
 * real sidechain node: a dust withdrawal to a recipient whose `receive` burns all the gas it gets and reverts.
 * The release costs the relayer at most its configured gas cap (the vault pays ETH with a fixed stipend and
 * credits a failed transfer), `bridge status` shows the credit, and `bridge claim` pays it out once the recipient
 * accepts ETH again.
 */
import t from 'tap'
import { type Address, erc20Abi, parseEther, parseEventLogs, zeroAddress } from 'viem'
import {
  bridgeVaultAbi,
  gasBurnerAbi,
  gasBurnerBytecode,
  sidechainBridgeAbi,
} from '../../bridge/deploy/index.ts'
import type { RelayerConfigInput } from '../../bridge/relayer/config.ts'
import { bridgeCli, writeNetworkFile } from '../support/bridge/cli.ts'
import { startBridgeEnv, waitFor, waitForReceipt } from '../support/bridge/env.ts'

const RELEASE_GAS_CAP = 250_000

t.test('dust to a gas burner costs the relayers at most the capped gas', async (t) => {
  const env = await startBridgeEnv({ l1MineEveryMs: 200, confirmations: 2, pollMs: 100 })
  t.teardown(() => env.stop())
  const overrides = { l1: { releaseGasCap: RELEASE_GAS_CAP } } as Partial<RelayerConfigInput>
  const relayers = [0, 1].map((i) => env.spawnRelayer(i, { overrides }))
  t.teardown(() => Promise.all(relayers.map((r) => r.stop())))
  const network = writeNetworkFile(env)
  const [alice, bob] = env.users as [(typeof env.users)[0], (typeof env.users)[0]]

  // The attacker's recipient on L1.
  const deployer = env.l1Wallet(env.deployer)
  const deployHash = await deployer.deployContract({
    abi: gasBurnerAbi,
    bytecode: gasBurnerBytecode,
  })
  const burner = (await waitForReceipt(env.l1, deployHash)).contractAddress as Address

  // Alice bridges 1 ETH in, then withdraws 1 wei of it to the burner.
  await waitForReceipt(
    env.l1,
    await env.l1Wallet(alice).writeContract({
      address: env.vault,
      abi: bridgeVaultAbi,
      functionName: 'depositETH',
      args: [alice.address],
      value: parseEther('1'),
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
      if (token === zeroAddress) return undefined
      const balance = await env.sidechain.readContract({
        address: token,
        abi: erc20Abi,
        functionName: 'balanceOf',
        args: [alice.address],
      })
      return balance > 0n ? token : undefined
    },
    { what: 'the deposit to be minted', timeoutMs: 60_000 },
  )
  const withdrawHash = await env.sidechainWallet(alice).writeContract({
    address: env.bridge,
    abi: sidechainBridgeAbi,
    functionName: 'withdraw',
    args: [wrapped, 1n, burner],
  })
  const withdrawal = parseEventLogs({
    abi: sidechainBridgeAbi,
    eventName: 'WithdrawalInitiated',
    logs: (await waitForReceipt(env.sidechain, withdrawHash)).logs,
  })[0]!
  const id = withdrawal.args.withdrawalId
  await waitFor(() => env.isReleased(id), { what: 'the dust release', timeoutMs: 60_000 })

  const released = await env.l1.getContractEvents({
    address: env.vault,
    abi: bridgeVaultAbi,
    eventName: 'Released',
    args: { withdrawalId: id },
    fromBlock: env.vaultBlock,
  })
  const receipt = await env.l1.getTransactionReceipt({ hash: released[0]!.transactionHash })
  t.ok(
    receipt.gasUsed <= BigInt(RELEASE_GAS_CAP),
    `the release used ${receipt.gasUsed} gas, within the relayers' cap of ${RELEASE_GAS_CAP}`,
  )
  t.ok(
    env.relayers.some((r) => r.address.toLowerCase() === receipt.from.toLowerCase()),
    'a relayer paid for it',
  )
  t.equal(
    parseEventLogs({ abi: bridgeVaultAbi, eventName: 'ReleaseDeferred', logs: receipt.logs })
      .length,
    1,
    'the transfer to the burner failed and was deferred',
  )

  const status = await bridgeCli(network, undefined, ['status', `withdrawal:${id}`, '--json'])
  t.equal(status.code, 0, status.stderr)
  t.match(
    status.json,
    { items: [{ released: true, deferred: true, claimable: '1' }] },
    '`bridge status` shows the credit',
  )

  // The recipient accepts ETH again; anyone pays the credit out with `bridge claim` (claimFor).
  await waitForReceipt(
    env.l1,
    await deployer.writeContract({
      address: burner,
      abi: gasBurnerAbi,
      functionName: 'setBurning',
      args: [false],
    }),
  )
  const claim = await bridgeCli(network, bob, ['claim', String(id), '--json'])
  t.equal(claim.code, 0, claim.stderr)
  t.match(claim.json, { status: 'paid-out' })
  t.equal(await env.l1.getBalance({ address: burner }), 1n, 'the recipient got its funds')
  t.equal(
    await env.l1.readContract({
      address: env.vault,
      abi: bridgeVaultAbi,
      functionName: 'claimable',
      args: [zeroAddress, burner],
    }),
    0n,
    'nothing is owed any more',
  )
})
