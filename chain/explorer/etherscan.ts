/**
 * The Etherscan-compatible `module=contract` API that `forge verify-contract --verifier
 * etherscan --verifier-url <explorer>/api` and Hardhat's verify plugin call:
 * `verifysourcecode` (returns a GUID, the work runs after the answer), `checkverifystatus`,
 * `getsourcecode` and `getabi`. Answers use Etherscan's envelope and wording, which those
 * tools match on ("Pass - Verified", "Pending in queue", "Contract source code not verified").
 */
import { randomUUID } from 'node:crypto'
import type { Hex, PublicClient } from 'viem'
import { isAddress } from 'viem'
import type { Logger } from '../lib/logger.ts'
import { VerifyError } from './errors.ts'
import type { IndexStore } from './store.ts'
import { type CompilerSet, parseStandardJson, verifySource } from './verify.ts'

export interface EtherscanEnvelope {
  status: '0' | '1'
  message: string
  result: unknown
}

const NOT_VERIFIED = 'Contract source code not verified'

type JobState = { state: 'pending' } | { state: 'pass' } | { state: 'fail'; reason: string }

export interface EtherscanApiModules {
  client: PublicClient
  store: IndexStore
  compilers: CompilerSet
  logger: Logger
  chainId: () => number
}

export class EtherscanApi {
  readonly #modules: EtherscanApiModules
  /** Verification jobs by GUID; a bounded map (oldest dropped) so a flood cannot grow it. */
  readonly #jobs = new Map<string, JobState>()
  #queue: Promise<void> = Promise.resolve()

  constructor(modules: EtherscanApiModules) {
    this.#modules = modules
  }

  async handle(params: URLSearchParams): Promise<EtherscanEnvelope> {
    const chainId = params.get('chainid')
    if (chainId !== null && Number(chainId) !== this.#modules.chainId())
      return notOk(
        `chainid ${chainId} is not served here (this explorer follows chain ${this.#modules.chainId()})`,
      )
    const module = params.get('module')
    const action = params.get('action')
    if (module !== 'contract')
      return notOk(`module ${module ?? '(none)'} is not supported; use module=contract`)
    switch (action) {
      case 'verifysourcecode':
        return this.#submit(params)
      case 'checkverifystatus': {
        const job = this.#jobs.get(params.get('guid') ?? '')
        if (job === undefined) return notOk('Fail - Unable to verify. Unknown GUID')
        if (job.state === 'pending') return notOk('Pending in queue')
        if (job.state === 'pass') return ok('Pass - Verified')
        return notOk(`Fail - Unable to verify. ${job.reason}`)
      }
      case 'getsourcecode':
        return this.#sourceCode(params.get('address'))
      case 'getabi': {
        const address = params.get('address')
        if (address === null || !isAddress(address)) return notOk('Invalid Address format')
        const verified = await this.#modules.store.verified(address)
        return verified === undefined ? notOk(NOT_VERIFIED) : ok(JSON.stringify(verified.abi))
      }
      default:
        return notOk(`action ${action ?? '(none)'} is not supported`)
    }
  }

  /** Verification of one request (also what the page's form and tests call directly). */
  async verify(params: URLSearchParams): Promise<void> {
    const address = params.get('contractaddress') as Hex
    const input = parseStandardJson(params.get('sourceCode') ?? '')
    const deployedCode = await this.#modules.client.getCode({ address })
    const result = verifySource(
      {
        contractName: params.get('contractname') ?? '',
        compilerVersion: params.get('compilerversion') ?? '',
        input,
        deployedCode: deployedCode ?? '0x',
      },
      this.#modules.compilers,
    )
    // Checked again here, not only at submission: two jobs for one address may run back to
    // back, and a later partial match must never replace a full one (nor another partial).
    const existing = await this.#modules.store.verified(address)
    if (existing !== undefined && (existing.match === 'full' || result.match === 'partial'))
      throw new VerifyError(
        'VERIFY_BYTECODE_MISMATCH',
        `the contract is already verified (${existing.match} match); only a full match can replace a partial one`,
      )
    await this.#modules.store.putVerified({
      address: address.toLowerCase() as Hex,
      contractName: result.contractName,
      contractPath: result.contractPath,
      compilerVersion: result.compilerVersion,
      match: result.match,
      abi: result.abi,
      input,
      // Etherscan's parameter name is misspelled; tools send that spelling.
      constructorArguments:
        params.get('constructorArguements') ?? params.get('constructorArguments') ?? '',
      verifiedAt: Date.now(),
    })
  }

  async #submit(params: URLSearchParams): Promise<EtherscanEnvelope> {
    const address = params.get('contractaddress')
    if (address === null || !isAddress(address)) return notOk('Invalid contract address format')
    const format = params.get('codeformat') ?? 'solidity-standard-json-input'
    if (format !== 'solidity-standard-json-input')
      return notOk(`codeformat ${format} is not supported; send solidity-standard-json-input`)
    for (const field of ['sourceCode', 'contractname', 'compilerversion'])
      if ((params.get(field) ?? '') === '') return notOk(`Missing ${field}`)
    const verified = await this.#modules.store.verified(address)
    if (verified?.match === 'full') return notOk('Contract source code already verified')
    const guid = randomUUID()
    this.#jobs.set(guid, { state: 'pending' })
    while (this.#jobs.size > 10_000) this.#jobs.delete(this.#jobs.keys().next().value!)
    // One compile at a time: solc-js is synchronous and large inputs take seconds.
    this.#queue = this.#queue.then(async () => {
      try {
        await this.verify(params)
        this.#jobs.set(guid, { state: 'pass' })
      } catch (err) {
        const reason = err instanceof VerifyError ? err.message : 'internal error while verifying'
        if (!(err instanceof VerifyError))
          this.#modules.logger.error({ err }, 'verification failed')
        this.#jobs.set(guid, { state: 'fail', reason })
      }
    })
    return ok(guid)
  }

  async #sourceCode(address: string | null): Promise<EtherscanEnvelope> {
    if (address === null || !isAddress(address)) return notOk('Invalid Address format')
    const verified = await this.#modules.store.verified(address)
    if (verified === undefined)
      return ok([
        {
          SourceCode: '',
          ABI: NOT_VERIFIED,
          ContractName: '',
          CompilerVersion: '',
          OptimizationUsed: '',
          Runs: '',
          ConstructorArguments: '',
          EVMVersion: 'Default',
          Library: '',
          LicenseType: '',
          Proxy: '0',
          Implementation: '',
          SwarmSource: '',
        },
      ])
    const settings = (verified.input.settings ?? {}) as {
      optimizer?: { enabled?: boolean; runs?: number }
      evmVersion?: string
    }
    return ok([
      {
        // Etherscan wraps standard JSON input in double braces.
        SourceCode: `{${JSON.stringify(verified.input)}}`,
        ABI: JSON.stringify(verified.abi),
        ContractName: verified.contractName,
        CompilerVersion: verified.compilerVersion,
        OptimizationUsed: settings.optimizer?.enabled === true ? '1' : '0',
        Runs: String(settings.optimizer?.runs ?? 200),
        ConstructorArguments: verified.constructorArguments,
        EVMVersion: settings.evmVersion ?? 'Default',
        Library: '',
        LicenseType: '',
        Proxy: '0',
        Implementation: '',
        SwarmSource: '',
      },
    ])
  }
}

function ok(result: unknown): EtherscanEnvelope {
  return { status: '1', message: 'OK', result }
}

function notOk(result: string): EtherscanEnvelope {
  return { status: '0', message: 'NOTOK', result }
}
