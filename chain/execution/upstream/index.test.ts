/**
 * The patch module as the node uses it: on the block executor every patch is in effect and
 * the report says so; the installed ethereumjs packages are exactly the verified versions.
 */
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
