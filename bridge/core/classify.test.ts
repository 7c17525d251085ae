import t from 'tap'
import {
  BaseError,
  ContractFunctionRevertedError,
  encodeErrorResult,
  HttpRequestError,
  InvalidInputRpcError,
  NonceTooLowError,
  RpcRequestError,
  TimeoutError,
} from 'viem'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../deploy/index.ts'
import { classifyError, isKnownTransaction } from './classify.ts'
import { BridgeError } from './errors.ts'

function revert(
  abi: typeof bridgeVaultAbi | typeof sidechainBridgeAbi,
  errorName: string,
  args: unknown[],
) {
  const data = encodeErrorResult({ abi, errorName, args } as never)
  return new ContractFunctionRevertedError({ abi, data, functionName: 'release' })
}

function rpcError(message: string, code = -32000) {
  return new RpcRequestError({ body: {}, error: { code, message }, url: 'http://x' })
}

/** What viem's `client.request` throws for a -32000 refusal (eth_sendRawTransaction): no node error class. */
function rawRequestError(message: string) {
  return new InvalidInputRpcError(rpcError(message))
}

t.test('network errors and timeouts are retryable', async (t) => {
  const fetchFailed = new HttpRequestError({
    url: 'http://127.0.0.1:1',
    cause: Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    }),
  })
  t.match(classifyError(fetchFailed), { disposition: 'retryable', kind: 'network' })
  t.match(classifyError(new TimeoutError({ body: {}, url: 'http://x' })), {
    disposition: 'retryable',
    kind: 'timeout',
  })
  t.match(classifyError(new HttpRequestError({ url: 'http://x', status: 502 })), {
    disposition: 'retryable',
  })
})

t.test('nonce races and fee refusals are retryable', async (t) => {
  for (const message of ['nonce too low', 'nonce too high', 'already known']) {
    t.match(classifyError(rpcError(message)), { disposition: 'retryable', kind: 'nonce' }, message)
  }
  for (const message of [
    'replacement transaction underpriced',
    'max fee per gas less than block base fee',
  ]) {
    t.match(
      classifyError(rpcError(message)),
      { disposition: 'retryable', kind: 'underpriced' },
      message,
    )
  }
  t.match(classifyError(rpcError('txpool is full')), { disposition: 'retryable', kind: 'busy' })
})

t.test('WithdrawalAlreadyProcessed means done', async (t) => {
  const err = new BaseError('call failed', {
    cause: revert(bridgeVaultAbi, 'WithdrawalAlreadyProcessed', [3n]),
  })
  t.match(classifyError(err), {
    disposition: 'done',
    kind: 'already-processed',
    detail: 'WithdrawalAlreadyProcessed',
  })
  // Raw revert data somewhere in the chain (no ABI at the call site) decodes the same.
  const data = encodeErrorResult({
    abi: bridgeVaultAbi,
    errorName: 'WithdrawalAlreadyProcessed',
    args: [3n],
  })
  t.match(classifyError(Object.assign(new Error('execution reverted'), { data })), {
    disposition: 'done',
  })
  t.match(
    classifyError(
      new BridgeError('RELAYER_TX_REVERTED', 'x', {
        details: { errorName: 'WithdrawalAlreadyProcessed' },
      }),
    ),
    {
      disposition: 'done',
    },
  )
})

t.test('passing contract states are retryable, other reverts permanent', async (t) => {
  t.match(classifyError(revert(bridgeVaultAbi, 'EnforcedPause', [])), {
    disposition: 'retryable',
    kind: 'paused',
  })
  t.match(
    classifyError(revert(bridgeVaultAbi, 'WindowLimitExceeded', ['0x' + '00'.repeat(20), 1n, 0n])),
    {
      disposition: 'retryable',
      kind: 'rate-limited',
    },
  )
  t.match(classifyError(revert(bridgeVaultAbi, 'InsufficientSignatures', [1n, 2n])), {
    disposition: 'retryable',
  })
  t.match(
    classifyError(
      revert(bridgeVaultAbi, 'TransactionLimitExceeded', ['0x' + '00'.repeat(20), 2n, 1n]),
    ),
    {
      disposition: 'permanent',
      kind: 'revert',
      detail: 'TransactionLimitExceeded',
    },
  )
  t.match(classifyError(revert(sidechainBridgeAbi, 'NotRelayer', ['0x' + '11'.repeat(20)])), {
    disposition: 'permanent',
  })
  t.match(classifyError(rpcError('execution reverted', 3)), {
    disposition: 'permanent',
    kind: 'revert',
  })
})

t.test('relayer errors', async (t) => {
  // The cap is per time window: the item waits for older spend to leave it.
  t.match(classifyError(new BridgeError('RELAYER_SPEND_CAP', 'cap')), {
    disposition: 'retryable',
    kind: 'spend-cap',
  })
  t.match(classifyError(new BridgeError('RELAYER_GAS_CAP', 'cap')), {
    disposition: 'permanent',
    kind: 'gas-cap',
  })
  t.match(classifyError(new BridgeError('RELAYER_PAYLOAD_CONFLICT', 'c')), {
    disposition: 'permanent',
    kind: 'conflict',
  })
  t.match(classifyError(new BridgeError('RELAYER_OUT_OF_GAS', 'g')), {
    disposition: 'retryable',
    kind: 'out-of-gas',
  })
  t.match(classifyError(new BridgeError('RELAYER_STOPPED', 's')), { kind: 'aborted' })
  t.match(classifyError(rpcError('insufficient funds for gas * price + value')), {
    disposition: 'permanent',
    kind: 'insufficient-funds',
  })
  t.match(classifyError(new Error('something odd')), { disposition: 'permanent', kind: 'unknown' })
})

t.test('node errors no rule names are retryable: only the node changes', async (t) => {
  for (const [message, code, kind] of [
    ['header not found', -32000, 'node-state'],
    ['missing trie node 0c1f2a (path )', -32000, 'node-state'],
    ['block height is 103 but requested was 21 (BlockOutOfRangeError)', -32000, 'node-state'],
    ['internal error', -32603, 'node'],
    ['something no client documents', -39001, 'rpc-unknown'],
  ] as const) {
    t.match(classifyError(rpcError(message, code)), { disposition: 'retryable', kind }, message)
    t.match(
      classifyError(rawRequestError(message)),
      { disposition: 'retryable' },
      `raw: ${message}`,
    )
  }
  // A revert stays a revert whatever code it comes with.
  t.match(classifyError(rpcError('execution reverted', -32603)), { disposition: 'permanent' })
})

t.test("refusals of a raw request are classified with viem's node error classes", async (t) => {
  t.match(classifyError(rawRequestError('nonce too low: next nonce 7, tx nonce 5')), {
    disposition: 'retryable',
    kind: 'nonce',
    detail: 'nonce too low: next nonce 7, tx nonce 5',
  })
  t.match(classifyError(rawRequestError('insufficient funds for gas * price + value')), {
    disposition: 'permanent',
    kind: 'insufficient-funds',
  })
  // Node wordings viem knows and a message regex of ours did not.
  for (const message of ['fee cap less than block base fee', 'transaction is outdated']) {
    t.match(
      classifyError(rawRequestError(message)),
      { disposition: 'retryable', kind: 'underpriced' },
      message,
    )
  }
  t.match(classifyError(rawRequestError('exceeds transaction sender account balance')), {
    disposition: 'permanent',
    kind: 'insufficient-funds',
  })
  // A class viem built itself (estimateGas, sendTransaction), whatever its message says.
  t.match(classifyError(new NonceTooLowError({ nonce: 5 })), {
    disposition: 'retryable',
    kind: 'nonce',
  })
  // Our own error wrapping a viem one is classified by what it wraps.
  t.match(
    classifyError(
      new Error('sending failed', { cause: new HttpRequestError({ url: 'http://x' }) }),
    ),
    { disposition: 'retryable', kind: 'network' },
  )
})

t.test(
  'a transaction the node already has is success for a broadcast, a low nonce is not',
  async (t) => {
    for (const message of [
      'already known',
      'transaction already imported',
      'known transaction: 0x' + 'ab'.repeat(32),
    ]) {
      t.ok(isKnownTransaction(rawRequestError(message)), message)
      t.match(classifyError(rawRequestError(message)), { kind: 'nonce' }, message)
    }
    for (const message of ['nonce too low', 'replacement transaction underpriced']) {
      t.notOk(isKnownTransaction(rawRequestError(message)), message)
    }
    t.notOk(isKnownTransaction(new Error('something odd')))
    t.notOk(isKnownTransaction(undefined))
  },
)
