/**
 * The patch module as the node uses it: on the block executor every patch is in effect and
 * the report says so; the installed ethereumjs packages are exactly the verified versions,
 * pinned so in package.json and the lockfile (a different version, even a patch release,
 * must be verified and the table updated before it can land).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { createVM } from '@ethereumjs/vm'
import t from 'tap'
import { makeGenesis, openTestLedger } from '../../../test/support/chain.ts'
import { createChainCommon } from '../common.ts'
import {
  applyUpstreamPatches,
  installedEthereumjsVersions,
  UPSTREAM_PATCHES,
  unverifiedEthereumjsVersions,
  VERIFIED_ETHEREUMJS_VERSIONS,
} from './index.ts'

const root = path.resolve(import.meta.dirname, '../../..')
const readJson = (file: string) => JSON.parse(readFileSync(path.join(root, file), 'utf8'))

t.test('every patch is in effect on the block executor', async (t) => {
  const { ledger } = await openTestLedger(t, makeGenesis({ accounts: 1 }), 'upstream-patches-')
  const report = ledger.upstreamPatches
  t.same(Object.keys(report), UPSTREAM_PATCHES)
  for (const patch of UPSTREAM_PATCHES) t.same(report[patch], { active: true }, patch)
})

t.test('a VM without the batched state manager reports that patch out', async (t) => {
  const vm = await createVM({ common: createChainCommon({ chainId: 1337, hardfork: 'prague' }) })
  const report = await applyUpstreamPatches({ vm })
  t.match(report['batched-state-flush'], { active: false, reason: /BatchedMerkleStateManager/ })
  t.same(report['evm-fast-paths'], { active: true })
  t.same(report['common-activated-eips'], { active: true })
})

t.test('the installed ethereumjs packages are the verified versions', async (t) => {
  t.same(installedEthereumjsVersions(), VERIFIED_ETHEREUMJS_VERSIONS)
  t.same(unverifiedEthereumjsVersions(), [])
})

t.test('package.json and the lockfile pin exactly the verified versions', async (t) => {
  const manifest = readJson('package.json') as { dependencies: Record<string, string> }
  const lock = readJson('package-lock.json') as {
    packages: Record<string, { version?: string; dependencies?: Record<string, string> }>
  }
  const pinned = Object.fromEntries(
    Object.entries(manifest.dependencies).filter(([name]) => name.startsWith('@ethereumjs/')),
  )
  t.same(pinned, VERIFIED_ETHEREUMJS_VERSIONS, 'package.json: every @ethereumjs dependency')
  const lockRoot = Object.fromEntries(
    Object.entries(lock.packages['']?.dependencies ?? {}).filter(([name]) =>
      name.startsWith('@ethereumjs/'),
    ),
  )
  t.same(lockRoot, VERIFIED_ETHEREUMJS_VERSIONS, 'package-lock.json: the root entry')
  for (const [name, version] of Object.entries(VERIFIED_ETHEREUMJS_VERSIONS)) {
    t.equal(lock.packages[`node_modules/${name}`]?.version, version, `locked ${name}`)
  }
  const nested = Object.keys(lock.packages).filter((key) =>
    /node_modules\/.+\/node_modules\/@ethereumjs\//.test(key),
  )
  t.same(nested, [], 'no second copy of an ethereumjs package anywhere in the tree')
})
