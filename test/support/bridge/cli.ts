/** Runs the real `sidechain` CLI as a child process (same Node as the tests) and collects its output. */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { LocalAccount } from 'viem'
import {
  type BridgeEnv,
  CLI,
  L1_CHAIN_ID,
  privateKeyOf,
  REPO_ROOT,
  SIDECHAIN_CHAIN_ID,
} from './env.ts'

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
  /** Parsed stdout when it is JSON. */
  json: Record<string, unknown> | undefined
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.SIDECHAIN_PRIVATE_KEY
    delete env.SIDECHAIN_NETWORK
    for (const [k, v] of Object.entries(options.env ?? {})) {
      if (v === undefined) delete env[k]
      else env[k] = v
    }
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8')
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8')
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`CLI ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      let json: Record<string, unknown> | undefined
      try {
        json = JSON.parse(stdout) as Record<string, unknown>
      } catch {}
      if (process.env.BRIDGE_TEST_VERBOSE === '1')
        process.stderr.write(`$ sidechain ${args.join(' ')}\n${stderr}${stdout}`)
      resolve({ code, stdout, stderr, json })
    })
  })
}

/** Writes the devnet-style network file for `env` and returns its path. */
export function writeNetworkFile(env: BridgeEnv): string {
  const file = path.join(env.dir, 'network.json')
  writeFileSync(
    file,
    JSON.stringify(
      {
        l1: {
          rpcUrl: env.anvil.url,
          chainId: L1_CHAIN_ID,
          vault: env.vault,
          tokens: { TST: env.token },
          confirmations: env.options.confirmations,
        },
        l2: {
          rpcUrls: [env.sidechainUrl],
          wsUrls: [],
          chainId: SIDECHAIN_CHAIN_ID,
          bridge: env.bridge,
        },
      },
      null,
      2,
    ),
  )
  return file
}

/** `sidechain bridge <args> --network FILE` as `account`. */
export function bridgeCli(
  network: string,
  account: LocalAccount | undefined,
  args: string[],
  timeoutMs?: number,
) {
  return runCli(['bridge', ...args, '--network', network], {
    env: { SIDECHAIN_PRIVATE_KEY: account === undefined ? undefined : privateKeyOf(account) },
    timeoutMs,
  })
}
