/**
 * The one home of our patches to ethereumjs internals, and the only module the rest of the
 * node imports them from. Each patch makes execution faster and must not change a single
 * result; each reads private parts of ethereumjs, verified on the versions in
 * VERIFIED_ETHEREUMJS_VERSIONS (package.json pins them exactly; a test fails when the
 * installed ones differ). Each checks those parts when it is applied and, if they are not
 * what it expects, stays out: the node then runs upstream's code, and the report says which
 * patch is out and why (the node logs it at start and exports it as
 * `sidechain_upstream_patch_active`).
 *
 * | patch                 | replaces                                   | relies on                            |
 * | --------------------- | ------------------------------------------ | ------------------------------------ |
 * | common-activated-eips | Common#isActivatedEIP (array search)       | `_activatedEIPsCache`                |
 * | common-params-memo    | Common#updateParams (deep copy per tx)     | `_params`                            |
 * | evm-fast-paths        | MSTORE, SLOAD, LOG0-4 handlers             | `_opcodeMap`, Stack, Memory methods  |
 * | code-analysis-cache   | Interpreter#_getValidJumpDestinations      | interpreter.js (process-global)      |
 * | batched-state-flush   | MerkleStateManager flush/putStorage/...    | `_caches`, `_trie`, `_getStorageTrie`|
 *
 * Upstream candidates (each one fixed there lets its patch go): `putStorage`'s
 * `caches.storage.put(...) ?? writeToTrie(...)` always writes through to the trie, because
 * put returns undefined (batched-state-manager.ts); `isActivatedEIP` searches an array on
 * every call (common.ts).
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { VM } from '@ethereumjs/vm'
import { BatchedMerkleStateManager } from './batched-state-manager.ts'
import { installCodeAnalysisCache } from './code-analysis-cache.ts'
import { applyCommonPatches } from './common.ts'
import {
  fastPathsBlocker,
  fastPathsInstalled,
  installEvmFastPaths,
  upstreamHandlers,
} from './evm-fast-paths.ts'
import { type EvmInternals, loadEvmInternals } from './evm-internals.ts'
import type { PatchStatus } from './status.ts'

export {
  BatchedMerkleStateManager,
  copyAccount,
  SerializingAccount,
} from './batched-state-manager.ts'
export { applyCommonPatches } from './common.ts'
export { upstreamHandlers } from './evm-fast-paths.ts'
export type { PatchStatus } from './status.ts'

export const UPSTREAM_PATCHES = [
  'common-activated-eips',
  'common-params-memo',
  'evm-fast-paths',
  'code-analysis-cache',
  'batched-state-flush',
] as const
export type UpstreamPatchName = (typeof UPSTREAM_PATCHES)[number]
export type UpstreamPatchReport = Record<UpstreamPatchName, PatchStatus>

/** The ethereumjs packages we depend on, at the versions the patches were verified on. */
export const VERIFIED_ETHEREUMJS_VERSIONS = {
  '@ethereumjs/block': '10.1.3',
  '@ethereumjs/common': '10.1.3',
  '@ethereumjs/evm': '10.1.3',
  '@ethereumjs/mpt': '10.1.3',
  '@ethereumjs/rlp': '10.1.3',
  '@ethereumjs/statemanager': '10.1.3',
  '@ethereumjs/tx': '10.1.3',
  '@ethereumjs/util': '10.1.3',
  '@ethereumjs/vm': '10.1.3',
} as const
export type EthereumjsPackage = keyof typeof VERIFIED_ETHEREUMJS_VERSIONS

export interface UpstreamPatchTarget {
  /** The VM to patch; its Common and state manager are looked at too. */
  vm: VM
  /** ethereumjs' own opcode handlers for the VM's Common (see upstreamHandlers), if kept. */
  upstreamHandlers?: ReadonlyMap<number, unknown>
  /** The EVM classes the patches look at (default: loaded from @ethereumjs/evm). */
  evmInternals?: EvmInternals
}

/**
 * Applies every patch that applies to `target` (each at most once) and reports which are in
 * effect for it. The Common's patches are normally applied when it is made
 * (createChainCommon); the code-analysis cache is installed once per process.
 */
export async function applyUpstreamPatches(
  target: UpstreamPatchTarget,
): Promise<UpstreamPatchReport> {
  const { vm } = target
  const common = applyCommonPatches(vm.common)
  const internals = target.evmInternals ?? (await loadEvmInternals())
  const codeAnalysis = installCodeAnalysisCache(internals.Interpreter?.prototype)
  const blocker = fastPathsBlocker(internals)
  if (blocker === undefined) {
    installEvmFastPaths(vm, target.upstreamHandlers ?? upstreamHandlers(vm.common))
  }
  const { installed, total } = fastPathsInstalled(vm)
  const fastPaths: PatchStatus =
    blocker !== undefined
      ? { active: false, reason: blocker }
      : installed === total
        ? { active: true }
        : { active: false, reason: `${installed} of ${total} handlers are in the opcode table` }
  const stateManager = vm.stateManager
  return {
    'common-activated-eips': common.activatedEips,
    'common-params-memo': common.paramsMemo,
    'evm-fast-paths': fastPaths,
    'code-analysis-cache': codeAnalysis,
    'batched-state-flush':
      stateManager instanceof BatchedMerkleStateManager
        ? stateManager.batchedFlush
        : { active: false, reason: 'the VM has no BatchedMerkleStateManager' },
  }
}

/** The installed version of each ethereumjs package, as this module resolves it. */
export function installedEthereumjsVersions(): Record<EthereumjsPackage, string | undefined> {
  const versions = {} as Record<EthereumjsPackage, string | undefined>
  for (const name of Object.keys(VERIFIED_ETHEREUMJS_VERSIONS) as EthereumjsPackage[]) {
    versions[name] = packageVersion(name)
  }
  return versions
}

/** The ethereumjs packages whose installed version is not the verified one. */
export function unverifiedEthereumjsVersions(): Array<{
  name: EthereumjsPackage
  installed: string | undefined
  verified: string
}> {
  return Object.entries(installedEthereumjsVersions())
    .map(([name, installed]) => ({
      name: name as EthereumjsPackage,
      installed,
      verified: VERIFIED_ETHEREUMJS_VERSIONS[name as EthereumjsPackage] as string,
    }))
    .filter((entry) => entry.installed !== entry.verified)
}

/** The version in the package.json above `name`'s entry point (its exports hide the file). */
function packageVersion(name: string): string | undefined {
  let dir: string
  try {
    dir = dirname(fileURLToPath(import.meta.resolve(name)))
  } catch {
    return undefined
  }
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (manifest.name === name) return manifest.version
    } catch {
      // No package.json here (or a partial one in dist/): keep going up.
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}
