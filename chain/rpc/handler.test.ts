/**
 * JSON-RPC 2.0 dispatch and parameter validation without a node: envelopes, batches,
 * error codes, messages that name the bad argument, domain error mapping.
 */
import t from 'tap'
import { SidechainError } from '../lib/errors.ts'
import { TxPoolError } from '../txpool/errors.ts'
import { RpcError } from './errors.ts'
import { defineMethod, RpcHandler } from './handler.ts'
import {
  optional,
  p,
  parseBlockId,
  parseCallRequest,
  parseData,
  parseDuration,
  parseLogFilter,
  parseQuantity,
  parseStorageSlot,
} from './params.ts'

function makeHandler() {
  const handler = new RpcHandler({ maxBatchLength: 3 })
  handler.register({
    namespace: 'test',
    methods: {
      echo: defineMethod([p.quantity('n', 64), optional(p.data('data'))], ([n, data]) => ({
        n: `0x${n.toString(16)}`,
        length: data?.length ?? null,
      })),
      slot: defineMethod([p.address('address'), p.storageSlot('slot')], () => 'ok'),
      boom: defineMethod([], () => {
        throw new Error('secret internals')
      }),
      refused: defineMethod([], () => {
        throw new TxPoolError('TX_NONCE_TOO_LOW', 'nonce too low')
      }),
      domain: defineMethod([], () => {
        throw new SidechainError('STORAGE_CORRUPT', 'database is broken')
      }),
      custom: defineMethod([], () => {
        throw new RpcError(3, 'execution reverted', '0x1234')
      }),
      big: defineMethod([], () => ({ value: 10n ** 20n })),
    },
  })
  return handler
}

const ctx = { transport: 'internal' as const }

t.test('envelopes and error codes', async (t) => {
  const handler = makeHandler()
  const text = async (body: string) => JSON.parse((await handler.handleText(body, ctx))!)
  t.same(await text('{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["0x10"]}'), {
    jsonrpc: '2.0',
    id: 1,
    result: { n: '0x10', length: null },
  })
  t.same(await text('{"jsonrpc":"2.0","id":"a","method":"test_echo","params":["0x1","0x0102"]}'), {
    jsonrpc: '2.0',
    id: 'a',
    result: { n: '0x1', length: 2 },
  })
  t.same((await text('{"jsonrpc":"2.0","id":1,"method":')).error.code, -32700, 'malformed JSON')
  t.same((await text('{"jsonrpc":"2.0","id":1,"method":')).id, null)
  for (const body of ['42', '"x"', 'null', 'true', '{}']) {
    const r = await text(body)
    t.equal(r.error.code, -32600, `non-request ${body}`)
    t.equal(r.id, null)
  }
  t.equal(
    (await text('{"id":7,"method":"test_echo","params":["0x1"]}')).error.code,
    -32600,
    'no jsonrpc',
  )
  t.equal(
    (await text('{"jsonrpc":"2.0","id":7,"method":5}')).error.code,
    -32600,
    'method not a string',
  )
  t.same(
    (await text('{"jsonrpc":"2.0","id":{},"method":"test_echo"}')).id,
    null,
    'object ids are refused',
  )
  const unknown = await text('{"jsonrpc":"2.0","id":9,"method":"eth_nothing","params":[]}')
  t.same(unknown, {
    jsonrpc: '2.0',
    id: 9,
    error: { code: -32601, message: 'the method eth_nothing does not exist/is not available' },
  })
  t.same(
    (await text('{"jsonrpc":"2.0","id":1,"method":"test_big","params":null}')).result,
    { value: '0x56bc75e2d63100000' },
    'null params are none',
  )
  const named = await text('{"jsonrpc":"2.0","id":1,"method":"test_echo","params":{"n":"0x1"}}')
  t.equal(named.error.code, -32602)
  const tooMany = await text(
    '{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["0x1","0x",3]}',
  )
  t.match(tooMany.error, {
    code: -32602,
    message: /too many arguments, want at most 2 \(n, data\)/,
  })
  const missing = await text('{"jsonrpc":"2.0","id":1,"method":"test_echo","params":[]}')
  t.same(missing.error, { code: -32602, message: 'missing value for required argument 0 (n)' })
  const odd = await text('{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["0x1","0x123"]}')
  t.same(odd.error, {
    code: -32602,
    message: 'invalid argument 1 (data): hex string has odd length',
  })
  const slot = await text(
    `{"jsonrpc":"2.0","id":1,"method":"test_slot","params":["0x${'11'.repeat(20)}","0x${'ab'.repeat(33)}"]}`,
  )
  t.same(slot.error, {
    code: -32602,
    message: 'invalid argument 1 (slot): storage slot of 33 bytes, want at most 32',
  })
  const boom = await text('{"jsonrpc":"2.0","id":2,"method":"test_boom"}')
  t.same(boom.error, { code: -32603, message: 'internal error' }, 'internals do not leak')
  t.same((await text('{"jsonrpc":"2.0","id":2,"method":"test_refused"}')).error, {
    code: -32000,
    message: 'nonce too low',
  })
  t.same((await text('{"jsonrpc":"2.0","id":2,"method":"test_domain"}')).error.code, -32603)
  t.same((await text('{"jsonrpc":"2.0","id":2,"method":"test_custom"}')).error, {
    code: 3,
    message: 'execution reverted',
    data: '0x1234',
  })
  t.same(
    (await text('{"jsonrpc":"2.0","id":2,"method":"test_big"}')).result,
    { value: '0x56bc75e2d63100000' },
    'stray bigints are encoded',
  )
})

t.test('batches and notifications', async (t) => {
  const handler = makeHandler()
  const text = async (body: string) => {
    const out = await handler.handleText(body, ctx)
    return out === undefined ? undefined : JSON.parse(out)
  }
  t.same(await text('[]'), {
    jsonrpc: '2.0',
    id: null,
    error: { code: -32600, message: 'invalid request: empty batch' },
  })
  const tooLong = await text(
    JSON.stringify(
      Array.from({ length: 4 }, (_, i) => ({
        jsonrpc: '2.0',
        id: i,
        method: 'test_echo',
        params: ['0x1'],
      })),
    ),
  )
  t.match(tooLong, {
    id: null,
    error: { code: -32600, message: /batch of 4 requests exceeds the limit of 3/ },
  })
  const mixed = await text(
    JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['0x2'] },
      5,
      { jsonrpc: '2.0', method: 'test_echo', params: ['0x3'] },
    ]),
  )
  t.equal(mixed.length, 2, 'notifications get no response')
  t.same(mixed[0], { jsonrpc: '2.0', id: 1, result: { n: '0x2', length: null } })
  t.equal(mixed[1].error.code, -32600)
  t.equal(
    await text('{"jsonrpc":"2.0","method":"test_echo","params":["0x1"]}'),
    undefined,
    'a lone notification',
  )
  t.equal(
    await text('[{"jsonrpc":"2.0","method":"test_boom"}]'),
    undefined,
    'a batch of notifications',
  )
})

t.test('registry', async (t) => {
  const handler = makeHandler()
  t.throws(
    () => handler.register({ namespace: 'test', methods: { echo: defineMethod([], () => 1) } }),
    /already registered/,
  )
  t.throws(
    () => handler.register({ namespace: 'bad-ns', methods: { x: defineMethod([], () => 1) } }),
    /invalid RPC method name/,
  )
  handler.register({
    namespace: 'qbft',
    methods: { getValidators: defineMethod([], () => ['0x1']) },
  })
  t.same(await handler.call('qbft_getValidators', []), ['0x1'])
  t.same(handler.namespaces(), ['qbft', 'test'])
  handler.unregister('qbft')
  t.notOk(handler.has('qbft_getValidators'))
})

t.test('parameter parsers', async (t) => {
  t.equal(parseQuantity('0x0'), 0n)
  t.equal(parseQuantity('0xff'), 255n)
  t.throws(() => parseQuantity('0x01'), /leading zero/)
  t.throws(() => parseQuantity('0x'), /empty/)
  t.throws(() => parseQuantity('10'), /without 0x prefix/)
  t.throws(() => parseQuantity(10), /got number/)
  t.throws(() => parseQuantity('0xzz'), /invalid hex/)
  t.throws(() => parseQuantity(`0x1${'0'.repeat(16)}`, 64), /> 64 bits/)
  t.same(parseData('0x'), new Uint8Array())
  t.throws(() => parseData('0xabc'), /odd length/)
  t.equal(parseStorageSlot('0x1').length, 32, 'slots as quantities (cast sends "0x0")')
  t.throws(() => parseStorageSlot(`0x${'0'.repeat(66)}`), /33 bytes, want at most 32/)
  t.same(parseBlockId('latest'), { kind: 'tag', tag: 'latest' })
  t.same(parseBlockId('0x10'), { kind: 'number', number: 16n })
  t.same(parseBlockId({ blockNumber: 'safe' }), { kind: 'tag', tag: 'safe' })
  t.match(parseBlockId({ blockHash: `0x${'aa'.repeat(32)}`, requireCanonical: true }), {
    kind: 'hash',
    requireCanonical: true,
  })
  t.throws(() => parseBlockId('newest'), /invalid block tag/)
  t.throws(() => parseBlockId({}), /needs blockHash or blockNumber/)
  t.throws(() => parseBlockId({ blockHash: '0x12' }), /field "blockHash"/)
  t.throws(() => parseCallRequest({ data: '0x01', input: '0x02' }), /both "data" and "input"/)
  t.throws(() => parseCallRequest({ gasPrice: '0x1', maxFeePerGas: '0x1' }), /both gasPrice and/)
  t.throws(
    () => parseCallRequest({ to: '0x1234' }),
    /field "to": hex string has length 2 bytes, want 20/,
  )
  t.throws(
    () => parseCallRequest({ blobVersionedHashes: [] }),
    /blob transactions are not supported/,
  )
  t.same(parseCallRequest({ input: '0x01', data: '0x01' }).data, Uint8Array.of(1))
  const filter = parseLogFilter({
    address: `0x${'AB'.repeat(20)}`,
    topics: [null, [`0x${'01'.repeat(32)}`, null]],
  })
  t.same(filter.addresses, [`0x${'ab'.repeat(20)}`])
  t.same(filter.topics, [undefined, undefined], 'null alternatives match anything')
  t.throws(
    () => parseLogFilter({ topics: [null, null, null, null, null] }),
    /too many topic positions/,
  )
  t.throws(() => parseLogFilter({ address: ['0x12'] }), /address 0/)
  t.equal(parseDuration('1m30s'), 90_000)
  t.equal(parseDuration('250ms'), 250)
  t.throws(() => parseDuration('5 seconds'), /invalid duration/)
})
