/**
 * Every error path over the real HTTP/WebSocket transport, each followed by proof that the
 * node keeps serving: malformed and non-request JSON, empty/oversized batches, oversized
 * bodies, unknown methods, bad parameters, log range limits, reverting calls (decoded by
 * viem), and refused raw transactions (wrong chain, high-s, nonce, funds, duplicates).
 */

import { RLP } from '@ethereumjs/rlp'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bigIntToUnpaddedBytes, bytesToHex, hexToBytes } from '@ethereumjs/util'
import t from 'tap'
import {
  type Abi,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  encodeDeployData,
  type Hex,
  http,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { WebSocket } from 'ws'
import { DEV_ACCOUNTS } from '../../chain/cli/devnet-command.ts'
import { SECP256K1_N } from '../../chain/crypto/index.ts'
import { compileProbe, startRpcNode } from '../support/rpc-node.ts'

const probe = compileProbe()
const abi = probe.abi as Abi
const alice = privateKeyToAccount(DEV_ACCOUNTS[0].privateKey)

t.test('error paths keep the node serving', async (t) => {
  const n = await startRpcNode({
    manual: true,
    rpc: { maxBatchLength: 10, maxBodyBytes: 64 * 1024, getLogsMaxBlockRange: 100 },
  })
  t.teardown(() => n.stop())
  const chainId = Number(n.genesis.config.chainId)
  const raw = (body: string) =>
    fetch(n.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const rawJson = async (body: string) =>
    (await raw(body)).json() as Promise<Record<string, unknown>>
  let served = 0
  const stillServing = async () => {
    const r = await n.request('eth_chainId')
    t.equal(r.result, `0x${chainId.toString(16)}`, `still serving (${++served})`)
  }
  const expectError = async (
    method: string,
    params: unknown[],
    code: number,
    message: RegExp | string,
  ) => {
    const r = await n.request(method, params)
    t.equal(r.error?.code, code, `${method} code`)
    t.match(r.error?.message, message, `${method} message`)
    await stillServing()
  }

  t.match(await rawJson('{"jsonrpc":"2.0","id":1,"method":"eth_chainId"'), {
    id: null,
    error: { code: -32700 },
  })
  await stillServing()
  t.match(await rawJson('"just a string"'), { id: null, error: { code: -32600 } })
  t.match(await rawJson('{"hello":"world"}'), { id: null, error: { code: -32600 } })
  await stillServing()
  t.match(await rawJson('[]'), { error: { code: -32600, message: 'invalid request: empty batch' } })
  const batch = (k: number) =>
    JSON.stringify(
      Array.from({ length: k }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'eth_blockNumber' })),
    )
  t.equal(
    ((await rawJson(batch(10))) as unknown as unknown[]).length,
    10,
    'a batch at the limit is served',
  )
  t.match(await rawJson(batch(11)), { error: { code: -32600, message: /exceeds the limit of 10/ } })
  await stillServing()
  const big = await raw(
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_call',
      params: [{ data: `0x${'00'.repeat(40_000)}` }],
    }),
  )
  t.equal(big.status, 413, 'oversized body is HTTP 413')
  await stillServing()

  await expectError(
    'eth_doesNotExist',
    [],
    -32601,
    'the method eth_doesNotExist does not exist/is not available',
  )
  await expectError(
    'eth_call',
    [{ to: alice.address, data: '0x123' }],
    -32602,
    'invalid argument 0 (transaction): field "data": hex string has odd length',
  )
  await expectError(
    'eth_sendRawTransaction',
    ['0xabc'],
    -32602,
    'invalid argument 0 (transaction): hex string has odd length',
  )
  await expectError(
    'eth_getStorageAt',
    [alice.address, `0x${'01'.repeat(33)}`, 'latest'],
    -32602,
    'invalid argument 1 (slot): storage slot of 33 bytes, want at most 32',
  )
  await expectError(
    'eth_getBalance',
    ['0x1234', 'latest'],
    -32602,
    /invalid argument 0 \(address\)/,
  )
  await expectError(
    'eth_getBalance',
    [alice.address, 'tomorrow'],
    -32602,
    /invalid argument 1 \(block\): invalid block tag/,
  )
  await expectError('eth_getBlockByNumber', ['0x01', false], -32602, /leading zero/)
  await expectError(
    'eth_getLogs',
    [{ fromBlock: '0x5', toBlock: '0x2' }],
    -32602,
    /fromBlock \(5\) is after toBlock \(2\)/,
  )
  await expectError(
    'eth_getLogs',
    [{ fromBlock: '0x0', toBlock: '0x3e8' }],
    -32005,
    /exceeds the limit of 100 blocks/,
  )

  // A deployed contract to revert in.
  const nonce = { next: 0 }
  const sign = (tx: Record<string, unknown>, account = alice) =>
    account.signTransaction({
      chainId,
      type: 'eip1559',
      nonce: nonce.next,
      gas: 1_000_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
      ...tx,
    } as never)
  const deployRaw = await sign({
    data: encodeDeployData({ abi, bytecode: probe.bytecode, args: [1n] }),
  })
  const deployHash = (await n.request('eth_sendRawTransaction', [deployRaw])).result as Hex
  await expectError('eth_sendRawTransaction', [deployRaw], -32000, 'already known')
  await expectError(
    'eth_sendRawTransaction',
    [await sign({ data: '0x', maxPriorityFeePerGas: 10n ** 9n + 1n })],
    -32000,
    'replacement transaction underpriced',
  )
  await n.produce()
  nonce.next++
  const probeAddress = (
    (await n.request('eth_getTransactionReceipt', [deployHash])).result as { contractAddress: Hex }
  ).contractAddress
  await expectError('eth_sendRawTransaction', [deployRaw], -32000, 'nonce too low')

  const client = createPublicClient({ transport: http(n.url) })
  const failure = await client
    .readContract({ address: probeAddress, abi, functionName: 'fail', args: ['no way'] })
    .then(
      () => undefined,
      (err: unknown) => err,
    )
  t.ok(failure instanceof BaseError, 'viem throws')
  const revert = (failure as BaseError).walk(
    (e) => e instanceof ContractFunctionRevertedError,
  ) as ContractFunctionRevertedError | null
  t.equal(revert?.reason, 'no way', 'viem decodes the revert reason from the code-3 error data')
  const direct = await n.request('eth_call', [{ to: probeAddress, data: '0xa9cc4718' }])
  t.match(
    direct.error,
    { code: 3, message: 'execution reverted' },
    'unknown selector reverts without data',
  )
  await stillServing()

  const stranger = privateKeyToAccount(generatePrivateKey())
  const broke = await stranger.signTransaction({
    chainId,
    type: 'eip1559',
    nonce: 0,
    gas: 21_000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 1n,
    to: alice.address,
    value: 1n,
  })
  await expectError(
    'eth_sendRawTransaction',
    [broke],
    -32000,
    'insufficient funds for gas * price + value',
  )
  const wrongChain = await alice.signTransaction({
    chainId: 1,
    type: 'eip1559',
    nonce: nonce.next,
    gas: 21_000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 1n,
    to: alice.address,
  })
  await expectError('eth_sendRawTransaction', [wrongChain], -32000, 'invalid chain id for signer')
  const legacyWrongChain = await alice.signTransaction({
    chainId: 5,
    type: 'legacy',
    nonce: nonce.next,
    gas: 21_000n,
    gasPrice: 10n ** 10n,
    to: alice.address,
  })
  await expectError(
    'eth_sendRawTransaction',
    [legacyWrongChain],
    -32000,
    'invalid chain id for signer',
  )

  // High-s: the same signature's malleable twin (s -> n - s, parity flipped) recovers the same sender.
  const good = createFeeMarket1559Tx(
    {
      chainId: BigInt(chainId),
      nonce: BigInt(nonce.next),
      gasLimit: 21_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 1n,
      to: alice.address,
      value: 1n,
    },
    { common: n.node.ledger.common },
  ).sign(hexToBytes(DEV_ACCOUNTS[0].privateKey))
  const fields = good.raw().slice(0, -3)
  const twin = RLP.encode([
    ...fields,
    bigIntToUnpaddedBytes(1n - good.v!),
    bigIntToUnpaddedBytes(good.r!),
    bigIntToUnpaddedBytes(SECP256K1_N - good.s!),
  ] as never)
  const twinRaw = bytesToHex(Uint8Array.of(2, ...twin))
  await expectError('eth_sendRawTransaction', [twinRaw], -32000, /s value above secp256k1n\/2/)

  // WebSocket: garbage in, envelope out, connection stays usable.
  const ws = new WebSocket(n.wsUrl)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  t.teardown(() => ws.close())
  const next = () =>
    new Promise<Record<string, unknown>>((resolve) =>
      ws.once('message', (d) => resolve(JSON.parse(String(d)))),
    )
  ws.send('not json')
  t.match(await next(), { id: null, error: { code: -32700 } })
  ws.send('{"jsonrpc":"2.0","id":"x","method":"eth_getCode","params":["0x12"]}')
  t.match(await next(), { id: 'x', error: { code: -32602 } })
  ws.send('{"jsonrpc":"2.0","id":"y","method":"eth_blockNumber"}')
  t.same(await next(), { jsonrpc: '2.0', id: 'y', result: '0x1' })

  t.same(
    (await n.request('txpool_status')).result,
    { pending: '0x0', queued: '0x0' },
    'no refused transaction entered the pool',
  )
  t.equal((await n.request('eth_getTransactionCount', [alice.address, 'latest'])).result, '0x1')
})
