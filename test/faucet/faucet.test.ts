/**
 * The faucet against a real node: a claim returns a transaction hash and the coin arrives;
 * a second claim inside the window gets 429 with Retry-After (also after a restart); a
 * forged X-Forwarded-For does not open a new IP window unless a proxy is trusted.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import { Faucet } from '../../chain/faucet/faucet.ts'
import type { FaucetOptionsInput } from '../../chain/faucet/options.ts'
import { silentLogger } from '../../chain/lib/logger.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { cast } from '../support/devnet.ts'
import { startRpcNode } from '../support/rpc-node.ts'

/** A "token" whose every call reverts (code 0xfe): the coin goes out, the token transfer fails. */
const BROKEN_TOKEN = '0x00000000000000000000000000000000000b0b0b'
const node = await startRpcNode({
  blockPeriodMs: 300,
  alloc: { [BROKEN_TOKEN]: { balance: '0x0', code: '0xfe' } },
})
t.teardown(() => node.stop())
const datadir = mkdtempSync(path.join(tmpdir(), 'sidechain-faucet-'))
t.teardown(() => rmSync(datadir, { recursive: true, force: true }))
const funder = DEV_ACCOUNTS[9]!

let now = 1_000_000
async function startFaucet(extra: Partial<FaucetOptionsInput> = {}): Promise<Faucet> {
  const faucet = new Faucet(
    {
      rpcUrl: node.url,
      datadir,
      port: 0,
      maxPerIpPerWindow: 2,
      explorerUrl: 'http://127.0.0.1:1/explorer',
      ...extra,
    },
    { logger: silentLogger(), privateKey: funder.privateKey, now: () => now },
  )
  await faucet.start()
  return faucet
}

async function claim(faucet: Faucet, address: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${faucet.url}/api/claim`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ address }),
  })
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Record<string, unknown>,
  }
}

const fresh = () => privateKeyToAddress(generatePrivateKey())

t.test(
  'a claim pays; the same address again gets 429 with Retry-After, also after a restart',
  async (t) => {
    let faucet = await startFaucet()
    const address = fresh()
    const first = await claim(faucet, address)
    t.equal(first.status, 200)
    t.match(first.body, { txHash: /^0x[0-9a-f]{64}$/, amountWei: '1000000000000000000' })
    t.equal(
      first.body.explorerUrl,
      `http://127.0.0.1:1/explorer/tx/${first.body.txHash}`,
      'links the explorer',
    )
    const balance = await pollUntil(
      async () => {
        const wei = BigInt(await cast(['balance', address, '--rpc-url', node.url]))
        return wei > 0n ? wei : undefined
      },
      { what: 'the faucet coin to arrive', timeoutMs: 20_000 },
    )
    t.equal(balance, 10n ** 18n, 'exactly the amount arrived')

    now += 60_000
    const second = await claim(faucet, address.toLowerCase())
    t.equal(second.status, 429)
    t.equal(second.body.code, 'FAUCET_RATE_LIMITED')
    t.equal(second.retryAfter, String(24 * 3600 - 60), 'Retry-After counts down the address window')

    await faucet.stop()
    faucet = await startFaucet()
    const afterRestart = await claim(faucet, address)
    t.equal(afterRestart.status, 429, 'the window survives a restart')
    await faucet.stop()
  },
)

t.test('IP window; X-Forwarded-For only counts behind a trusted proxy', async (t) => {
  now += 3 * 3600_000 // past the previous test's IP window
  let faucet = await startFaucet()
  t.equal((await claim(faucet, fresh())).status, 200)
  t.equal((await claim(faucet, fresh(), { 'x-forwarded-for': '203.0.113.7' })).status, 200)
  const third = await claim(faucet, fresh(), { 'x-forwarded-for': '203.0.113.8' })
  t.equal(third.status, 429, 'a forged header does not open a new window')
  t.match(third.body.error, /too many requests from your network/)
  await faucet.stop()

  faucet = await startFaucet({ trustedProxyHops: 1 })
  t.equal(
    (await claim(faucet, fresh(), { 'x-forwarded-for': '198.51.100.1' })).status,
    200,
    'behind a proxy the client IP is its entry',
  )
  t.equal((await claim(faucet, fresh(), { 'x-forwarded-for': '198.51.100.1' })).status, 200)
  t.equal((await claim(faucet, fresh(), { 'x-forwarded-for': '198.51.100.1' })).status, 429)

  const bad = await claim(faucet, '0x1234')
  t.equal(bad.status, 400)
  t.equal(bad.body.code, 'FAUCET_BAD_REQUEST')
  const health = await fetch(`${faucet.url}/health`)
  t.equal(health.status, 200)
  const metrics = await (await fetch(`${faucet.url}/metrics`)).text()
  t.match(metrics, /faucet_requests_total\{result="granted"\} 2/)
  t.match(metrics, /faucet_requests_total\{result="rate_limited"\} 1/)
  t.match(metrics, /faucet_requests_total\{result="bad_request"\} 1/)
  await faucet.stop()
})

t.test('an empty faucet answers 503 and keeps the window open', async (t) => {
  now += 3 * 3600_000
  const faucet = await startFaucet({ amountWei: (10n ** 30n).toString() })
  const address = fresh()
  const empty = await claim(faucet, address)
  t.equal(empty.status, 503)
  t.equal(empty.body.code, 'FAUCET_EMPTY')
  t.equal((await fetch(`${faucet.url}/health`)).status, 503, '/health says it cannot pay')
  await faucet.stop()
  const refilled = await startFaucet()
  t.equal((await claim(refilled, address)).status, 200, 'the failed claim did not use the window')
  await refilled.stop()
})

t.test(
  'a failing token transfer after the coin went out keeps the window: no second payment',
  async (t) => {
    now += 3 * 3600_000
    const faucet = await startFaucet({
      token: { address: BROKEN_TOKEN, symbol: 'BRK', amount: '1' },
    })
    const address = fresh()
    const first = await claim(faucet, address)
    t.equal(first.status, 200, 'the coin was sent')
    t.equal(first.body.tokenTxHash, null, 'the token transfer is reported missing')
    const again = await claim(faucet, address)
    t.equal(again.status, 429, 'the window holds: the address cannot be paid twice')
    await faucet.stop()
  },
)
