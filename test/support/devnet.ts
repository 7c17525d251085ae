/** Running the real CLI and the real `cast` against a devnet, and checking that processes are gone. */
import { execFile, spawn } from 'node:child_process'
import path from 'node:path'
import { type Devnet, startDevnet } from '../../chain/devnet/devnet.ts'
import { foundryBinary } from '../../chain/lib/foundry.ts'
import { tempDir } from './chain.ts'

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
export const CLI = path.join(REPO_ROOT, 'chain/cli/main.ts')

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** `sidechain <args>` with the Node running the tests. */
export function sidechain(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env }
    delete env.SIDECHAIN_NETWORK
    if (options.env?.SIDECHAIN_PRIVATE_KEY === undefined) delete env.SIDECHAIN_PRIVATE_KEY
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
      reject(new Error(`sidechain ${args.join(' ')} timed out\n${stdout}\n${stderr}`))
    }, options.timeoutMs ?? 90_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The real `cast` binary; resolves with trimmed stdout, rejects with stderr on a non-zero exit. */
export function cast(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(foundryBinary('cast'), args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`cast ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout.trim())
    })
  })
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * A whole devnet (`startDevnet`, what `npm start` runs) on free ports in a temp folder, for tests that need the
 * real topology (validator and relayer processes, the web app). Share one across a file's assertions: it takes
 * a while to start. `stop` stops it and removes the folder.
 */
export async function startTestDevnet(
  flags: { validators?: number; relayers?: number; threshold?: number; blockTimeMs?: number } = {},
): Promise<{ devnet: Devnet; stop(): Promise<void> }> {
  const dir = tempDir('devnet-test-')
  try {
    const devnet = await startDevnet({
      datadir: dir.path,
      ...flags,
      rpcPort: 0,
      p2pPort: 0,
      l1Port: 0,
      validatorMetricsPort: 0,
      relayerMetricsPort: 0,
      explorerPort: 0,
      faucetPort: 0,
      uiPort: 0,
      logLevel: 'warn',
    })
    return {
      devnet,
      stop: async () => {
        await devnet.stop()
        dir.remove()
      },
    }
  } catch (err) {
    dir.remove()
    throw err
  }
}
