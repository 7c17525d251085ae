/**
 * The one Solidity compiler of the tests: the solc-js from npm at its default EVM version,
 * `@openzeppelin/...` imports resolved from node_modules. Output is cached in the temp folder,
 * keyed by the compiler version, the sources and the settings, so repeated runs skip the
 * compile.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import solc from 'solc'

export interface CompiledContract {
  abi: unknown[]
  bytecode: `0x${string}`
  deployedBytecode: `0x${string}`
  evmVersion: string
}

export function compileSolidity(
  sources: Record<string, string>,
  options: { optimize?: boolean } = {},
): Record<string, CompiledContract> {
  const require = createRequire(import.meta.url)
  const optimize = options.optimize ?? true
  const key = createHash('sha256')
    .update(solc.version())
    .update(JSON.stringify({ sources, optimize }))
    .digest('hex')
    .slice(0, 24)
  const cacheFile = path.join(tmpdir(), `sidechain-solc-${key}.json`)
  if (existsSync(cacheFile)) {
    try {
      return JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, CompiledContract>
    } catch {
      // a torn cache file: compile again
    }
  }
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(
      Object.entries(sources).map(([name, content]) => [name, { content }]),
    ),
    settings: {
      optimizer: { enabled: optimize, runs: 200 },
      outputSelection: {
        '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'metadata'] },
      },
    },
  }
  const findImports = (importPath: string) => {
    try {
      return { contents: readFileSync(require.resolve(importPath), 'utf8') }
    } catch {
      return { error: `not found: ${importPath}` }
    }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as {
    errors?: Array<{ severity: string; formattedMessage: string }>
    contracts: Record<
      string,
      Record<
        string,
        {
          abi: unknown[]
          evm: { bytecode: { object: string }; deployedBytecode: { object: string } }
          metadata: string
        }
      >
    >
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  const result: Record<string, CompiledContract> = {}
  for (const file of Object.values(output.contracts)) {
    for (const [name, c] of Object.entries(file)) {
      result[name] = {
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        evmVersion: (JSON.parse(c.metadata) as { settings: { evmVersion: string } }).settings
          .evmVersion,
      }
    }
  }
  const temp = `${cacheFile}.${process.pid}.tmp`
  writeFileSync(temp, JSON.stringify(result))
  renameSync(temp, cacheFile)
  return result
}
