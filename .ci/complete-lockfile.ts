/**
 * The npm registry mirror this project is built against serves only the linux builds of
 * packages that ship per-platform binaries (biome, anvil, cast): `npm install` then writes a
 * lockfile without the other platforms' optional packages, and `npm ci` refuses it
 * ("Missing: @biomejs/cli-darwin-arm64@ from lock file"). This adds those optional entries
 * (version, os, cpu, libc) so `npm ci` accepts the lockfile and skips them as
 * platform-incompatible. Run after any dependency change: `npm run lockfile:complete`.
 */
import { readFileSync, writeFileSync } from 'node:fs'

interface LockEntry {
  version?: string
  dev?: boolean
  optional?: boolean
  optionalDependencies?: Record<string, string>
  os?: string[]
  cpu?: string[]
  libc?: string[]
}

const path = process.argv[2] ?? 'package-lock.json'
const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, LockEntry> }
const OS = ['android', 'darwin', 'win32', 'linux', 'freebsd', 'openbsd', 'sunos', 'aix']
const CPU: Record<string, string> = {
  arm64: 'arm64',
  x64: 'x64',
  amd64: 'x64',
  ia32: 'ia32',
  arm: 'arm',
}
let added = 0
for (const meta of Object.values(lock.packages)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`
    if (lock.packages[key] !== undefined) continue
    const parts = dep.split('/').at(-1)!.split('-')
    const os = OS.find((o) => parts.includes(o))
    const cpu = parts.map((p) => CPU[p]).find((c) => c !== undefined)
    if (os === undefined || cpu === undefined) continue
    lock.packages[key] = {
      version: range.replace(/^[\^~=]/, ''),
      ...(meta.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      cpu: [cpu],
      ...(parts.includes('musl') ? { libc: ['musl'] } : {}),
    }
    added++
  }
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
process.stdout.write(`lockfile: added ${added} platform-specific optional entries\n`)
