/**
 * Decoding calls and logs for the pages: with the verified ABI of the contract when there
 * is one, else with the signatures every explorer knows (ERC-20, ERC-721) and the bridge's
 * own ABIs, which ship with this package.
 */
import { type Abi, decodeEventLog, decodeFunctionData, type Hex, parseAbi } from 'viem'
import { sidechainBridgeAbi, wrappedTokenAbi } from '../../contracts/generated/index.ts'

const WELL_KNOWN: Abi[] = [
  parseAbi([
    'function transfer(address to, uint256 amount) returns (bool)',
    'function approve(address spender, uint256 amount) returns (bool)',
    'function transferFrom(address from, address to, uint256 amount) returns (bool)',
    'event Transfer(address indexed from, address indexed to, uint256 value)',
    'event Approval(address indexed owner, address indexed spender, uint256 value)',
  ]),
  parseAbi([
    'function safeTransferFrom(address from, address to, uint256 tokenId)',
    'function setApprovalForAll(address operator, bool approved)',
    'event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)',
    'event ApprovalForAll(address indexed owner, address indexed operator, bool approved)',
  ]),
  sidechainBridgeAbi as Abi,
  wrappedTokenAbi as Abi,
]

export interface DecodedCall {
  name: string
  args: Array<{ name: string; type: string; value: string }>
  source: 'verified' | 'known'
}

export interface DecodedLog {
  name: string
  args: Array<{ name: string; value: string }>
  source: 'verified' | 'known'
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`
  if (value !== null && typeof value === 'object')
    return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v))
  return String(value)
}

export function decodeCall(input: Hex, verifiedAbi: Abi | undefined): DecodedCall | undefined {
  if (input.length < 10) return undefined
  const attempts: Array<[Abi, DecodedCall['source']]> = [
    ...(verifiedAbi === undefined ? [] : [[verifiedAbi, 'verified'] as [Abi, 'verified']]),
    ...WELL_KNOWN.map((abi) => [abi, 'known'] as [Abi, 'known']),
  ]
  for (const [abi, source] of attempts) {
    try {
      const decoded = decodeFunctionData({ abi, data: input })
      const item = abi.find((i) => i.type === 'function' && i.name === decoded.functionName) as
        | { inputs: Array<{ name?: string; type: string }> }
        | undefined
      const args = (decoded.args ?? []) as unknown[]
      return {
        name: decoded.functionName,
        args: args.map((value, i) => ({
          name: item?.inputs[i]?.name ?? `arg${i}`,
          type: item?.inputs[i]?.type ?? '',
          value: show(value),
        })),
        source,
      }
    } catch {
      // not this ABI
    }
  }
  return undefined
}

export function decodeLog(
  log: { topics: Hex[]; data: Hex },
  verifiedAbi: Abi | undefined,
): DecodedLog | undefined {
  const attempts: Array<[Abi, DecodedLog['source']]> = [
    ...(verifiedAbi === undefined ? [] : [[verifiedAbi, 'verified'] as [Abi, 'verified']]),
    ...WELL_KNOWN.map((abi) => [abi, 'known'] as [Abi, 'known']),
  ]
  for (const [abi, source] of attempts) {
    try {
      const decoded = decodeEventLog({
        abi,
        topics: log.topics as [Hex, ...Hex[]],
        data: log.data,
        strict: true,
      })
      const args = decoded.args as Record<string, unknown> | unknown[] | undefined
      const entries =
        args === undefined
          ? []
          : Array.isArray(args)
            ? args.map((v, i) => [`arg${i}`, v] as const)
            : Object.entries(args)
      return {
        name: decoded.eventName ?? 'event',
        args: entries.map(([name, value]) => ({ name, value: show(value) })),
        source,
      }
    } catch {
      // not this ABI
    }
  }
  return undefined
}

/** The bridge's calls that the bridge page tracks: a link from the explorer to its tracker. */
export function bridgeStep(decoded: DecodedCall | undefined): 'withdrawal' | 'deposit' | undefined {
  if (decoded === undefined) return undefined
  if (decoded.name.startsWith('withdraw')) return 'withdrawal'
  if (decoded.name === 'confirmDeposit' || decoded.name === 'confirmDeposits') return 'deposit'
  return undefined
}
