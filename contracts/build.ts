/**
 * Compiles contracts/src/**.sol with the solc-js of node_modules (pinned to SOLC_VERSION) and writes
 *   contracts/build/<Name>.json       { contractName, sourceName, abi, bytecode, deployedBytecode }
 *   contracts/generated/<Name>.ts     `<name>Abi` (as const) and `<name>Bytecode`
 *   contracts/generated/index.ts
 * Runs as the package's postinstall, so it skips all work when a hash of the sources, the compiler, the
 * OpenZeppelin version and this script matches the last build. Compiler errors are printed in full and the
 * process exits non-zero.
 *
 * Usage: node contracts/build.ts [--force] [--source-dir D] [--build-dir D] [--generated-dir D]
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ErrorCodeOf } from '../chain/lib/error-codes.ts'
import { SidechainError } from '../chain/lib/errors.ts'

export const SOLC_VERSION = '0.8.30'
export const OPTIMIZER_RUNS = 200
/** Bump when the shape of the artifacts or generated modules changes, so existing builds are redone. */
const ARTIFACT_FORMAT = 1

const CONTRACTS_DIR = path.dirname(fileURLToPath(import.meta.url))
const STAMP_FILE = '.build-hash'

export type ContractsBuildErrorCode = ErrorCodeOf<'contracts'>

export class ContractsBuildError extends SidechainError<ContractsBuildErrorCode> {
  override readonly name: string = 'ContractsBuildError'
}

export interface BuildOptions {
  /** Folder of the Solidity sources (default contracts/src). */
  sourceDir?: string
  /** Folder of the JSON artifacts and the hash stamp (default contracts/build). */
  buildDir?: string
  /** Folder of the generated TypeScript modules (default contracts/generated). */
  generatedDir?: string
  /** Rebuild even when nothing changed. */
  force?: boolean
  /** Receives compiler warnings and progress lines (default: nothing). */
  log?: (line: string) => void
}

export interface BuildResult {
  skipped: boolean
  hash: string
  /** Names of the contracts with generated artifacts. */
  contracts: string[]
}

interface CompiledContract {
  contractName: string
  sourceName: string
  abi: unknown[]
  bytecode: `0x${string}`
  deployedBytecode: `0x${string}`
}

interface SolcOutputError {
  severity: 'error' | 'warning' | 'info'
  formattedMessage?: string
  message: string
}

interface SolcOutput {
  errors?: SolcOutputError[]
  contracts?: Record<
    string,
    Record<
      string,
      {
        abi: unknown[]
        evm: { bytecode: { object: string }; deployedBytecode: { object: string } }
      }
    >
  >
}

interface Solc {
  version(): string
  compile(
    input: string,
    callbacks: { import: (p: string) => { contents: string } | { error: string } },
  ): string
}

const require = createRequire(import.meta.url)

/** Compiles the contracts unless the sources, compiler and settings are unchanged since the last build. */
export async function buildContracts(options: BuildOptions = {}): Promise<BuildResult> {
  const sourceDir = options.sourceDir ?? path.join(CONTRACTS_DIR, 'src')
  const buildDir = options.buildDir ?? path.join(CONTRACTS_DIR, 'build')
  const generatedDir = options.generatedDir ?? path.join(CONTRACTS_DIR, 'generated')
  const log = options.log ?? (() => {})

  const sources = await readSources(sourceDir)
  const hash = inputHash(sources)
  const stampPath = path.join(buildDir, STAMP_FILE)
  if (options.force !== true && (await upToDate(stampPath, hash, generatedDir))) {
    const stamp = JSON.parse(await readFile(stampPath, 'utf8')) as { contracts: string[] }
    return { skipped: true, hash, contracts: stamp.contracts }
  }

  const solc = loadSolc()
  log(`compiling ${sources.size} sources with solc ${solc.version()}`)
  const compiled = compile(solc, sources, log)

  await mkdir(buildDir, { recursive: true })
  await mkdir(generatedDir, { recursive: true })
  const names = compiled.map((c) => c.contractName)
  for (const contract of compiled) {
    await writeAtomic(
      path.join(buildDir, `${contract.contractName}.json`),
      `${JSON.stringify(contract, null, 2)}\n`,
    )
    await writeAtomic(
      path.join(generatedDir, `${contract.contractName}.ts`),
      generatedModule(contract),
    )
  }
  await writeAtomic(path.join(generatedDir, 'index.ts'), generatedIndex(names))
  await removeStale(buildDir, new Set([...names.map((n) => `${n}.json`), STAMP_FILE]))
  await removeStale(generatedDir, new Set([...names.map((n) => `${n}.ts`), 'index.ts']))
  // The stamp goes last: an interrupted build is redone next time.
  await writeAtomic(stampPath, `${JSON.stringify({ hash, contracts: names }, null, 2)}\n`)
  log(`wrote ${names.length} contracts: ${names.join(', ')}`)
  return { skipped: false, hash, contracts: names }
}

/** Whether the artifacts of the default folders match the current sources (what a build would skip on). */
export async function contractsUpToDate(
  options: Omit<BuildOptions, 'force' | 'log'> = {},
): Promise<boolean> {
  const sourceDir = options.sourceDir ?? path.join(CONTRACTS_DIR, 'src')
  const buildDir = options.buildDir ?? path.join(CONTRACTS_DIR, 'build')
  const generatedDir = options.generatedDir ?? path.join(CONTRACTS_DIR, 'generated')
  const hash = inputHash(await readSources(sourceDir))
  return upToDate(path.join(buildDir, STAMP_FILE), hash, generatedDir)
}

/** Source unit name (path relative to the source folder, with /) -> content. */
async function readSources(sourceDir: string): Promise<Map<string, string>> {
  const files = (await readdir(sourceDir, { recursive: true }))
    .filter((f) => f.endsWith('.sol'))
    .map((f) => f.split(path.sep).join('/'))
    .sort()
  if (files.length === 0) {
    throw new ContractsBuildError('CONTRACTS_NO_SOURCES', `no .sol files in ${sourceDir}`)
  }
  const sources = new Map<string, string>()
  for (const file of files) sources.set(file, await readFile(path.join(sourceDir, file), 'utf8'))
  return sources
}

function inputHash(sources: Map<string, string>): string {
  const h = createHash('sha256')
  const packageVersion = (name: string) =>
    (require(`${name}/package.json`) as { version: string }).version
  h.update(`solc ${packageVersion('solc')}\n`)
  h.update(`@openzeppelin/contracts ${packageVersion('@openzeppelin/contracts')}\n`)
  h.update(`format ${ARTIFACT_FORMAT}\n${JSON.stringify(compilerSettings())}\n`)
  for (const [name, content] of sources) h.update(`\n${name}\n${content.length}\n${content}`)
  return h.digest('hex')
}

async function upToDate(stampPath: string, hash: string, generatedDir: string): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(stampPath, 'utf8')) as {
      hash?: string
      contracts?: string[]
    }
    if (stamp.hash !== hash || !Array.isArray(stamp.contracts)) return false
    return [...stamp.contracts.map((n) => `${n}.ts`), 'index.ts'].every((f) =>
      existsSync(path.join(generatedDir, f)),
    )
  } catch {
    return false
  }
}

function loadSolc(): Solc {
  const solc = require('solc') as Solc
  const version = solc.version()
  if (!version.startsWith(`${SOLC_VERSION}+`)) {
    throw new ContractsBuildError(
      'CONTRACTS_COMPILER_VERSION',
      `solc ${SOLC_VERSION} is required, node_modules has ${version}`,
      { details: { expected: SOLC_VERSION, actual: version } },
    )
  }
  return solc
}

function compilerSettings() {
  return {
    // No evmVersion: the compiler's default, which the sidechain's hardfork must support.
    optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
    outputSelection: {
      '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
    },
  }
}

function compile(
  solc: Solc,
  sources: Map<string, string>,
  log: (line: string) => void,
): CompiledContract[] {
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries([...sources].map(([name, content]) => [name, { content }])),
    settings: compilerSettings(),
  }
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), { import: resolveImport }),
  ) as SolcOutput
  const problems = output.errors ?? []
  const errors = problems.filter((e) => e.severity === 'error')
  for (const warning of problems.filter((e) => e.severity !== 'error')) {
    log((warning.formattedMessage ?? warning.message).trimEnd())
  }
  if (errors.length > 0) {
    const text = errors.map((e) => (e.formattedMessage ?? e.message).trimEnd()).join('\n\n')
    throw new ContractsBuildError(
      'CONTRACTS_COMPILE_FAILED',
      `solc reported ${errors.length} error(s):\n\n${text}`,
      {
        details: { errors: errors.map((e) => e.formattedMessage ?? e.message) },
      },
    )
  }

  const result: CompiledContract[] = []
  const seen = new Map<string, string>()
  for (const sourceName of sources.keys()) {
    for (const [contractName, out] of Object.entries(output.contracts?.[sourceName] ?? {})) {
      // Interfaces and abstract contracts have no bytecode; internal-only libraries have no ABI.
      if (out.evm.bytecode.object === '' || out.abi.length === 0) continue
      const previous = seen.get(contractName)
      if (previous !== undefined) {
        throw new ContractsBuildError(
          'CONTRACTS_DUPLICATE_NAME',
          `contract ${contractName} is defined in ${previous} and ${sourceName}`,
        )
      }
      seen.set(contractName, sourceName)
      result.push({
        contractName,
        sourceName,
        abi: out.abi,
        bytecode: `0x${out.evm.bytecode.object}`,
        deployedBytecode: `0x${out.evm.deployedBytecode.object}`,
      })
    }
  }
  return result.sort((a, b) => a.contractName.localeCompare(b.contractName))
}

/** Resolves `@scope/pkg/...` imports from node_modules. Relative imports are resolved by solc itself. */
function resolveImport(importPath: string): { contents: string } | { error: string } {
  try {
    const [first, second, ...rest] = importPath.split('/')
    const pkg = first?.startsWith('@') ? `${first}/${second}` : first
    const inner = first?.startsWith('@') ? rest : [second, ...rest]
    if (pkg === undefined || inner.length === 0 || importPath.includes('..')) {
      return { error: `cannot resolve ${importPath}` }
    }
    const root = path.dirname(require.resolve(`${pkg}/package.json`))
    return { contents: readFileSync(path.join(root, ...(inner as string[])), 'utf8') }
  } catch (err) {
    return { error: `cannot resolve ${importPath}: ${(err as Error).message}` }
  }
}

const HEADER =
  '// Generated by contracts/build.ts from contracts/src. Do not edit; run `node contracts/build.ts`.\n'

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1)
}

function generatedModule(contract: CompiledContract): string {
  const base = lowerFirst(contract.contractName)
  return (
    HEADER +
    `// Source: ${contract.sourceName}\n\n` +
    `export const ${base}Abi = ${JSON.stringify(contract.abi, null, 2)} as const\n\n` +
    `export const ${base}Bytecode = '${contract.bytecode}' as const\n\n` +
    `export const ${base}DeployedBytecode = '${contract.deployedBytecode}' as const\n`
  )
}

function generatedIndex(names: string[]): string {
  const lines = names.map((n) => {
    const base = lowerFirst(n)
    return `export { ${base}Abi, ${base}Bytecode, ${base}DeployedBytecode } from './${n}.ts'`
  })
  return `${HEADER}\n${lines.join('\n')}\n`
}

async function writeAtomic(file: string, content: string): Promise<void> {
  try {
    if ((await readFile(file, 'utf8')) === content) return
  } catch {
    // missing: write it
  }
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, content)
  await rename(tmp, file)
}

async function removeStale(dir: string, keep: Set<string>): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (!keep.has(entry) && !entry.endsWith('.tmp'))
      await rm(path.join(dir, entry), { force: true })
  }
}

async function main(): Promise<void> {
  try {
    const { values } = parseArgs({
      options: {
        force: { type: 'boolean', default: false },
        'source-dir': { type: 'string' },
        'build-dir': { type: 'string' },
        'generated-dir': { type: 'string' },
      },
    })
    const started = Date.now()
    const result = await buildContracts({
      force: values.force,
      sourceDir: values['source-dir'],
      buildDir: values['build-dir'],
      generatedDir: values['generated-dir'],
      log: (line) => process.stderr.write(`${line}\n`),
    })
    const took = Date.now() - started
    process.stdout.write(
      result.skipped
        ? `contracts up to date (${result.contracts.length} contracts, ${took} ms)\n`
        : `compiled ${result.contracts.length} contracts in ${took} ms\n`,
    )
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}

// `import.meta.main` exists from Node 22.18 / 24.2; compare paths on older runtimes.
const isMain =
  (import.meta as { main?: boolean }).main ??
  (process.argv[1] !== undefined &&
    path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
if (isMain) await main()
