/**
 * The HTTP/WebSocket transport with a stub handler: status codes, body and message size
 * limits, CORS, WebSocket origin checks and connection caps, notifications to clients.
 */
import { request as httpRequest } from 'node:http'
import t from 'tap'
import { WebSocket } from 'ws'
import { defineMethod, type RpcConnection, RpcHandler } from './handler.ts'
import { p } from './params.ts'
import { RpcServer, type RpcServerOptions } from './transport.ts'

async function startServer(overrides: Partial<RpcServerOptions> = {}) {
  const handler = new RpcHandler({ maxBatchLength: 10 })
  const connections: RpcConnection[] = []
  handler.register({
    namespace: 'test',
    methods: {
      echo: defineMethod([p.string('text', 1 << 20)], ([text]) => text),
      hold: defineMethod([], (_args, ctx) => {
        if (ctx.connection !== undefined) connections.push(ctx.connection)
        return ctx.transport
      }),
    },
  })
  const server = new RpcServer(
    {
      host: '127.0.0.1',
      port: 0,
      corsOrigins: ['https://app.example'],
      maxBodyBytes: 1024,
      maxWsMessageBytes: 1024,
      maxWsConnections: 2,
      maxHttpConnections: 16,
      maxWsInFlight: 10,
      maxWsBufferedBytes: 1 << 20,
      wsHeartbeatMs: 60_000,
      requestTimeoutMs: 5_000,
      ...overrides,
    },
    { handler },
  )
  await server.start()
  return { server, connections }
}

function post(
  url: string,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  return fetch(url, { method: 'POST', headers, body })
}

function openWs(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

function nextMessage(ws: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))))
}

t.test('HTTP', async (t) => {
  const { server } = await startServer()
  t.teardown(() => server.stop())
  const ok = await post(server.url, '{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["hi"]}')
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('content-type'), 'application/json')
  t.same(await ok.json(), { jsonrpc: '2.0', id: 1, result: 'hi' })
  t.equal(
    (await post(server.url, '{"jsonrpc":"2.0","method":"test_echo","params":["x"]}')).status,
    204,
    'notification',
  )
  const charset = await post(server.url, '{"jsonrpc":"2.0","id":2,"method":"test_hold"}', {
    'content-type': 'application/json; charset=utf-8',
  })
  t.same(((await charset.json()) as { result: unknown }).result, 'http')
  const get = await fetch(server.url)
  t.equal(get.status, 405)
  const text = await post(server.url, '{}', { 'content-type': 'text/plain' })
  t.equal(text.status, 415)
  const big = await post(
    server.url,
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'.repeat(2000)] }),
  )
  t.equal(big.status, 413, 'oversized body by content-length')
  t.match(await big.json(), { error: { code: -32600, message: /exceeds the limit of 1024 bytes/ } })
  // Chunked upload without a content-length is cut off while streaming.
  const streamed = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      server.url,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      },
    )
    req.on('error', reject)
    for (let i = 0; i < 10; i++) req.write('x'.repeat(200))
    req.end()
  })
  t.equal(streamed, 413, 'oversized chunked body')
  const after = await post(
    server.url,
    '{"jsonrpc":"2.0","id":3,"method":"test_echo","params":["still here"]}',
  )
  t.same(
    ((await after.json()) as { result: unknown }).result,
    'still here',
    'serves after refusals',
  )
})

t.test('CORS', async (t) => {
  const { server } = await startServer()
  t.teardown(() => server.stop())
  const preflight = await fetch(server.url, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://app.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example')
  t.match(preflight.headers.get('access-control-allow-methods'), /POST/)
  const allowed = await post(
    server.url,
    '{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["a"]}',
    {
      'content-type': 'application/json',
      origin: 'https://app.example',
    },
  )
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example')
  const other = await post(
    server.url,
    '{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["a"]}',
    {
      'content-type': 'application/json',
      origin: 'https://evil.example',
    },
  )
  t.equal(
    other.headers.get('access-control-allow-origin'),
    null,
    'unlisted origins get no CORS headers',
  )
  const any = await startServer({ corsOrigins: ['*'] })
  t.teardown(() => any.server.stop())
  const star = await post(
    any.server.url,
    '{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["a"]}',
    {
      'content-type': 'application/json',
      origin: 'https://whatever.example',
    },
  )
  t.equal(star.headers.get('access-control-allow-origin'), '*')
})

t.test('WebSocket', async (t) => {
  const { server, connections } = await startServer()
  t.teardown(() => server.stop())
  const ws = await openWs(server.wsUrl)
  ws.send('{"jsonrpc":"2.0","id":1,"method":"test_hold"}')
  t.same(await nextMessage(ws), { jsonrpc: '2.0', id: 1, result: 'ws' })
  ws.send('{"jsonrpc":"2.0","id":2,"method":')
  t.match(await nextMessage(ws), { id: null, error: { code: -32700 } })
  ws.send('[]')
  t.match(await nextMessage(ws), { error: { code: -32600 } })
  const connection = connections[0]!
  const notified = nextMessage(ws)
  connection.notify('eth_subscription', { subscription: '0x1', result: 'hello' })
  t.same(await notified, {
    jsonrpc: '2.0',
    method: 'eth_subscription',
    params: { subscription: '0x1', result: 'hello' },
  })

  const refused = await openWs(server.wsUrl, { origin: 'https://evil.example' }).then(
    () => 'open',
    (err: Error) => err.message,
  )
  t.match(refused, /403/, 'browser origins are checked')
  const second = await openWs(server.wsUrl, { origin: 'https://app.example' })
  const third = await openWs(server.wsUrl).then(
    () => 'open',
    (err: Error) => err.message,
  )
  t.match(third, /503/, 'connection cap')
  second.close()

  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  let closedListener = false
  connection.onClose(() => {
    closedListener = true
  })
  ws.send(
    JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'test_echo', params: ['x'.repeat(2000)] }),
  )
  t.equal(await closed, 1009, 'oversized message closes the connection (1009)')
  t.ok(connection.closed)
  for (let i = 0; i < 200 && !closedListener; i++) await new Promise((r) => setTimeout(r, 10))
  t.ok(closedListener, 'close listeners run (subscriptions are dropped)')
  const again = await openWs(server.wsUrl)
  again.send('{"jsonrpc":"2.0","id":4,"method":"test_echo","params":["ok"]}')
  t.same((await nextMessage(again)).result, 'ok', 'serves new connections afterwards')
  const stopped = new Promise<number>((resolve) => again.once('close', (code) => resolve(code)))
  await server.stop()
  t.equal(await stopped, 1001, 'stop closes WebSockets with "going away"')
})
