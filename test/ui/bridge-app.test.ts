/**
 * The bridge web app in Debian's chromium (playwright-core), phone-sized, with a test wallet injected as an
 * EIP-1193 provider, against one real devnet (anvil L1, validator and relayer processes, the app served by the
 * devnet). A fresh key funded only on L1 bridges 1 ETH in and back out in the page, an ERC-20 goes round trip
 * with its approval, limits and a paused vault are refused before anything is sent, a withdrawal the relayers
 * signed but cannot release is claimed from the page, and after a reload the history and deep links lead to the
 * right trackers. Screenshots of each step land in .test-artifacts/ui/.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import t from 'tap'
import {
  createTestClient,
  createWalletClient,
  defineChain,
  erc20Abi,
  type Hex,
  http,
  parseEther,
  publicActions,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { bridgeVaultAbi, sidechainBridgeAbi, testTokenAbi } from '../../bridge/deploy/index.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { launchChromium } from '../support/browser.ts'
import { REPO_ROOT, startTestDevnet } from '../support/devnet.ts'
import { injectWallet, TEST_WALLET_OPTION, type TestWallet } from '../support/wallet.ts'

const ARTIFACTS = path.join(REPO_ROOT, '.test-artifacts', 'ui')
mkdirSync(ARTIFACTS, { recursive: true })

const { devnet, stop } = await startTestDevnet({ validators: 1, blockTimeMs: 500 })
t.teardown(stop)
const info = devnet.info
const uiUrl = info.ui!
const chain = (id: number, name: string, url: string) =>
  defineChain({
    id,
    name,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  })
const l1Chain = chain(info.l1.chainId, 'L1', info.l1.rpcUrl)
const l2Chain = chain(info.l2.chainId, 'sidechain', info.l2.rpcUrls[0]!)
const l1 = createTestClient({ chain: l1Chain, transport: http(), mode: 'anvil' }).extend(
  publicActions,
)
const l2 = createWalletClient({ chain: l2Chain, transport: http() }).extend(publicActions)
const owner = createWalletClient({
  chain: l1Chain,
  transport: http(),
  account: privateKeyToAccount(info.accounts[0]!.privateKey),
}).extend(publicActions)
const tst = info.l1.tokens.TST!

const browser: Browser = await launchChromium()
t.teardown(() => browser.close())
// A phone-sized window: every step runs in it.
const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
const page: Page = await context.newPage()
const pageErrors: string[] = []
page.on('pageerror', (err) => pageErrors.push(err.stack ?? err.message))
let shot = 0
const screenshot = (name: string) =>
  page.screenshot({
    path: path.join(ARTIFACTS, `${String(++shot).padStart(2, '0')}-${name}.png`),
    fullPage: true,
  })

// A fresh key, funded only on L1.
const key: Hex = generatePrivateKey()
const user = privateKeyToAccount(key).address
await l1.setBalance({ address: user, value: parseEther('5') })
const wallet: TestWallet = await injectWallet(page, { privateKey: key, chains: [l1Chain, l2Chain] })

const TRANSFER_TIMEOUT_MS = 120_000
/** Follows the tracker until `final`, collecting every stage it showed. */
async function followTracker(final: string): Promise<Set<string>> {
  const seen = new Set<string>()
  await pollUntil(
    async () => {
      const stage = await page
        .locator('#tracker')
        .getAttribute('data-stage')
        .catch(() => null)
      if (stage !== null) seen.add(stage)
      return stage === final
    },
    { what: `the tracker to reach ${final}`, timeoutMs: TRANSFER_TIMEOUT_MS, intervalMs: 100 },
  )
  return seen
}
const sent = () => wallet.calls('eth_sendTransaction').length
const hashRoute = async () => new URL(page.url()).hash

t.test('connect the injected wallet (EIP-6963)', async (t) => {
  await page.goto(uiUrl)
  await page.locator(`[data-wallet="${TEST_WALLET_OPTION}"]`).click()
  await page.locator('#account').waitFor()
  t.equal(await page.locator('#account').getAttribute('data-address'), user)
  t.ok(
    (await page.locator('[data-wallet^="dev:"]').count()) === 0,
    'the picker is gone once connected',
  )
  await screenshot('connected')
})

t.test('a fresh key deposits 1 ETH and gets wrapped ETH and gas', async (t) => {
  await page.locator('#deposit-amount').fill('1')
  await page.locator('#deposit-checks').getByText('gets 0.01 with the mint').waitFor()
  await screenshot('deposit-checks')
  await page.locator('#deposit-send:not([disabled])').click()
  await page.waitForURL(/#\/deposit\/\d+$/, { timeout: 60_000 })
  await screenshot('deposit-tracking')
  const seen = await followTracker('minted')
  t.ok(seen.size >= 2, `the tracker showed the stages on the way: ${[...seen].join(' -> ')}`)
  t.match(await page.locator('[data-stage="gas"]').textContent(), /0\.01 sidechain coin sent/)
  t.equal(await page.locator('[data-stage="votes"] strong').textContent(), 'Relayer votes 2/2')
  await page.locator('#gas-balance[data-wei="10000000000000000"]').waitFor()
  t.equal(await l2.getBalance({ address: user }), parseEther('0.01'), 'gas on arrival')
  await screenshot('deposit-minted')
})

t.test('withdraws 0.5 ETH in the page and receives it on L1', async (t) => {
  await page.goto(`${uiUrl}#/withdraw`)
  await page.locator('#withdraw-amount').fill('0.5')
  await page.locator('#withdraw-send:not([disabled])').waitFor()
  await screenshot('withdraw-checks')
  const before = await l1.getBalance({ address: user })
  await page.locator('#withdraw-send').click()
  await page.waitForURL(/#\/withdrawal\/\d+$/, { timeout: 60_000 })
  const seen = await followTracker('released')
  t.ok(seen.size >= 2, `stages: ${[...seen].join(' -> ')}`)
  t.equal(
    (await l1.getBalance({ address: user })) - before,
    parseEther('0.5'),
    'released to the L1 address',
  )
  t.ok(
    wallet.calls('wallet_addEthereumChain').length >= 1,
    'the page added the sidechain to the wallet',
  )
  await screenshot('withdraw-released')
})

t.test('over-limit amounts and a paused vault are refused before anything is sent', async (t) => {
  const before = sent()
  await page.goto(`${uiUrl}#/withdraw`)
  await page.locator('#withdraw-amount').fill('5000')
  const overLimit = page.locator('#withdraw-checks [data-code="BRIDGE_OVER_LIMIT"]')
  await overLimit.waitFor()
  t.equal(await page.locator('#withdraw-send').isDisabled(), true)
  await screenshot('withdraw-over-limit')
  await page.goto(`${uiUrl}#/deposit`)
  await page.locator('#deposit-amount').fill('100')
  await page.locator('#deposit-checks [data-code="BRIDGE_INSUFFICIENT_BALANCE"]').waitFor()

  await owner.waitForTransactionReceipt({
    hash: await owner.writeContract({
      address: info.l1.vault,
      abi: bridgeVaultAbi,
      functionName: 'pause',
    }),
  })
  t.teardown(async () => {
    if (
      await l1.readContract({ address: info.l1.vault, abi: bridgeVaultAbi, functionName: 'paused' })
    ) {
      await owner.writeContract({
        address: info.l1.vault,
        abi: bridgeVaultAbi,
        functionName: 'unpause',
      })
    }
  })
  await page.reload()
  await page.locator('#paused-banner').waitFor()
  await page.locator('#account').waitFor() // the wallet reconnects after a reload
  await page.locator('#deposit-amount').fill('0.1')
  await page.locator('#deposit-checks [data-code="BRIDGE_PAUSED"]').waitFor()
  t.equal(await page.locator('#deposit-send').isDisabled(), true)
  await screenshot('paused-vault')
  await owner.waitForTransactionReceipt({
    hash: await owner.writeContract({
      address: info.l1.vault,
      abi: bridgeVaultAbi,
      functionName: 'unpause',
    }),
  })
  t.equal(sent(), before, 'no transaction was sent')
})

t.test('an ERC-20 round trip with approval', async (t) => {
  await owner.waitForTransactionReceipt({
    hash: await owner.writeContract({
      address: tst,
      abi: testTokenAbi,
      functionName: 'mint',
      args: [user, parseEther('50')],
    }),
  })
  await page.goto(`${uiUrl}#/deposit`)
  await page.locator('#deposit-token').selectOption({ label: 'TST' })
  await page.locator('#deposit-amount').fill('10')
  const approvals = () =>
    wallet.requests.filter(
      (r) =>
        r.method === 'eth_sendTransaction' &&
        (r.params as Array<{ data?: string }>)[0]?.data?.startsWith('0x095ea7b3'),
    ).length
  await page.locator('#deposit-send:not([disabled])').click()
  await page.waitForURL(/#\/deposit\/\d+$/, { timeout: 60_000 })
  t.equal(approvals(), 1, 'approved the vault first')
  await followTracker('minted')
  await screenshot('erc20-minted')
  await page.goto(`${uiUrl}#/withdraw`)
  await page.locator('#withdraw-token').selectOption({ label: 'TST' })
  await page.locator('#withdraw-amount').fill('4')
  await page.locator('#withdraw-send:not([disabled])').click()
  await page.waitForURL(/#\/withdrawal\/\d+$/, { timeout: 60_000 })
  await followTracker('released')
  t.equal(
    await l1.readContract({ address: tst, abi: erc20Abi, functionName: 'balanceOf', args: [user] }),
    parseEther('44'),
  )
  await screenshot('erc20-released')
})

t.test('relayers that signed, then stopped: the claim button releases it', async (t) => {
  // The relayers lose their L1 gas: they still sign on the sidechain, but none can send the release.
  for (const r of info.relayers) await l1.setBalance({ address: r.address, value: 0n })
  await page.goto(`${uiUrl}#/withdraw`)
  await page.locator('#withdraw-amount').fill('0.1')
  await page.locator('#withdraw-send:not([disabled])').click()
  await page.waitForURL(/#\/withdrawal\/\d+$/, { timeout: 60_000 })
  const id = BigInt((await hashRoute()).split('/').pop()!)
  await page.locator('#claim').waitFor({ timeout: TRANSFER_TIMEOUT_MS })
  // Enough signatures are stored: now the relayers go away entirely (stopped through the
  // devnet's control channel, not restarted), and the user alone releases the funds.
  for (const [i] of info.relayers.entries()) await devnet.control.stop(`relayer-${i}`)
  t.ok(
    devnet.control
      .status()
      .filter((p) => p.name.startsWith('relayer-'))
      .every((p) => p.state === 'stopped'),
    'every relayer is stopped',
  )
  await screenshot('claim-offered')
  await page.locator('#claim').click()
  await followTracker('released')
  const released = await l1.readContract({
    address: info.l1.vault,
    abi: bridgeVaultAbi,
    functionName: 'isProcessed',
    args: [BigInt(info.l2.chainId), info.l2.bridge, id],
  })
  t.equal(released, true, 'processed on L1')
  const last = wallet.calls('eth_sendTransaction').at(-1) as Array<{ to?: string }>
  t.equal(
    last[0]?.to?.toLowerCase(),
    info.l1.vault.toLowerCase(),
    'the release was sent from the page',
  )
  await screenshot('claimed')
})

t.test(
  'after a reload the history lists the transfers and deep links open their trackers',
  async (t) => {
    await page.goto(`${uiUrl}#/history`)
    await page.reload()
    await page.locator('#account').waitFor() // reconnected, nothing clicked
    await page.locator('#history [data-transfer]').first().waitFor()
    const listed = await page
      .locator('#history [data-transfer]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-transfer')))
    t.same(
      [...listed].sort(),
      ['deposit:0', 'deposit:1', 'withdrawal:0', 'withdrawal:1', 'withdrawal:2'],
      'two deposits and three withdrawals',
    )
    await screenshot('history')
    await page.locator('[data-transfer="withdrawal:1"] a').click()
    await page
      .locator('#tracker[data-kind="withdrawal"][data-id="1"][data-stage="released"]')
      .waitFor()
    // A deep link in a fresh page, and a lookup by the L1 transaction of deposit 0.
    const deposit0 = await l1.getContractEvents({
      address: info.l1.vault,
      abi: bridgeVaultAbi,
      eventName: 'Deposited',
      args: { depositId: 0n },
      fromBlock: 0n,
    })
    await page.goto(`${uiUrl}#/deposit/1`)
    await page.locator('#tracker[data-kind="deposit"][data-id="1"][data-stage="minted"]').waitFor()
    await page.goto(`${uiUrl}#/tx/${deposit0[0]!.transactionHash}`)
    await page.locator('#tracker[data-kind="deposit"][data-id="0"]').waitFor()
    await screenshot('deep-link')
    t.pass('deep links open the right trackers')
  },
)

t.test('no script error on any page', async (t) => {
  t.same(pageErrors, [])
  t.equal(
    await l2.readContract({
      address: info.l2.bridge,
      abi: sidechainBridgeAbi,
      functionName: 'gasDropped',
      args: [user],
    }),
    true,
  )
})
