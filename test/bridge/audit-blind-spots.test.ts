/**
 * Issue #20 case 9 on real anvils (one plays L1, one the sidechain): the audit sees every token that appears on
 * either side, counts releases without a burn, keys releases by source chain and bridge, and does not count
 * deposits an earlier bridge instance served (below `firstDepositId`) as pending.
 */
import t from 'tap'
import { createWalletClient, http, type LocalAccount, parseEther, zeroAddress } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { auditBridge } from '../../bridge/core/audit.ts'
import { chainFor, makePublicClient } from '../../bridge/core/clients.ts'
import {
  bridgeVaultAbi,
  deploySidechainBridge,
  deployTestToken,
  deployVault,
  signWithdrawal,
  testTokenAbi,
  type WithdrawalMessage,
} from '../../bridge/deploy/index.ts'
import { DEV_MNEMONIC } from '../../chain/devnet/accounts.ts'
import { startAnvil } from '../../chain/lib/foundry.ts'

const L1_CHAIN_ID = 31337
const SIDECHAIN_CHAIN_ID = 31338
const account = (i: number) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i })

t.test(
  'the audit has no blind spots for foreign tokens, other chains and earlier bridges',
  async (t) => {
    const [l1Node, sidechainNode] = await Promise.all([
      startAnvil({ chainId: L1_CHAIN_ID, mnemonic: DEV_MNEMONIC }),
      startAnvil({ chainId: SIDECHAIN_CHAIN_ID, mnemonic: DEV_MNEMONIC }),
    ])
    t.teardown(() => Promise.all([l1Node.stop(), sidechainNode.stop()]))
    const l1 = makePublicClient({ url: l1Node.url, chainId: L1_CHAIN_ID, pollingIntervalMs: 20 })
    const sidechain = makePublicClient({
      url: sidechainNode.url,
      chainId: SIDECHAIN_CHAIN_ID,
      pollingIntervalMs: 20,
    })
    const wallet = (url: string, chainId: number, a: LocalAccount) =>
      createWalletClient({ chain: chainFor(chainId, url), transport: http(url), account: a })
    const [deployer, user, signer] = [account(0), account(1), account(7)]
    const l1Wallet = wallet(l1Node.url, L1_CHAIN_ID, deployer)
    const mined = async (hash: `0x${string}`) => {
      const r = await l1.waitForTransactionReceipt({ hash })
      t.equal(r.status, 'success')
    }

    const other = await deployTestToken(l1Wallet, l1, { name: 'Other', symbol: 'OTH' })
    const limits = { depositsEnabled: true, maxPerTransaction: 10n ** 30n, windowLimit: 10n ** 30n }
    const vault = (
      await deployVault(l1Wallet, l1, {
        owner: deployer.address,
        guardian: deployer.address,
        signers: [signer.address],
        threshold: 1,
        tokens: [
          { token: zeroAddress, ...limits },
          { token: other.address, ...limits },
        ],
      })
    ).address
    // Deposit 0 belongs to an earlier bridge: the bridge below starts at deposit 1.
    await mined(
      await wallet(l1Node.url, L1_CHAIN_ID, user).writeContract({
        address: vault,
        abi: bridgeVaultAbi,
        functionName: 'depositETH',
        args: [user.address],
        value: parseEther('0.1'),
      }),
    )
    const bridge = (
      await deploySidechainBridge(
        wallet(sidechainNode.url, SIDECHAIN_CHAIN_ID, deployer),
        sidechain,
        {
          owner: deployer.address,
          guardian: deployer.address,
          relayers: [signer.address],
          threshold: 1,
          l1ChainId: L1_CHAIN_ID,
          l1Vault: vault,
          firstDepositId: 1n,
        },
      )
    ).address

    // OTH sent to the vault outside any deposit, then released by the signer for a withdrawal never burned.
    await mined(
      await l1Wallet.writeContract({
        address: other.address,
        abi: testTokenAbi,
        functionName: 'mint',
        args: [vault, 100n],
      }),
    )
    const release = async (w: WithdrawalMessage) => {
      const signature = await signWithdrawal(
        signer,
        { chainId: L1_CHAIN_ID, verifyingContract: vault },
        w,
      )
      await mined(
        await l1Wallet.writeContract({
          address: vault,
          abi: bridgeVaultAbi,
          functionName: 'release',
          args: [w, [signature]],
        }),
      )
    }
    const forged: WithdrawalMessage = {
      sourceChainId: BigInt(SIDECHAIN_CHAIN_ID),
      sourceBridge: bridge,
      withdrawalId: 777n,
      token: other.address,
      recipient: user.address,
      amount: 100n,
      epoch: 0n,
    }
    await release(forged)
    // A release of the same bridge address on another chain (id 5 of that chain) is not ours.
    await release({
      ...forged,
      sourceChainId: 999n,
      withdrawalId: 5n,
      token: zeroAddress,
      amount: parseEther('0.01'),
    })

    const report = await auditBridge({ l1, sidechain, vault, bridge, l1FromBlock: 0n })
    const row = (token: string) => report.tokens.find((r) => r.l1Token === token)
    t.equal(report.ok, false, 'the audit fails')
    t.match(
      row(other.address),
      { releasesWithoutBurn: 1, status: 'mismatch', problems: [/withdrawal 777 released/] },
      'a token seen only in a Released log is audited, and the release without a burn counted',
    )
    t.match(
      row(zeroAddress),
      { pendingMints: 0n, releasesWithoutBurn: 0, mintsWithoutDeposit: 0 },
      "ETH: the earlier bridge's deposit is not pending here, and the other chain's release is not ours",
    )
  },
)
