/**
 * Issue #20 case 13: the deploy path for a real L1 does not deploy or allow-list the TestToken (anyone can mint
 * it, so in a real vault it would let anyone bridge unbacked tokens). Only anvil, a development chain id, or the
 * explicit `--test-token` flag get it. Against a real anvil playing a non-development L1 (chain id 5).
 */
import t from 'tap'
import { zeroAddress } from 'viem'
import { bridgeVaultAbi } from '../../bridge/deploy/index.ts'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import { chainClients, deployL1, wantsTestToken } from '../../chain/devnet/contracts.ts'
import { startAnvil } from '../../chain/lib/foundry.ts'

t.test('who gets the anyone-can-mint test token', async (t) => {
  t.notOk(wantsTestToken({ anvil: false, l1ChainId: 1 }), 'not on mainnet')
  t.notOk(
    wantsTestToken({ anvil: false, l1ChainId: 11155111 }),
    'not on a public testnet by default',
  )
  t.ok(wantsTestToken({ anvil: false, l1ChainId: 11155111, testToken: true }), 'unless asked for')
  t.ok(wantsTestToken({ anvil: true, l1ChainId: 5 }), 'on anvil')
  t.ok(wantsTestToken({ anvil: false, l1ChainId: 1337 }), 'on geth --dev')
})

t.test('the real-L1 deploy path deploys only the vault, with ETH alone allow-listed', async (t) => {
  const anvil = await startAnvil({ chainId: 5 })
  t.teardown(() => anvil.stop())
  const l1 = chainClients(anvil.url, 5, 'L1')
  const relayers = DEV_ACCOUNTS.slice(7, 10).map((a) => a.address)
  const deployment = await deployL1(l1, {
    relayers,
    threshold: 2,
    blockTimeS: 1,
    anvil: false,
    testToken: wantsTestToken({ anvil: false, l1ChainId: 5 }),
  })
  t.equal(deployment.token, undefined, 'no test token')
  t.equal(deployment.tokenSymbol, undefined)
  t.equal(
    await l1.public.getTransactionCount({ address: l1.wallet.account.address }),
    1,
    'one transaction: the vault',
  )
  const eth = await l1.public.readContract({
    address: deployment.vault,
    abi: bridgeVaultAbi,
    functionName: 'tokenConfig',
    args: [zeroAddress],
  })
  t.equal(eth.depositsEnabled, true, 'ETH is allow-listed')
})
