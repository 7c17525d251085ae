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
  for (const command of ['node', 'genesis', 'devnet', 'relayer', 'bridge']) {
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
