/**
 * Polling filters and WebSocket subscriptions on a live node (blocks sealed when the test
 * moves the clock).
 */
import t from 'tap'
import { type Abi, encodeDeployData, encodeFunctionData, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { WebSocket } from 'ws'
import { compileProbe, pollUntil, startRpcNode } from '../../test/support/rpc-node.ts'
import { DEV_ACCOUNTS } from '../cli/devnet-command.ts'

const probe = compileProbe()
const abi = probe.abi as Abi
const alice = privateKeyToAccount(DEV_ACCOUNTS[0].privateKey)

class WsClient {
  private readonly ws: WebSocket
  private id = 0
  private readonly waiting = new Map<number, (msg: Record<string, unknown>) => void>()
  readonly notifications: Array<{ subscription: string; result: unknown }> = []

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, unknown>
      if (msg.method === 'eth_subscription') {
        this.notifications.push(msg.params as { subscription: string; result: unknown })
      } else {
        this.waiting.get(msg.id as number)?.(msg)
      }
    })
  }

  static open(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.once('open', () => resolve(new WsClient(ws)))
      ws.once('error', reject)
    })
  }

  request(method: string, params: unknown[] = []): Promise<Record<string, unknown>> {
    const id = ++this.id
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    })
  }

  of(subscription: unknown) {
    return this.notifications.filter((n) => n.subscription === subscription).map((n) => n.result)
  }

  close() {
    this.ws.close()
  }
}

t.test('filters and subscriptions', async (t) => {
  const n = await startRpcNode({
    manual: true,
    // Long enough that the sweeper (every second) never takes a filter the test still polls.
    rpc: { maxSubscriptionsPerConnection: 4, filterTimeoutMs: 2_000 },
  })
  t.teardown(() => n.stop())
  const chainId = Number(n.genesis.config.chainId)
  let nonce = 0
  const send = async (tx: { to?: Hex; data?: Hex }) => {
    const raw = await alice.signTransaction({
      chainId,
      type: 'eip1559',
      nonce: nonce++,
      gas: 1_000_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 1n,
      ...tx,
    })
    const r = await n.request('eth_sendRawTransaction', [raw])
    if (r.error !== undefined) throw new Error(r.error.message)
    return r.result as Hex
  }
  await send({ data: encodeDeployData({ abi, bytecode: probe.bytecode, args: [1n] }) })
  await n.produce()
  const probeAddress = (
    (
      await n.request('eth_getTransactionReceipt', [
        await (async () => {
          const block = (await n.request('eth_getBlockByNumber', ['0x1', false])).result as {
            transactions: Hex[]
          }
          return block.transactions[0]
        })(),
      ])
    ).result as { contractAddress: Hex }
  ).contractAddress
  const store = (v: bigint) =>
    send({
      to: probeAddress,
      data: encodeFunctionData({ abi, functionName: 'store', args: [v, '0x'] }),
    })

  const ws = await WsClient.open(n.wsUrl)
  t.teardown(() => ws.close())
  const subscribe = async (...params: unknown[]) => {
    const r = await ws.request('eth_subscribe', params)
    if (r.error !== undefined) throw new Error(JSON.stringify(r.error))
    return r.result as string
  }
  const heads = await subscribe('newHeads')
  const logs = await subscribe('logs', { address: probeAddress })
  const pending = await subscribe('newPendingTransactions')
  const pendingFull = await subscribe('newPendingTransactions', true)
  t.match(heads, /^0x[0-9a-f]{32}$/)
  const fifth = await ws.request('eth_subscribe', ['newHeads'])
  t.match(fifth.error, { code: -32005, message: /too many subscriptions/ })
  t.match((await ws.request('eth_subscribe', ['syncing2'])).error, {
    code: -32602,
    message: /unsupported subscription type/,
  })
  t.match((await n.request('eth_subscribe', ['newHeads'])).error, {
    code: -32601,
    message: /notifications not supported/,
  })

  const blockFilter = (await n.request('eth_newBlockFilter')).result as string
  const pendingFilter = (await n.request('eth_newPendingTransactionFilter')).result as string
  const logFilter = (
    await n.request('eth_newFilter', [
      { address: probeAddress, topics: [null, null, `0x${'00'.repeat(31)}07`] },
    ])
  ).result as string
  const pastFilter = (await n.request('eth_newFilter', [{ fromBlock: '0x0', toBlock: '0x1' }]))
    .result as string

  const txHash = await store(7n)
  await store(8n)
  await pollUntil(() => ws.of(pendingFull).length === 2, 'pending notifications')
  t.same(ws.of(pending)[0], txHash)
  t.match(ws.of(pendingFull)[0], {
    hash: txHash,
    blockHash: null,
    from: alice.address.toLowerCase(),
  })
  await n.produce()
  await pollUntil(
    () => ws.of(heads).length === 1 && ws.of(logs).length === 2,
    'block notifications',
  )
  t.match(ws.of(heads)[0], { number: '0x2', transactions: undefined, hash: /^0x/ })
  t.match(ws.of(logs)[0], {
    address: probeAddress,
    transactionHash: txHash,
    blockNumber: '0x2',
    logIndex: '0x0',
    removed: false,
  })

  const changes = async (id: string) =>
    (await n.request('eth_getFilterChanges', [id])).result as unknown[]
  const head = (await n.request('eth_getBlockByNumber', ['latest', false])).result as { hash: Hex }
  t.same(await changes(blockFilter), [head.hash])
  t.same(await changes(blockFilter), [], 'changes are consumed')
  t.equal((await changes(pendingFilter)).length, 2)
  const matched = (await changes(logFilter)) as Array<{ topics: Hex[] }>
  t.equal(matched.length, 1, 'topic criteria')
  t.equal(BigInt(matched[0]!.topics[2]!), 7n)
  t.same(await changes(pastFilter), [], 'blocks outside the numeric range are not reported')
  t.equal(((await n.request('eth_getFilterLogs', [logFilter])).result as unknown[]).length, 1)
  t.equal((await n.request('eth_uninstallFilter', [logFilter])).result, true)
  t.equal((await n.request('eth_uninstallFilter', [logFilter])).result, false)
  t.same((await n.request('eth_getFilterChanges', [logFilter])).error, {
    code: -32000,
    message: 'filter not found',
  })
  t.equal(
    (await n.request('eth_newFilter', [{ fromBlock: '0x5', toBlock: '0x1' }])).error?.code,
    -32602,
  )

  t.equal((await ws.request('eth_unsubscribe', [logs])).result, true)
  t.equal((await ws.request('eth_unsubscribe', [logs])).result, false)
  await store(9n)
  await n.produce()
  await pollUntil(() => ws.of(heads).length === 2, 'second head')
  t.equal(ws.of(logs).length, 2, 'no logs after unsubscribing')

  // Filters nobody polls expire.
  await new Promise((resolve) => setTimeout(resolve, 2_100))
  n.node.rpc!.filters.sweep()
  t.same((await n.request('eth_getFilterChanges', [blockFilter])).error, {
    code: -32000,
    message: 'filter not found',
  })
  ws.close()
  await pollUntil(
    () => n.node.rpc!.filters.subscriptionCount === 0,
    'subscriptions dropped with the connection',
  )
})
