/**
 * The explorer against a real node: cast deploys an ERC-20, transfers and sends a reverting
 * call; the index, the JSON API and the Etherscan-compatible verification API (driven with
 * the exact request `forge verify-contract` sent) must agree with `cast receipt` and
 * `cast call`, and a restart resumes without gaps or duplicates.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import { Explorer } from '../../chain/explorer/explorer.ts'
import { silentLogger } from '../../chain/lib/logger.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { cast } from '../support/devnet.ts'
import { deployAndUseDevToken, forgeVerifyRequest } from '../support/explorer.ts'
import { startRpcNode } from '../support/rpc-node.ts'

const node = await startRpcNode({ blockPeriodMs: 300 })
t.teardown(() => node.stop())
const datadir = mkdtempSync(path.join(tmpdir(), 'sidechain-explorer-'))
t.teardown(() => rmSync(datadir, { recursive: true, force: true }))
const [owner, other] = DEV_ACCOUNTS

const used = await deployAndUseDevToken(node.url, owner.privateKey, other.address)

let explorer = new Explorer(
  { rpcUrl: node.url, datadir, port: 0, pollIntervalMs: 100 },
  { logger: silentLogger() },
)
await explorer.start()
t.teardown(() => explorer.stop())

async function api<T>(p: string): Promise<T> {
  const response = await fetch(`${explorer.url}/api/v1/${p}`)
  return (await response.json()) as T
}
async function etherscan(
  params: URLSearchParams,
): Promise<{ status: string; message: string; result: unknown }> {
  const response = await fetch(`${explorer.url}/api`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: params.toString(),
  })
  return (await response.json()) as { status: string; message: string; result: unknown }
}
async function waitIndexed(): Promise<number> {
  const head = Number(await cast(['block-number', '--rpc-url', node.url]))
  await pollUntil(
    async () => ((await api<{ indexed: number | null }>('status')).indexed ?? -1) >= head,
    {
      what: `the explorer to index block ${head}`,
      timeoutMs: 20_000,
      intervalMs: 100,
    },
  )
  return head
}

interface TxView {
  tx: { status: string; gasUsed: string; blockNumber: number; from: string }
  logs: Array<{ decoded: { name: string; args: Array<{ name: string; value: string }> } | null }>
  revertReason: string | null
  call: { name: string } | null
}

t.test(
  'transactions match cast receipt: status, gas, decoded Transfer, revert reason',
  async (t) => {
    await waitIndexed()
    for (const [name, hash] of Object.entries({
      deploy: used.deployTx,
      transfer: used.transferTx,
      revert: used.revertTx,
    })) {
      const receipt = JSON.parse(
        await cast(['receipt', hash, '--rpc-url', node.url, '--json']),
      ) as {
        status: string
        gasUsed: string
        blockNumber: string
      }
      const view = await api<TxView>(`tx/${hash}`)
      t.equal(view.tx.status, receipt.status === '0x1' ? 'success' : 'reverted', `${name} status`)
      t.equal(view.tx.gasUsed, BigInt(receipt.gasUsed).toString(), `${name} gas used`)
      t.equal(view.tx.blockNumber, Number(receipt.blockNumber), `${name} block`)
    }
    const transfer = await api<TxView>(`tx/${used.transferTx}`)
    t.equal(transfer.call?.name, 'transfer', 'input decoded by its known signature')
    t.equal(transfer.logs[0]?.decoded?.name, 'Transfer')
    t.same(
      transfer.logs[0]?.decoded?.args.map((a) => a.value),
      [owner.address, other.address, '100'],
      'Transfer(from, to, value)',
    )
    const reverted = await api<TxView>(`tx/${used.revertTx}`)
    t.equal(reverted.tx.status, 'reverted')
    t.equal(reverted.revertReason, 'DevToken: transfer amount exceeds balance')
  },
)

t.test(
  'the address lists its three transactions and its token; a restart adds no duplicate',
  async (t) => {
    const before = await api<{
      transactions: Array<{ hash: string }>
      tokens: Array<{ symbol: string; balance: string }>
    }>(`address/${owner.address}`)
    t.same(
      before.transactions.map((x) => x.hash).sort(),
      [used.deployTx, used.transferTx, used.revertTx].sort(),
    )
    t.equal(before.tokens[0]?.symbol, 'DEV')
    t.equal(before.tokens[0]?.balance, (10n ** 24n - 100n).toString())
    const recipient = await api<{ transactions: Array<{ hash: string }>; transfers: unknown[] }>(
      `address/${other.address}`,
    )
    t.equal(recipient.transfers.length, 1, 'the recipient sees the transfer')

    await explorer.stop()
    // Blocks keep coming while the explorer is down; the restart must index them all, once.
    await cast([
      'send',
      other.address,
      '--value',
      '1',
      '--private-key',
      owner.privateKey,
      '--rpc-url',
      node.url,
    ])
    explorer = new Explorer(
      { rpcUrl: node.url, datadir, port: 0, pollIntervalMs: 100 },
      { logger: silentLogger() },
    )
    await explorer.start()
    const head = await waitIndexed()
    const after = await api<{ transactions: Array<{ hash: string }> }>(`address/${owner.address}`)
    t.equal(after.transactions.length, 4, 'three before, one while stopped')
    t.equal(new Set(after.transactions.map((x) => x.hash)).size, 4, 'no duplicates')
    for (let n = 0; n <= head; n++) {
      const block = await api<{ block?: { number: number } }>(`block/${n}`)
      if (block.block?.number !== n) t.fail(`block ${n} missing from the index`)
    }
    t.pass(`blocks 0..${head} all indexed`)
  },
)

t.test('verification with the request forge verify-contract sends', async (t) => {
  const wrong = forgeVerifyRequest()
  wrong.set('contractaddress', used.token.toLowerCase())
  const input = JSON.parse(wrong.get('sourceCode')!) as {
    sources: Record<string, { content: string }>
  }
  input.sources['src/DevToken.sol']!.content = input.sources['src/DevToken.sol']!.content.replace(
    'balanceOf[to] += amount;',
    'balanceOf[to] += amount + 1;',
  )
  wrong.set('sourceCode', JSON.stringify(input))
  const wrongSubmit = await etherscan(wrong)
  t.equal(wrongSubmit.status, '1', 'submission accepted with a GUID')
  const wrongStatus = await pollStatus(String(wrongSubmit.result))
  t.match(
    wrongStatus,
    /^Fail - Unable to verify\. the deployed code \(\d+ bytes\) is not what these sources compile to/,
  )

  const missing = forgeVerifyRequest()
  missing.set('contractaddress', used.token.toLowerCase())
  missing.set('compilerversion', 'v0.8.19+commit.7dd6d404')
  const missingStatus = await pollStatus(String((await etherscan(missing)).result))
  t.match(
    missingStatus,
    /^Fail - Unable to verify\. compiler v0\.8\.19\+commit\.7dd6d404 is not available here/,
  )

  const request = forgeVerifyRequest()
  request.set('contractaddress', used.token.toLowerCase())
  const submit = await etherscan(request)
  t.same({ status: submit.status, message: submit.message }, { status: '1', message: 'OK' })
  t.equal(await pollStatus(String(submit.result)), 'Pass - Verified')

  const abi = await etherscan(
    new URLSearchParams({ module: 'contract', action: 'getabi', address: used.token }),
  )
  t.match(JSON.parse(String(abi.result)), [{ type: 'constructor' }], 'getabi returns the ABI')
  const source = await etherscan(
    new URLSearchParams({ module: 'contract', action: 'getsourcecode', address: used.token }),
  )
  const entry = (
    source.result as Array<{ ContractName: string; SourceCode: string; CompilerVersion: string }>
  )[0]!
  t.equal(entry.ContractName, 'DevToken')
  t.equal(entry.CompilerVersion, 'v0.8.30+commit.73712a01')
  t.match(entry.SourceCode, /DevToken: transfer amount exceeds balance/)
  const again = await etherscan(request)
  t.same(again, { status: '0', message: 'NOTOK', result: 'Contract source code already verified' })

  const read = await fetch(`${explorer.url}/api/v1/read`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ address: used.token, function: 'balanceOf', args: [other.address] }),
  })
  const castBalance = await cast([
    'call',
    used.token,
    'balanceOf(address)(uint256)',
    other.address,
    '--rpc-url',
    node.url,
  ])
  t.equal(
    ((await read.json()) as { result: string }).result,
    JSON.stringify(castBalance.split(' ')[0]),
    'read tab = cast call',
  )

  const unverified = await etherscan(
    new URLSearchParams({ module: 'contract', action: 'getabi', address: other.address }),
  )
  t.same(unverified, { status: '0', message: 'NOTOK', result: 'Contract source code not verified' })
})

async function pollStatus(guid: string): Promise<string> {
  return pollUntil(
    async () => {
      const r = await etherscan(
        new URLSearchParams({ module: 'contract', action: 'checkverifystatus', guid }),
      )
      return r.result === 'Pending in queue' ? undefined : String(r.result)
    },
    { what: `verification ${guid}`, timeoutMs: 60_000, intervalMs: 200 },
  )
}
