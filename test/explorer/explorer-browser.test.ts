/**
 * The explorer in a real browser (Debian chromium via playwright-core) against a real
 * devnet: cast deploys an ERC-20, transfers and sends a reverting call; searching each hash
 * shows what `cast receipt` says (status, gas) with the decoded Transfer log and the revert
 * reason; the address page lists all three after a reload; the contract verified with the
 * request forge sends shows its source and its read tab agrees with `cast call`; a
 * validator stopped with SIGSTOP shows as missing within a few blocks, and active again
 * after SIGCONT.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { createWalletClient, type Hex, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { startDevnet } from '../../chain/devnet/devnet.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { chromiumAvailable, launchChromium, screenshots } from '../support/browser.ts'
import { cast } from '../support/devnet.ts'
import { deployAndUseDevToken, forgeVerifyRequest } from '../support/explorer.ts'

if (!chromiumAvailable())
  t.plan(0, 'Debian chromium is not installed (apt-get install -y chromium); .ci/run installs it')
else await main()

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sidechain-explorer-devnet-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const devnet = await startDevnet({
    datadir: dir,
    validators: 4,
    relayers: 1,
    threshold: 1,
    blockTimeMs: 500,
    rpcPort: 0,
    p2pPort: 0,
    l1Port: 0,
    validatorMetricsPort: 0,
    relayerMetricsPort: 0,
    explorerPort: 0,
    faucetPort: 0,
    uiPort: 0,
  })
  t.teardown(() => devnet.stop())
  const rpcUrl = devnet.info.l2.rpcUrls[0]!
  const explorerUrl = devnet.info.explorer!.url
  const [owner, other] = devnet.info.accounts
  const used = await deployAndUseDevToken(rpcUrl, owner!.privateKey, other!.address)

  const verify = forgeVerifyRequest()
  verify.set('contractaddress', used.token.toLowerCase())
  const submitted = (await (
    await fetch(devnet.info.explorer!.apiUrl, { method: 'POST', body: verify })
  ).json()) as { result: string }
  await pollUntil(
    async () => {
      const status = (await (
        await fetch(
          `${devnet.info.explorer!.apiUrl}?module=contract&action=checkverifystatus&guid=${submitted.result}`,
        )
      ).json()) as { result: string }
      if (status.result.startsWith('Fail')) throw new Error(status.result)
      return status.result === 'Pass - Verified'
    },
    { what: 'the verification to pass', timeoutMs: 60_000 },
  )

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
  const shot = screenshots('explorer')

  async function searchFor(query: string): Promise<void> {
    await page.goto(explorerUrl)
    await page.fill('input[name=q]', query)
    await Promise.all([
      page.waitForURL((url) => url.pathname !== '/'),
      page.press('input[name=q]', 'Enter'),
    ])
  }

  t.test('each transaction searched by hash matches cast receipt', async (t) => {
    const head = Number(await cast(['block-number', '--rpc-url', rpcUrl]))
    await pollUntil(
      async () =>
        ((
          (await (await fetch(`${explorerUrl}/api/v1/status`)).json()) as { indexed: number | null }
        ).indexed ?? -1) >= head,
      { what: 'the explorer to catch up', timeoutMs: 30_000 },
    )
    for (const [name, hash] of Object.entries({
      deploy: used.deployTx,
      transfer: used.transferTx,
      revert: used.revertTx,
    })) {
      const receipt = JSON.parse(await cast(['receipt', hash, '--rpc-url', rpcUrl, '--json'])) as {
        status: string
        gasUsed: string
      }
      await searchFor(hash)
      t.equal(new URL(page.url()).pathname, `/tx/${hash}`, `search ${name} opens its page`)
      t.equal(
        await page.textContent('[data-testid=tx-status]'),
        receipt.status === '0x1' ? 'success' : 'reverted',
        `${name} status`,
      )
      t.equal(
        await page.textContent('[data-testid=gas-used]'),
        BigInt(receipt.gasUsed).toString(),
        `${name} gas`,
      )
      await shot(page, `tx-${name}`)
    }
    await page.goto(`${explorerUrl}/tx/${used.transferTx}`)
    t.equal(await page.textContent('[data-testid=log-name]'), 'Transfer', 'Transfer log decoded')
    t.match(await page.textContent('[data-testid=log]'), `to: ${other!.address}`)
    t.match(
      await page.textContent('[data-testid=decoded-call]'),
      /transfer\(address to = .*, uint256 amount = 100\)/,
    )
    await page.goto(`${explorerUrl}/tx/${used.revertTx}`)
    t.equal(
      await page.textContent('[data-testid=revert-reason]'),
      'DevToken: transfer amount exceeds balance',
    )
  })

  t.test(
    'the address page lists all three after a reload; the verified contract reads like cast call',
    async (t) => {
      await page.goto(`${explorerUrl}/address/${owner!.address}`)
      await page.reload()
      const rows = await page.$$eval('[data-testid=transactions] a[href^="/tx/"]', (links) =>
        links.map((a) => a.getAttribute('href')!.slice(4)),
      )
      for (const hash of [used.deployTx, used.transferTx, used.revertTx])
        t.ok(rows.includes(hash), `lists ${hash}`)
      await shot(page, 'address')

      await page.goto(`${explorerUrl}/tokens`)
      t.match(
        await page.textContent('[data-testid=tokens]'),
        /Dev Token\s*DEV\s*erc20\s*18/,
        'token list',
      )
      await searchFor('DEV')
      t.equal(
        new URL(page.url()).pathname,
        `/address/${used.token.toLowerCase()}`,
        'token symbol search',
      )
      t.match(
        await page.textContent('[data-testid=verified]'),
        /^full match · src\/DevToken\.sol:DevToken · v0\.8\.30\+commit\.73712a01$/,
      )
      t.match(await page.textContent('[data-testid=source]'), 'contract DevToken')
      await page.click('button[data-tab=read]')
      const form = page.locator('form[data-fn=balanceOf]')
      await form.locator('input').fill(other!.address)
      await form.locator('button').click()
      const castBalance = (
        await cast([
          'call',
          used.token,
          'balanceOf(address)(uint256)',
          other!.address,
          '--rpc-url',
          rpcUrl,
        ])
      ).split(' ')[0]!
      await pollUntil(
        async () =>
          (await page.textContent('[data-testid=result-balanceOf]')) === `"${castBalance}"`,
        {
          what: 'the read tab to answer',
          timeoutMs: 10_000,
        },
      )
      t.pass(`read tab balanceOf = cast call = ${castBalance}`)
      await shot(page, 'contract-read')

      // The write tab sends through window.ethereum: a minimal EIP-1193 provider backed by a
      // viem wallet client in this process, holding the owner's key.
      const wallet = createWalletClient({
        account: privateKeyToAccount(owner!.privateKey),
        transport: http(rpcUrl),
      })
      await page.exposeFunction('__sendTransaction', async (tx: { to: Hex; data: Hex }) =>
        wallet.sendTransaction({ chain: null, to: tx.to, data: tx.data }),
      )
      await page.addInitScript(`window.ethereum = { request: async ({ method, params }) => {
        if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [${JSON.stringify(owner!.address)}];
        if (method === 'eth_sendTransaction') return window.__sendTransaction(params[0]);
        throw new Error('unsupported ' + method);
      } }`)
      await page.reload()
      await page.click('button[data-tab=write]')
      const transfer = page.locator('form[data-fn=transfer]')
      await transfer.locator('input').nth(0).fill(other!.address)
      await transfer.locator('input').nth(1).fill('5')
      await transfer.locator('button').click()
      const hash = await pollUntil(
        async () => {
          const text = (await page.textContent('[data-testid=result-transfer]')) ?? ''
          if (text.startsWith('error')) throw new Error(text)
          return /^0x[0-9a-f]{64}$/.test(text) ? (text as Hex) : undefined
        },
        { what: 'the write tab to send', timeoutMs: 20_000 },
      )
      const receipt = JSON.parse(await cast(['receipt', hash, '--rpc-url', rpcUrl, '--json'])) as {
        status: string
      }
      t.equal(receipt.status, '0x1', 'the write through the wallet succeeded')
      const after = (
        await cast([
          'call',
          used.token,
          'balanceOf(address)(uint256)',
          other!.address,
          '--rpc-url',
          rpcUrl,
        ])
      ).split(' ')[0]!
      t.equal(BigInt(after), BigInt(castBalance) + 5n, 'transfer(other, 5) from the write tab')
      await shot(page, 'contract-write')
    },
  )

  t.test(
    'a stopped validator shows as missing within a few blocks, then active again',
    async (t) => {
      const stopped = devnet.info.validators[3]!.address.toLowerCase()
      const process3 = devnet.processes().find((p) => p.name === 'validator-3')!
      const state = async () => {
        await page.goto(`${explorerUrl}/validators`)
        return page.textContent(`tr[data-validator="${stopped}"] [data-testid=validator-state]`)
      }
      t.equal(await state(), 'active')
      process.kill(process3.pid, 'SIGSTOP')
      try {
        const startHead = Number(await cast(['block-number', '--rpc-url', rpcUrl]))
        await pollUntil(async () => (await state()) === 'missing', {
          what: 'validator-3 to show as missing',
          timeoutMs: 60_000,
        })
        const head = Number(await cast(['block-number', '--rpc-url', rpcUrl]))
        t.ok(head - startHead <= 20, `missing after ${head - startHead} blocks`)
        await shot(page, 'validator-missing')
      } finally {
        process.kill(process3.pid, 'SIGCONT')
      }
      await pollUntil(async () => (await state()) === 'active', {
        what: 'validator-3 to be active again',
        timeoutMs: 60_000,
      })
      t.pass('active again after SIGCONT')
    },
  )

  t.test('the faucet pays a fresh address and links the explorer', async (t) => {
    const fresh = '0x00000000000000000000000000000000000f00c7'
    await page.goto(devnet.info.faucet!.url)
    await page.fill('input[name=address]', fresh)
    await page.click('button')
    await page.waitForSelector('[data-testid=result] a')
    const href = await page.getAttribute('[data-testid=result] a', 'href')
    t.match(href, new RegExp(`^${explorerUrl}/tx/0x[0-9a-f]{64}$`))
    await pollUntil(async () => BigInt(await cast(['balance', fresh, '--rpc-url', rpcUrl])) > 0n, {
      what: 'the faucet coin',
      timeoutMs: 20_000,
    })
    await page.click('button')
    await page.waitForSelector('[data-testid=result].bad')
    t.match(await page.textContent('[data-testid=result]'), /already received coin; try again in/)
    await shot(page, 'faucet')
  })
}
