/**
 * `sidechain ui --network FILE` (the real CLI): serves the page, the bundle and the network's configuration from
 * our own process, with nothing from another origin, and answers unknown paths with the page (deep links).
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { pollUntil } from '../../chain/lib/poll.ts'
import { tempDir } from '../../test/support/chain.ts'
import type { UiConfig } from './config.ts'

const CLI = path.resolve(import.meta.dirname, '../../chain/cli/main.ts')
const VAULT = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const BRIDGE = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512'
const TOKEN = '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0'

t.test('serves the app for a network file', async (t) => {
  const dir = tempDir('ui-command-')
  t.teardown(() => dir.remove())
  const network = path.join(dir.path, 'network.json')
  writeFileSync(
    network,
    JSON.stringify({
      l1: {
        rpcUrl: 'http://127.0.0.1:1',
        chainId: 31337,
        vault: VAULT,
        tokens: { TST: TOKEN },
        confirmations: 3,
      },
      l2: { rpcUrls: ['http://127.0.0.1:2'], chainId: 1337, bridge: BRIDGE, startBlock: 4 },
    }),
  )
  const child = spawn(process.execPath, [CLI, 'ui', '--network', network, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.teardown(() => child.kill('SIGKILL'))
  let out = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const url = await pollUntil(async () => /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1], {
    what: 'the URL on stdout',
    timeoutMs: 60_000,
    intervalMs: 50,
  })
  const page = await fetch(url)
  t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/)
  const html = await page.text()
  t.match(html, /<script type="module" src="\/app.js">/)
  t.notMatch(html, /https?:\/\//, 'nothing from another origin')
  const app = await fetch(`${url}app.js`)
  t.equal(app.headers.get('content-type'), 'text/javascript; charset=utf-8')
  t.ok((await app.text()).length > 10_000, 'the bundle')
  const config = (await (await fetch(`${url}config.json`)).json()) as UiConfig
  t.same(config.l1.tokens, [{ symbol: 'TST', address: TOKEN }])
  t.equal(config.l1.confirmations, 3)
  t.equal(config.l2.bridge, BRIDGE)
  t.equal(config.l2.fromBlock, 4)
  t.same(config.devAccounts, [], 'no keys unless the file carries dev accounts')
  t.equal(await (await fetch(`${url}withdrawal/3`)).text(), html, 'deep paths answer the page')
  t.equal((await fetch(url, { method: 'POST' })).status, 405)
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'stops cleanly on SIGTERM')
})
