/**
 * Locates the Foundry binaries shipped in the `@foundry-rs/*` npm packages and runs anvil
 * as an embedded L1 (devnet) or a test fixture. We spawn the real platform binary, not the
 * npm wrapper script, so that killing the child really stops anvil.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { ErrorCodeOf } from './error-codes.ts'
import { SidechainError } from './errors.ts'

export type FoundryErrorCode = ErrorCodeOf<'foundry'>

export class FoundryError extends SidechainError<FoundryErrorCode> {
  override readonly name: string = 'FoundryError'
}

export type FoundryTool = 'anvil' | 'cast'

const PLATFORM_SUFFIX: Record<string, Record<string, string>> = {
  linux: { x64: 'linux-amd64', arm64: 'linux-arm64' },
  darwin: { x64: 'darwin-amd64', arm64: 'darwin-arm64' },
  win32: { x64: 'win32-amd64' },
}

/** Absolute path of the real `anvil` or `cast` binary from node_modules. */
export function foundryBinary(tool: FoundryTool): string {
  const suffix = PLATFORM_SUFFIX[process.platform]?.[process.arch]
  if (suffix === undefined) {
    throw new FoundryError('FOUNDRY_UNSUPPORTED_PLATFORM', `no ${tool} binary for this platform`, {
      details: { platform: process.platform, arch: process.arch },
    })
  }
  const require = createRequire(import.meta.url)
  try {
    const pkg = require.resolve(`@foundry-rs/${tool}-${suffix}/package.json`)
    return path.join(path.dirname(pkg), 'bin', process.platform === 'win32' ? `${tool}.exe` : tool)
  } catch (cause) {
    throw new FoundryError('FOUNDRY_NOT_INSTALLED', `@foundry-rs/${tool} is not installed`, {
      details: { hint: 'run npm install' },
      cause,
    })
  }
}

export interface AnvilOptions {
  /** 0 (default) lets anvil pick a free port; the chosen one is read from its output. */
  port?: number
  host?: string
  chainId?: number
  /** Seconds between blocks; omitted = automine on every transaction. */
  blockTime?: number
  accounts?: number
  /** Balance of every dev account, in ether. */
  balance?: number
  mnemonic?: string
  /** Persist state to this file and reload it on start (devnet resume). */
  stateFile?: string
  extraArgs?: string[]
  /** Receives every line anvil prints (for log files). */
  onOutput?: (line: string) => void
  startTimeoutMs?: number
}

export interface AnvilInstance {
  url: string
  wsUrl: string
  port: number
  process: ChildProcess
  stop(): Promise<void>
}

/** Starts anvil and resolves once it listens. */
export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilInstance> {
  const host = options.host ?? '127.0.0.1'
  const args = ['--host', host, '--port', String(options.port ?? 0)]
  if (options.chainId !== undefined) args.push('--chain-id', String(options.chainId))
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime))
  if (options.accounts !== undefined) args.push('--accounts', String(options.accounts))
  if (options.balance !== undefined) args.push('--balance', String(options.balance))
  if (options.mnemonic !== undefined) args.push('--mnemonic', options.mnemonic)
  if (options.stateFile !== undefined) args.push('--state', options.stateFile)
  args.push(...(options.extraArgs ?? []))

  const child = spawn(foundryBinary('anvil'), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new FoundryError('ANVIL_START_TIMEOUT', 'anvil did not start listening in time', {
          details: { output: output.slice(-20).join('\n') },
        }),
      )
    }, options.startTimeoutMs ?? 15_000)
    let buffered = ''
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        output.push(line)
        if (output.length > 200) output.shift()
        options.onOutput?.(line)
        const match = /Listening on [^\s:]+:(\d+)/.exec(line)
        if (match !== null) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(
        new FoundryError('ANVIL_EXITED', 'anvil exited before it was ready', {
          details: { code, signal, output: output.slice(-20).join('\n') },
        }),
      )
    })
  })

  let stopped: Promise<void> | undefined
  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}`,
    port,
    process: child,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        child.once('exit', () => {
          clearTimeout(killTimer)
          resolve()
        })
        child.kill('SIGTERM')
      })
      return stopped
    },
  }
}
