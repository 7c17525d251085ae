/**
 * Differential test: the same sequence of real `cast` commands against our node and an
 * anvil node (both funded with the dev accounts, both on Osaka rules), outputs compared
 * after normalizing what legitimately differs (hashes, signatures, timestamps, chain id,
 * base fee and prices, block numbers, consensus header fields).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { type Abi, encodeDeployData, encodeFunctionData } from 'viem'
import { DEV_ACCOUNTS } from '../../chain/cli/devnet-command.ts'
import { foundryBinary, startAnvil } from '../../chain/lib/foundry.ts'
import { compileProbe, startRpcNode } from '../support/rpc-node.ts'

const exec = promisify(execFile)
const cast = foundryBinary('cast')
const probe = compileProbe()
const abi = probe.abi as Abi
const [alice, , carol] = DEV_ACCOUNTS

/** Fields whose values differ between two honest chains running the same transactions. */
const VOLATILE = new Set([
  'hash',
  'transactionHash',
  'blockHash',
  'parentHash',
  'stateRoot',
  'transactionsRoot',
  'receiptsRoot',
  'timestamp',
  'blockTimestamp',
  'number',
  'blockNumber',
  'baseFeePerGas',
  'gasPrice',
  'effectiveGasPrice',
  'maxFeePerGas',
  'maxPriorityFeePerGas',
  'r',
  's',
  'v',
  'yParity',
  'chainId',
  'miner',
  'extraData',
  'mixHash',
  'difficulty',
  'totalDifficulty',
  'size',
])
/**
 * anvil reports blobGasPrice on every receipt; geth (and we) only on blob transactions.
 * anvil still reports totalDifficulty, which the execution API spec dropped (and we with it).
 */
const ANVIL_ONLY = new Set(['blobGasPrice', 'totalDifficulty'])

function normalize(value: unknown, key = ''): unknown {
  if (VOLATILE.has(key) && value !== null) return '<volatile>'
  if (Array.isArray(value)) return value.map((v) => normalize(v))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([k]) => !ANVIL_ONLY.has(k))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, normalize(v, k)]),
    )
  }
  return value
}

t.test('cast against our node and anvil', async (t) => {
  // `cast run` traces with debug_traceTransaction, off unless named.
  const ours = await startRpcNode({
    blockPeriodMs: 200,
    rpc: { apis: ['eth', 'net', 'web3', 'debug'] },
  })
  t.teardown(() => ours.stop())
  const anvil = await startAnvil({
    accounts: 3,
    balance: 10_000,
    extraArgs: ['--hardfork', 'osaka'],
  })
  t.teardown(() => anvil.stop())
  const nodes = { ours: ours.url, anvil: anvil.url }

  const castOn = async (url: string, args: string[]) => {
    const [command, ...rest] = args
    try {
      const { stdout } = await exec(cast, [command!, '--rpc-url', url, ...rest], {
        timeout: 60_000,
      })
      return stdout.trim()
    } catch (err) {
      const e = err as { stderr?: string; message: string }
      return `ERROR ${(e.stderr ?? e.message).trim()}`
    }
  }
  /** Runs the command on both nodes (ours first, then anvil) and returns both outputs. */
  const both = async (...args: string[]) => ({
    ours: await castOn(nodes.ours, args),
    anvil: await castOn(nodes.anvil, args),
  })
  const same = async (label: string, ...args: string[]) => {
    const out = await both(...args)
    t.equal(out.ours, out.anvil, label)
    return out.ours
  }
  const sameJson = async (label: string, ...args: string[]) => {
    const out = await both(...args, '--json')
    let parsed: { ours: unknown; anvil: unknown }
    try {
      parsed = { ours: JSON.parse(out.ours), anvil: JSON.parse(out.anvil) }
    } catch {
      t.fail(`${label}: not JSON`, out)
      return { ours: {} as Record<string, unknown>, anvil: {} as Record<string, unknown> }
    }
    t.same(normalize(parsed.ours), normalize(parsed.anvil), label)
    return parsed as { ours: Record<string, unknown>; anvil: Record<string, unknown> }
  }

  const ids = await both('chain-id')
  t.same(ids, { ours: '1337', anvil: '31337' }, 'chain-id (differs by design)')
  const heights = await both('block-number')
  t.match(heights, { ours: /^\d+$/, anvil: /^\d+$/ }, 'block-number')
  await same('balance of an untouched dev account', 'balance', carol.address)
  await same('nonce before', 'nonce', alice.address)

  const dead = '0x000000000000000000000000000000000000dEaD'
  await sameJson(
    'send --value receipt',
    'send',
    '--private-key',
    alice.privateKey,
    dead,
    '--value',
    '1ether',
  )
  await same('balance of the recipient', 'balance', dead)
  await same('nonce after', 'nonce', alice.address)

  const deployData = encodeDeployData({ abi, bytecode: probe.bytecode, args: [7n] })
  const deployed = await sameJson(
    'send --create receipt',
    'send',
    '--private-key',
    alice.privateKey,
    '--create',
    deployData,
  )
  const probeAddress = deployed.ours.contractAddress as string
  t.equal(probeAddress, deployed.anvil.contractAddress, 'same contract address')
  await same('code', 'code', probeAddress)
  await same('storage slot 0', 'storage', probeAddress, '0')
  t.equal(await same('call', 'call', probeAddress, 'value()(uint256)'), '7')
  await same(
    'estimate',
    'estimate',
    probeAddress,
    'store(uint256,bytes)',
    '42',
    '0xbeef',
    '--from',
    alice.address,
  )
  const reverted = await both('call', probeAddress, 'fail(string)', 'boom')
  t.match(reverted.ours, /execution reverted: boom/, 'reverting call (ours)')
  t.match(reverted.anvil, /execution reverted: boom/, 'reverting call (anvil)')

  const stored = await sameJson(
    'send with logs',
    'send',
    '--private-key',
    alice.privateKey,
    probeAddress,
    'store(uint256,bytes)',
    '42',
    '0xbeef',
  )
  t.equal((stored.ours.logs as unknown[]).length, 1)
  const nested = await sameJson(
    'send nested call',
    'send',
    '--private-key',
    alice.privateKey,
    probeAddress,
    'callOther(address,bytes)',
    probeAddress,
    encodeFunctionData({ abi, functionName: 'store', args: [43n, '0x01'] }),
  )
  const hashes = {
    ours: nested.ours.transactionHash as string,
    anvil: nested.anvil.transactionHash as string,
  }
  const pair = async (label: string, ...args: string[]) => {
    const out = {
      ours: JSON.parse(
        await castOn(nodes.ours, [...args.map((a) => (a === '$TX' ? hashes.ours : a)), '--json']),
      ),
      anvil: JSON.parse(
        await castOn(nodes.anvil, [...args.map((a) => (a === '$TX' ? hashes.anvil : a)), '--json']),
      ),
    }
    t.same(normalize(out.ours), normalize(out.anvil), label)
    return out
  }
  await pair('receipt', 'receipt', '$TX')
  await pair('tx', 'tx', '$TX')
  const blocks = {
    ours: nested.ours.blockNumber as string,
    anvil: nested.anvil.blockNumber as string,
  }
  const block = {
    ours: JSON.parse(
      await castOn(nodes.ours, ['block', String(BigInt(blocks.ours)), '--full', '--json']),
    ),
    anvil: JSON.parse(
      await castOn(nodes.anvil, ['block', String(BigInt(blocks.anvil)), '--full', '--json']),
    ),
  }
  t.same(normalize(block.ours), normalize(block.anvil), 'block --full')
  await sameJson('logs', 'logs', '--from-block', '0', '--address', probeAddress)
  const prices = await both('gas-price')
  t.match(prices, { ours: /^[1-9]\d*$/, anvil: /^[1-9]\d*$/ }, 'gas-price')
  const baseFees = await both('base-fee')
  t.match(baseFees, { ours: /^[1-9]\d*$/, anvil: /^[1-9]\d*$/ }, 'base-fee')
  t.equal(baseFees.ours, '100000000', 'our base fee sits at the floor')

  const runs = {
    ours: await castOn(nodes.ours, ['run', hashes.ours]),
    anvil: await castOn(nodes.anvil, ['run', hashes.anvil]),
  }
  t.match(runs.ours, /Transaction successfully executed/)
  t.equal(runs.ours, runs.anvil, 'cast run prints the same trace')
})
