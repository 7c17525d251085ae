/**
 * Acceptance: what relayers must never mint (security invariant 6), against anvil (automine, blocks mined by the
 * test) and a real sidechain node, with two in-process relayers (threshold 2, confirmations 3):
 * - a deposit dropped by an L1 reorg before it had its confirmations;
 * - a look-alike `Deposited` log from another contract (a second vault);
 * - a transaction that deposits and then reverts (no log survives; the receipt check itself is unit-tested in
 *   bridge/core/deposits.test.ts and bridge/relayer/deposit-pipeline.test.ts).
 */
import t from 'tap'
import { type Address, erc20Abi, type Hash, parseEther, zeroAddress, zeroHash } from 'viem'
import { bridgeVaultAbi, deployVault, sidechainBridgeAbi } from '../../bridge/deploy/index.ts'
import type { Relayer } from '../../bridge/relayer/relayer.ts'
import { startBridgeEnv, waitFor, waitForReceipt } from '../support/bridge/env.ts'
import { compileSolidity } from '../support/solc.ts'

const REVERTER = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
interface IVault { function depositETH(address to) external payable returns (uint256); }
contract DepositThenRevert {
    function go(address vault) external payable {
        IVault(vault).depositETH{value: msg.value}(msg.sender);
        revert("changed my mind");
    }
}
`

t.test('relayers never mint what L1 did not finally and genuinely lock', async (t) => {
  const env = await startBridgeEnv({ confirmations: 3, pollMs: 100 })
  t.teardown(() => env.stop())
  const relayers: Relayer[] = [await env.startRelayer(0), await env.startRelayer(1)]
  const alice = env.users[0]!
  const l1 = env.l1Wallet(alice)
  const mintedPayload = (id: bigint) =>
    env.sidechain.readContract({
      address: env.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'mintedPayload',
      args: [id],
    })
  const wrappedSupply = async () => {
    const token = await env.sidechain.readContract({
      address: env.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'wrappedTokenOf',
      args: [zeroAddress],
    })
    return token === zeroAddress
      ? 0n
      : env.sidechain.readContract({ address: token, abi: erc20Abi, functionName: 'totalSupply' })
  }
  const depositEth = async (vault: Address, amount: bigint): Promise<Hash> => {
    const hash = await l1.writeContract({
      address: vault,
      abi: bridgeVaultAbi,
      functionName: 'depositETH',
      args: [alice.address],
      value: amount,
    })
    await waitForReceipt(env.l1, hash)
    return hash
  }
  /** Mines `n` blocks and waits until both relayers scanned everything that has the confirmations. */
  const mineAndScan = async (n: number) => {
    await env.mine(n)
    const safe = (await env.l1.getBlockNumber()) - 2n
    await waitFor(
      () => relayers.every((r) => r.caughtUpSince(Date.now() - 50) && lastScanned(r) >= safe),
      {
        what: 'relayers to scan',
      },
    )
  }
  const lastScanned = (r: Relayer) => r.l1ScannedThrough ?? -1n

  await t.test(
    'a deposit dropped by a reorg before its confirmations is never minted',
    async (t) => {
      await depositEth(env.vault, parseEther('1')) // block b: 1 confirmation
      await env.mine(1) // 2 confirmations, one short of 3
      // Give the relayers every chance to act wrongly: fresh ticks, then two sidechain blocks for a vote to land.
      const since = Date.now()
      await waitFor(() => relayers.every((r) => r.caughtUpSince(since)), {
        what: 'fresh relayer ticks',
      })
      const scHead = await env.sidechain.getBlockNumber()
      await waitFor(async () => (await env.sidechain.getBlockNumber()) >= scHead + 2n, {
        what: 'two sidechain blocks',
      })
      for (const r of env.relayers) {
        const vote = await env.sidechain.readContract({
          address: env.bridge,
          abi: sidechainBridgeAbi,
          functionName: 'voteOf',
          args: [0n, r.address],
        })
        t.equal(vote, zeroHash, 'no vote before the confirmations')
      }
      await env.l1Test.request({ method: 'anvil_reorg', params: [2, []] } as never)
      t.equal(
        await env.l1.readContract({
          address: env.vault,
          abi: bridgeVaultAbi,
          functionName: 'depositCount',
        }),
        0n,
        'the deposit is gone from L1',
      )
      await mineAndScan(5)
      t.equal(await mintedPayload(0n), zeroHash)
      t.equal(relayers[0]!.pendingDeposits, 0)
      t.equal(relayers[1]!.pendingDeposits, 0)

      // The id is free again: the next genuine deposit takes it and is minted with its own payload.
      await depositEth(env.vault, parseEther('0.7'))
      await mineAndScan(3)
      await waitFor(async () => (await mintedPayload(0n)) !== zeroHash, {
        what: 'the genuine deposit 0',
      })
      t.equal(await wrappedSupply(), parseEther('0.7'))
    },
  )

  await t.test('a look-alike Deposited log from another contract is never minted', async (t) => {
    const impostor = await deployVault(env.l1Wallet(env.deployer) as never, env.l1, {
      owner: env.deployer.address,
      guardian: env.deployer.address,
      signers: env.relayers.map((r) => r.address),
      threshold: 2,
      tokens: [
        { token: zeroAddress, depositsEnabled: true, maxPerTransaction: 1n, windowLimit: 1n },
      ],
    })
    // Same event signature, same id sequence (its deposit 0 and 1), from the wrong address.
    await depositEth(impostor.address, parseEther('5'))
    await depositEth(impostor.address, parseEther('6'))
    await depositEth(env.vault, parseEther('0.3')) // the real deposit 1
    await mineAndScan(3)
    await waitFor(async () => (await mintedPayload(1n)) !== zeroHash, {
      what: 'the genuine deposit 1',
    })
    t.equal(await wrappedSupply(), parseEther('1'), 'only the two genuine deposits are minted')
    t.equal(await mintedPayload(2n), zeroHash)
  })

  await t.test('a transaction that deposits and then reverts leaves nothing to mint', async (t) => {
    const { DepositThenRevert } = compileSolidity({ 'Reverter.sol': REVERTER })
    const deployHash = await env.l1Wallet(env.deployer).deployContract({
      abi: DepositThenRevert!.abi as never,
      bytecode: DepositThenRevert!.bytecode,
    })
    const reverter = (await waitForReceipt(env.l1, deployHash)).contractAddress!
    const hash = await l1.writeContract({
      address: reverter,
      abi: [
        {
          type: 'function',
          name: 'go',
          stateMutability: 'payable',
          inputs: [{ name: 'vault', type: 'address' }],
          outputs: [],
        },
      ],
      functionName: 'go',
      args: [env.vault],
      value: parseEther('9'),
      gas: 300_000n,
    })
    const receipt = await env.l1.waitForTransactionReceipt({ hash })
    t.equal(receipt.status, 'reverted')
    t.equal(receipt.logs.length, 0, 'the EVM drops the Deposited log of a reverted transaction')
    await depositEth(env.vault, parseEther('0.2')) // takes id 2: the reverted one consumed nothing
    await mineAndScan(3)
    await waitFor(async () => (await mintedPayload(2n)) !== zeroHash, {
      what: 'the genuine deposit 2',
    })
    t.equal(await wrappedSupply(), parseEther('1.2'))
    t.equal(await env.l1.getBalance({ address: env.vault }), parseEther('1.2'))
  })
})
