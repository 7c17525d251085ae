/** A deployed DevToken (the verification fixture's contract) and what the explorer tests do with it. */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import solc from 'solc'
import { encodeAbiParameters, type Hex, parseAbiParameters } from 'viem'
import { cast, REPO_ROOT } from './devnet.ts'

export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/explorer')

/** The form body `forge verify-contract` sent, as URLSearchParams. */
export function forgeVerifyRequest(): URLSearchParams {
  return new URLSearchParams(
    readFileSync(path.join(FIXTURES, 'forge-verifysourcecode.body'), 'utf8'),
  )
}

/** Compiles the fixture's standard JSON input exactly as sent: what a forge user deployed. */
export function compileFixture(sourceOverride?: string): { bytecode: Hex; abi: unknown[] } {
  const request = forgeVerifyRequest()
  const input = JSON.parse(request.get('sourceCode')!) as {
    sources: Record<string, { content: string }>
  }
  if (sourceOverride !== undefined) input.sources['src/DevToken.sol']!.content = sourceOverride
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: Array<{ severity: string; formattedMessage: string }>
    contracts: Record<
      string,
      Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>
    >
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  const compiled = output.contracts['src/DevToken.sol']!.DevToken!
  return { bytecode: `0x${compiled.evm.bytecode.object}`, abi: compiled.abi }
}

export const DEV_TOKEN_ARGS = encodeAbiParameters(parseAbiParameters('string, string, uint256'), [
  'Dev Token',
  'DEV',
  10n ** 24n,
])

export interface DevTokenTransactions {
  token: Hex
  deployTx: Hex
  transferTx: Hex
  revertTx: Hex
}

/**
 * With the real cast: deploys DevToken, transfers 100 DEV to `recipient`, and sends a
 * transfer above the balance with a fixed gas limit (so cast does not refuse it at estimation)
 * that reverts on chain with "DevToken: transfer amount exceeds balance".
 */
export async function deployAndUseDevToken(
  rpcUrl: string,
  privateKey: Hex,
  recipient: Hex,
): Promise<DevTokenTransactions> {
  const { bytecode } = compileFixture()
  const send = async (args: string[]) =>
    JSON.parse(
      await cast(['send', '--private-key', privateKey, '--rpc-url', rpcUrl, '--json', ...args]),
    ) as {
      transactionHash: Hex
      contractAddress: Hex | null
      status: string
    }
  const deploy = await send(['--create', `${bytecode}${DEV_TOKEN_ARGS.slice(2)}`])
  const token = deploy.contractAddress!
  const transfer = await send([token, 'transfer(address,uint256)', recipient, '100'])
  const revert = await send([
    token,
    'transfer(address,uint256)',
    recipient,
    (10n ** 30n).toString(),
    '--gas-limit',
    '200000',
  ])
  return {
    token,
    deployTx: deploy.transactionHash,
    transferTx: transfer.transactionHash,
    revertTx: revert.transactionHash,
  }
}
