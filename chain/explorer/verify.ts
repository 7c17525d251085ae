/**
 * Source verification: compiles a standard-JSON input with a solc-js compiler available
 * here and compares the result with the code deployed at the address.
 *
 * - full match: the deployed code equals the compiled runtime code (immutable slots masked),
 *   metadata hash included, so the sources are byte for byte the ones deployed;
 * - partial match: equal once the CBOR metadata at the end of both is removed (same code,
 *   different comments or file names).
 *
 * Compilers: the solc-js this package depends on, plus `soljson-v<version>.js` files an
 * operator drops into the compilers folder (the files of binaries.soliditylang.org/bin).
 * A version that is in neither is refused with VERIFY_COMPILER_MISSING naming the folder.
 */
import { existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import solc from 'solc'
import { VerifyError } from './errors.ts'

export interface StandardJsonInput {
  language: string
  sources: Record<string, { content: string }>
  settings?: Record<string, unknown>
}

export interface VerificationRequest {
  /** `path/to/File.sol:Name` or just `Name` when it is unique. */
  contractName: string
  /** `v0.8.30+commit.73712a01` (the leading v is optional). */
  compilerVersion: string
  input: StandardJsonInput
  deployedCode: `0x${string}`
}

export interface VerificationResult {
  match: 'full' | 'partial'
  contractPath: string
  contractName: string
  compilerVersion: string
  abi: unknown[]
  creationCode: `0x${string}`
}

interface SolcCompiler {
  version(): string
  compile(input: string): string
}

/** Normalised `0.8.30+commit.73712a01`. */
export function normaliseVersion(version: string): string {
  const match = /^v?(\d+\.\d+\.\d+)\+commit\.([0-9a-f]{8})/.exec(version.trim())
  if (match === null)
    throw new VerifyError(
      'VERIFY_INPUT_INVALID',
      `compiler version "${version.slice(0, 60)}" is not of the form v0.8.30+commit.73712a01`,
    )
  return `${match[1]}+commit.${match[2]}`
}

/** The solc-js compilers this explorer can use, by normalised version. */
export class CompilerSet {
  readonly #folder: string | undefined
  readonly #loaded = new Map<string, SolcCompiler>()

  constructor(folder: string | undefined) {
    this.#folder = folder
    this.#loaded.set(normaliseVersion(solc.version()), solc as unknown as SolcCompiler)
  }

  available(): string[] {
    const versions = new Set(this.#loaded.keys())
    if (this.#folder !== undefined && existsSync(this.#folder))
      for (const file of readdirSync(this.#folder)) {
        const match = /^soljson-v(.+)\.js$/.exec(file)
        if (match !== null) versions.add(normaliseVersion(match[1]!))
      }
    return [...versions].sort()
  }

  get(version: string): SolcCompiler {
    const wanted = normaliseVersion(version)
    const loaded = this.#loaded.get(wanted)
    if (loaded !== undefined) return loaded
    const file =
      this.#folder === undefined ? undefined : path.join(this.#folder, `soljson-v${wanted}.js`)
    if (file === undefined || !existsSync(file))
      throw new VerifyError(
        'VERIFY_COMPILER_MISSING',
        `compiler v${wanted} is not available here (available: ${this.available()
          .map((v) => `v${v}`)
          .join(', ')})${
          this.#folder === undefined
            ? ''
            : `; an operator can add soljson-v${wanted}.js to ${this.#folder}`
        }`,
        { details: { wanted } },
      )
    const require = createRequire(import.meta.url)
    const wrapper = require('solc/wrapper') as (soljson: unknown) => SolcCompiler
    const compiler = wrapper(require(file))
    this.#loaded.set(wanted, compiler)
    return compiler
  }
}

export function parseStandardJson(text: string): StandardJsonInput {
  let input: unknown
  try {
    input = JSON.parse(text)
  } catch {
    throw new VerifyError('VERIFY_INPUT_INVALID', 'sourceCode is not valid JSON standard input')
  }
  const candidate = input as Partial<StandardJsonInput> | null
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    candidate.language !== 'Solidity' ||
    typeof candidate.sources !== 'object' ||
    candidate.sources === null ||
    Object.values(candidate.sources).some((s) => typeof s?.content !== 'string')
  )
    throw new VerifyError(
      'VERIFY_INPUT_INVALID',
      'sourceCode must be Solidity standard JSON input with the content of every source',
    )
  return candidate as StandardJsonInput
}

/**
 * Runtime code with its CBOR metadata removed: the last two bytes give the metadata length.
 * Code without a plausible trailer comes back unchanged.
 */
export function stripMetadata(code: string): string {
  const hex = code.startsWith('0x') ? code.slice(2) : code
  if (hex.length < 4) return hex
  const length = Number.parseInt(hex.slice(-4), 16)
  const total = (length + 2) * 2
  if (length === 0 || total > hex.length) return hex
  // CBOR maps of solc metadata start with 0xa1-0xa3 (one to three keys).
  const first = hex.slice(hex.length - total, hex.length - total + 2)
  if (!['a1', 'a2', 'a3', 'a4'].includes(first)) return hex
  return hex.slice(0, hex.length - total)
}

export function verifySource(
  request: VerificationRequest,
  compilers: CompilerSet,
): VerificationResult {
  const compiler = compilers.get(request.compilerVersion)
  const [wantedPath, wantedName] = request.contractName.includes(':')
    ? [
        request.contractName.slice(0, request.contractName.lastIndexOf(':')),
        request.contractName.slice(request.contractName.lastIndexOf(':') + 1),
      ]
    : [undefined, request.contractName]
  const input = {
    ...request.input,
    settings: {
      ...(request.input.settings ?? {}),
      outputSelection: {
        '*': {
          '*': [
            'abi',
            'evm.bytecode.object',
            'evm.deployedBytecode.object',
            'evm.deployedBytecode.immutableReferences',
          ],
        },
      },
    },
  }
  let output: {
    errors?: Array<{ severity: string; formattedMessage: string }>
    contracts?: Record<string, Record<string, CompiledOutput>>
  }
  try {
    output = JSON.parse(compiler.compile(JSON.stringify(input)))
  } catch (cause) {
    throw new VerifyError('VERIFY_COMPILE_FAILED', 'the compiler did not accept the input', {
      cause,
    })
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0)
    throw new VerifyError(
      'VERIFY_COMPILE_FAILED',
      `compilation failed: ${errors[0]!.formattedMessage.split('\n')[0]}`,
      { details: { errors: errors.map((e) => e.formattedMessage) } },
    )
  const candidates = Object.entries(output.contracts ?? {}).flatMap(([file, contracts]) =>
    Object.entries(contracts)
      .filter(([name]) => name === wantedName && (wantedPath === undefined || file === wantedPath))
      .map(([name, compiled]) => ({ file, name, compiled })),
  )
  if (candidates.length !== 1)
    throw new VerifyError(
      'VERIFY_CONTRACT_NOT_FOUND',
      candidates.length === 0
        ? `no contract ${request.contractName} in the compiled sources`
        : `${request.contractName} is ambiguous: name it as path:Name`,
    )
  const { file, name, compiled } = candidates[0]!
  const deployed = request.deployedCode.slice(2).toLowerCase()
  if (deployed.length === 0)
    throw new VerifyError('VERIFY_NO_CODE', 'there is no contract code at this address')
  const runtime = compiled.evm.deployedBytecode.object.toLowerCase()
  if (runtime.includes('__$'))
    throw new VerifyError(
      'VERIFY_BYTECODE_MISMATCH',
      'contracts that link external libraries are not supported yet',
    )
  const masked = maskImmutables(deployed, compiled.evm.deployedBytecode.immutableReferences ?? {})
  let match: 'full' | 'partial'
  if (masked === runtime) match = 'full'
  else if (stripMetadata(masked) === stripMetadata(runtime)) match = 'partial'
  else
    throw new VerifyError(
      'VERIFY_BYTECODE_MISMATCH',
      `the deployed code (${deployed.length / 2} bytes) is not what these sources compile to (${runtime.length / 2} bytes) with v${normaliseVersion(request.compilerVersion)} and the given settings`,
    )
  return {
    match,
    contractPath: file,
    contractName: name,
    compilerVersion: `v${normaliseVersion(request.compilerVersion)}`,
    abi: compiled.abi,
    creationCode: `0x${compiled.evm.bytecode.object}`,
  }
}

interface CompiledOutput {
  abi: unknown[]
  evm: {
    bytecode: { object: string }
    deployedBytecode: {
      object: string
      immutableReferences?: Record<string, Array<{ start: number; length: number }>>
    }
  }
}

/** The compiler leaves immutable slots zero; the deployed code has their values. */
function maskImmutables(
  code: string,
  references: Record<string, Array<{ start: number; length: number }>>,
): string {
  let masked = code
  for (const slots of Object.values(references))
    for (const { start, length } of slots)
      masked =
        masked.slice(0, start * 2) + '0'.repeat(length * 2) + masked.slice((start + length) * 2)
  return masked
}
