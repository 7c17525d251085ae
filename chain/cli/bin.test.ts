/**
 * The package's `bin` entry (`chain/cli/sidechain.js`) must run the CLI: `import.meta.main`
 * is false inside main.ts when the shim imports it, so the shim calls main() itself.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'

const BIN = path.resolve(import.meta.dirname, 'sidechain.js')

function runBin(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 })
}

t.test('the bin shim runs the CLI', (t) => {
  const help = runBin('--help')
  t.equal(help.status, 0, help.stderr)
  t.match(help.stdout, /Usage: sidechain/)
  for (const command of ['node', 'genesis', 'devnet', 'relayer', 'bridge', 'ui']) {
    t.match(help.stdout, new RegExp(`\\n\\s+${command}\\b`), `lists ${command}`)
  }
  t.end()
})

t.test('the bin shim exits 2 on an unknown command', (t) => {
  const bad = runBin('no-such-command')
  t.equal(bad.status, 2)
  t.match(bad.stderr, /unknown command/)
  t.end()
})

t.test('exit codes come from the error code, the same with and without --json', (t) => {
  // A missing network file is bad input (BRIDGE_NETWORK_INVALID): exit 2 on both paths.
  const missing = ['bridge', 'status', '--network', '/nonexistent/network.json', '5']
  const plain = runBin(...missing)
  t.equal(plain.status, 2, plain.stderr)
  t.match(plain.stderr, /^error \[BRIDGE_NETWORK_INVALID\]: /)
  const json = runBin(...missing, '--json')
  t.equal(json.status, 2, json.stderr)
  t.match(JSON.parse(json.stdout), { ok: false, error: { code: 'BRIDGE_NETWORK_INVALID' } })
  // An unreachable RPC is a runtime failure (BRIDGE_RPC_UNAVAILABLE): exit 1.
  const unreachable = runBin(
    'bridge',
    'status',
    '--json',
    '--l1-rpc',
    'http://127.0.0.1:1',
    '--sidechain-rpc',
    'http://127.0.0.1:1',
    '--bridge',
    `0x${'11'.repeat(20)}`,
    '--vault',
    `0x${'22'.repeat(20)}`,
    '5',
  )
  t.equal(unreachable.status, 1, unreachable.stderr)
  t.match(JSON.parse(unreachable.stdout), { error: { code: 'BRIDGE_RPC_UNAVAILABLE' } })
  t.end()
})
