/**
 * The slots WithdrawalProver reads are the ones solc lays SidechainBridge out with: the
 * contract is compiled here for its storage layout (no code generation), so a change to the
 * contract's state variables fails this test instead of every withdrawal proof.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { encodeAbiParameters, keccak256 } from 'viem'
import {
  SIDECHAIN_BRIDGE_SLOTS,
  WITHDRAWAL_RECORD_FIELDS,
  withdrawalRecordSlot,
} from './withdrawal-proof.ts'

const require = createRequire(import.meta.url)
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../contracts/src')

interface StorageEntry {
  label: string
  slot: string
  offset: number
  type: string
}

function storageLayout(): {
  storage: StorageEntry[]
  types: Record<string, { members?: StorageEntry[] }>
} {
  const solc = require('solc') as { compile(input: string, options: unknown): string }
  const sources: Record<string, { content: string }> = {}
  for (const file of readdirSync(SRC).filter((f) => f.endsWith('.sol'))) {
    sources[file] = { content: readFileSync(path.join(SRC, file), 'utf8') }
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      outputSelection: { 'SidechainBridge.sol': { SidechainBridge: ['storageLayout'] } },
    },
  }
  const findImports = (p: string) => {
    try {
      return { contents: readFileSync(require.resolve(p), 'utf8') }
    } catch {
      return { error: `not found: ${p}` }
    }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as {
    errors?: Array<{ severity: string; formattedMessage: string }>
    contracts: Record<string, Record<string, { storageLayout: ReturnType<typeof storageLayout> }>>
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  return output.contracts['SidechainBridge.sol']!.SidechainBridge!.storageLayout
}

t.test('the proven slots match solc’s storage layout of SidechainBridge', async (t) => {
  const layout = storageLayout()
  const slotOf = (label: string) => {
    const entry = layout.storage.find((e) => e.label === label)
    if (entry === undefined) throw new Error(`no state variable ${label}`)
    t.equal(entry.offset, 0, `${label} has a slot of its own`)
    return BigInt(entry.slot)
  }
  t.equal(slotOf('l1SignerEpoch'), SIDECHAIN_BRIDGE_SLOTS.l1SignerEpoch)
  t.equal(slotOf('withdrawalCount'), SIDECHAIN_BRIDGE_SLOTS.withdrawalCount)
  t.equal(slotOf('_withdrawals'), SIDECHAIN_BRIDGE_SLOTS.withdrawals)

  const mapping = layout.storage.find((e) => e.label === '_withdrawals')!
  const valueType = /t_mapping\(t_uint256,(.+)\)$/.exec(mapping.type)![1]!
  const members = layout.types[valueType]!.members!
  for (const [name, offset] of Object.entries(WITHDRAWAL_RECORD_FIELDS)) {
    const member = members.find((m) => m.label === name)
    t.ok(member, `WithdrawalRecord.${name} exists`)
    t.equal(BigInt(member!.slot), offset, `WithdrawalRecord.${name} is at +${offset}`)
    t.equal(member!.offset, 0)
  }

  // keccak256(abi.encode(key, slot)): how solc places a mapping's value.
  const expected = BigInt(
    keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'uint256' }], [7n, 14n])),
  )
  t.equal(withdrawalRecordSlot(7n), expected, 'record slot of withdrawal 7')
})
