/**
 * RPC abuse (issue 21): a live node under a flood of connections, oversized batches and
 * filters keeps answering with clear errors, holds bounded resources and keeps producing
 * blocks. Also the public-port defaults (write and admin namespaces off, no CORS) and the
 * spec's answers for log ranges past the head.
 */
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { WebSocket } from 'ws'
import { pollUntil, type RpcTestNode, startRpcNode } from '../support/rpc-node.ts'

const RESPONSE_CAP = 64 * 1024
const HTTP_CONNECTIONS = 32
const WS_CONNECTIONS = 16

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** One request on a new socket (fetch would reuse a kept-alive one): status line and body. */
function freshPost(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    })
    const chunks: Buffer[] = []
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.once('error', reject)
    socket.once('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0)
      resolve({ status, text: raw.slice(raw.indexOf('\r\n\r\n') + 4) })
    })
  })
}

function openWs(url: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    ws.once('error', () => resolve(0))
  })
}

t.test(
  'a flood of connections, batches and filters: bounded, clear errors, blocks go on',
  async (t) => {
    const n: RpcTestNode = await startRpcNode({
      blockPeriodMs: 200,
      rpc: {
        maxResponseBytes: RESPONSE_CAP,
        maxHttpConnections: HTTP_CONNECTIONS,
        maxWsConnections: WS_CONNECTIONS,
        maxFilters: 50,
        maxBodyBytes: 64 * 1024,
      },
    })
    t.teardown(() => n.stop())
    const port = new URL(n.url).port
    await n.produce()

    t.test('a batch whose responses exceed the byte cap answers -32003 past the cap', async (t) => {
      const batch = Array.from({ length: 400 }, (_, i) => ({
        jsonrpc: '2.0',
        id: i,
        method: 'eth_getBlockByNumber',
        params: ['0x0', true],
      }))
      const reply = await post(n.url, JSON.stringify(batch))
      t.equal(reply.status, 200)
      // The cap, plus one short error per request past it.
      t.ok(
        reply.text.length <= RESPONSE_CAP + 400 * 128,
        `reply of ${reply.text.length} bytes stays near the ${RESPONSE_CAP} byte cap`,
      )
      const items = JSON.parse(reply.text) as Array<{
        id: number
        result?: unknown
        error?: { code: number; message: string }
      }>
      t.equal(items.length, 400, 'one answer per request')
      t.ok(items[0]!.result, 'the first requests are answered')
      const last = items.at(-1)!
      t.equal(last.error?.code, -32003, 'requests past the cap get "response too large"')
      t.match(last.error?.message, /response too large/)
      t.match(last.error?.message, new RegExp(String(RESPONSE_CAP)))
    })

    t.test('an oversized body is refused with 413', async (t) => {
      const reply = await post(n.url, JSON.stringify({ pad: 'x'.repeat(70 * 1024) }))
      t.equal(reply.status, 413)
      t.match(reply.text, /exceeds the limit of 65536 bytes/)
    })

    t.test('1000 HTTP connections: the excess gets 503, the node keeps producing', async (t) => {
      const sockets: Socket[] = []
      t.teardown(() => {
        for (const s of sockets) s.destroy()
      })
      const before = n.node.ledger.head.number
      for (let i = 0; i < 1000; i++) {
        const s = await openSocket(Number(port)).catch(() => undefined)
        if (s !== undefined) {
          s.on('error', () => undefined)
          sockets.push(s)
        }
      }
      const server = n.node.rpc!.server
      t.ok(
        server.httpConnectionCount <= HTTP_CONNECTIONS,
        `server holds ${server.httpConnectionCount} HTTP connections (cap ${HTTP_CONNECTIONS})`,
      )
      const refused = await freshPost(
        Number(port),
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber' }),
      )
      t.equal(refused.status, 503, 'a request beyond the connection cap is refused')
      t.match(refused.text, /too many connections/)
      await pollUntil(
        () => n.node.ledger.head.number >= before + 3n,
        'blocks during the connection flood',
      )
      for (const s of sockets) s.destroy()
      const answered = await pollUntil(async () => {
        const reply = await freshPost(
          Number(port),
          JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber' }),
        ).catch(() => undefined)
        return reply?.status === 200 ? reply : undefined
      }, 'RPC answers once the flood ends')
      t.match(answered.text, /"result":"0x/)
    })

    t.test('WebSocket connections beyond the cap get 503', async (t) => {
      const opened: WebSocket[] = []
      t.teardown(() => {
        for (const ws of opened) ws.terminate()
      })
      const statuses: number[] = []
      for (let i = 0; i < WS_CONNECTIONS + 10; i++) {
        const ws = await openWs(n.wsUrl)
        if (typeof ws === 'number') statuses.push(ws)
        else opened.push(ws)
      }
      t.equal(opened.length, WS_CONNECTIONS, 'up to the cap are accepted')
      t.same(new Set(statuses), new Set([503]), 'the rest are refused with 503')
    })

    t.test('filters flood: the cap answers -32005', async (t) => {
      const codes: number[] = []
      for (let i = 0; i < 60; i++) {
        const reply = await n.request('eth_newPendingTransactionFilter')
        if (reply.error !== undefined) codes.push(reply.error.code)
      }
      t.equal(codes.length, 10, 'ten filters over the cap of 50 refused')
      t.same(new Set(codes), new Set([-32005]))
    })
  },
)

t.test('public-port defaults and spec answers', async (t) => {
  const n = await startRpcNode({ blockPeriodMs: 200 })
  t.teardown(() => n.stop())
  await n.produce()

  t.test('write and admin namespaces are off by default, naming the flag', async (t) => {
    const vote = await n.request('qbft_proposeValidatorVote', [
      '0x00000000000000000000000000000000000000aa',
      true,
    ])
    t.equal(vote.error?.code, -32601)
    t.match(vote.error?.message, /--rpc-api/)
    t.match(vote.error?.message, /qbft/)
    const trace = await n.request('debug_traceBlockByNumber', ['latest'])
    t.equal(trace.error?.code, -32601)
    t.match(trace.error?.message, /--rpc-api/)
    const modules = (await n.request('rpc_modules')).result as Record<string, string>
    t.notOk('debug' in modules, 'rpc_modules lists no debug')
    t.notOk('qbft' in modules, 'rpc_modules lists no qbft')
    t.ok('eth' in modules)
    const chainId = await n.request('eth_chainId')
    t.equal(chainId.result, '0x539', 'eth_ still answers')
  })

  t.test('no CORS header by default', async (t) => {
    const reply = await post(
      n.url,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId' }),
      { origin: 'https://evil.example' },
    )
    t.equal(reply.headers.get('access-control-allow-origin'), null)
  })

  t.test('eth_getLogs and eth_newFilter past the head answer -32602', async (t) => {
    const head = n.node.ledger.head.number
    const past = `0x${(head + 100n).toString(16)}`
    const toPast = await n.request('eth_getLogs', [{ fromBlock: '0x0', toBlock: past }])
    t.equal(toPast.error?.code, -32602, 'toBlock past the head')
    t.match(toPast.error?.message, /invalid block range params/)
    const fromPast = await n.request('eth_getLogs', [{ fromBlock: past }])
    t.equal(fromPast.error?.code, -32602, 'fromBlock past the head')
    const filter = await n.request('eth_newFilter', [{ fromBlock: past }])
    t.equal(filter.error?.code, -32602, 'a filter starting past the head')
    const inRange = await n.request('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }])
    t.same(inRange.result, [], 'a range up to the head still answers')
  })

  t.test('blocks carry no totalDifficulty', async (t) => {
    const block = (await n.request('eth_getBlockByNumber', ['latest', false])).result as Record<
      string,
      unknown
    >
    t.ok(block.hash)
    t.notOk('totalDifficulty' in block)
  })
})

t.test('--rpc-api qbft,debug turns those namespaces on', async (t) => {
  const n = await startRpcNode({ rpc: { apis: ['eth', 'net', 'web3', 'qbft', 'debug'] } })
  t.teardown(() => n.stop())
  const vote = await n.request('qbft_getPendingVotes')
  t.same(vote.result, {})
  const modules = (await n.request('rpc_modules')).result as Record<string, string>
  t.ok('qbft' in modules && 'debug' in modules)
  t.notOk('txpool' in modules, 'only the namespaces asked for')
  // Reading consensus status is harmless; changing the validator set is an admin action.
  const refused = await n.request('qbft_proposeValidatorVote', [
    '0x00000000000000000000000000000000000000aa',
    true,
  ])
  t.equal(refused.error?.code, -32601, 'the votes need admin too')
  t.match(refused.error?.message, /needs the admin API.*--rpc-api eth,net,web3,qbft,debug,admin/)
})

t.test('--rpc-api qbft,admin serves the validator votes', async (t) => {
  const n = await startRpcNode({ rpc: { apis: ['eth', 'qbft', 'admin'] } })
  t.teardown(() => n.stop())
  const vote = await n.request('qbft_proposeValidatorVote', [
    '0x00000000000000000000000000000000000000aa',
    true,
  ])
  t.equal(vote.result, true)
})
