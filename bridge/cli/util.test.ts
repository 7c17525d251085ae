/**
 * `send`, the CLI's one way to send a contract call: gas headroom over the estimate, and a
 * call that would revert refused with its custom error before anything is sent. A stub
 * wallet records what would be sent (the round-trip test sends for real).
 */
import t from 'tap'
import { ContractFunctionRevertedError, encodeErrorResult, type Hash } from 'viem'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../deploy/index.ts'
import type { AnyWallet } from './context.ts'
import { GAS_MARGIN_PERCENT, send, userError } from './util.ts'

const VAULT = '0x00000000000000000000000000000000000000aa'
const HASH: Hash = `0x${'11'.repeat(32)}`

function stubWallet(estimate: () => Promise<bigint>) {
  const sent: Array<{ gas?: bigint }> = []
  const wallet = {
    account: { address: '0x00000000000000000000000000000000000000bb' },
    estimateContractGas: estimate,
    writeContract: async (call: { gas?: bigint }) => {
      sent.push(call)
      return HASH
    },
    waitForTransactionReceipt: async () => ({ status: 'success', transactionHash: HASH }),
  }
  return { wallet: wallet as unknown as AnyWallet, sent }
}

const call = {
  address: VAULT,
  abi: bridgeVaultAbi,
  functionName: 'release',
  args: [],
} as const

t.test('a call goes out with headroom over its gas estimate', async (t) => {
  const { wallet, sent } = stubWallet(async () => 120_000n)
  await send(wallet, call as never, 'release')
  t.equal(sent.length, 1)
  t.equal(sent[0]!.gas, (120_000n * (100n + GAS_MARGIN_PERCENT)) / 100n)
  t.equal(sent[0]!.gas, 150_000n, '25% more')
})

t.test('a call the estimate finds reverting is refused with its custom error', async (t) => {
  const data = encodeErrorResult({
    abi: bridgeVaultAbi,
    errorName: 'WindowLimitExceeded',
    args: [VAULT, 10n, 5n],
  })
  const { wallet, sent } = stubWallet(async () => {
    throw new ContractFunctionRevertedError({ abi: bridgeVaultAbi, data, functionName: 'release' })
  })
  await t.rejects(send(wallet, call as never, 'release'), { code: 'BRIDGE_OVER_LIMIT' })
  t.equal(sent.length, 0, 'nothing was sent')
})

t.test('withdrawal limit and vault balance reverts get typed codes', async (t) => {
  const cases = [
    ['WithdrawalBelowMinimum', sidechainBridgeAbi, [VAULT, 1n, 1000n], 'BRIDGE_BELOW_MINIMUM'],
    ['WithdrawalAboveMaximum', sidechainBridgeAbi, [VAULT, 10n ** 30n, 10n], 'BRIDGE_OVER_LIMIT'],
    ['InsufficientVaultBalance', bridgeVaultAbi, [VAULT, 1n, 5n], 'BRIDGE_VAULT_UNDERFUNDED'],
    ['NothingToClaim', bridgeVaultAbi, [VAULT], 'BRIDGE_NOT_FOUND'],
  ] as const
  for (const [errorName, abi, args, code] of cases) {
    const data = encodeErrorResult({ abi, errorName, args } as never)
    const err = new ContractFunctionRevertedError({ abi, data, functionName: 'withdraw' })
    t.match(userError(err, 'withdraw'), { code }, errorName)
  }
})
