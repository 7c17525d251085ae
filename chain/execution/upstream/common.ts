/**
 * Two overrides of ethereumjs' `Common`, set as own properties of one instance (the chain's
 * Common; `copy()` carries own properties over, so its copies have them too). Each checks
 * the private fields it reads when it is applied and leaves upstream's method in place if
 * they are not what it expects: a slower node, never a different answer.
 */

import { paramsBlock } from '@ethereumjs/block'
import { Common } from '@ethereumjs/common'
import { paramsEVM } from '@ethereumjs/evm'
import { paramsTx } from '@ethereumjs/tx'
import { paramsVM } from '@ethereumjs/vm'
import type { PatchStatus } from './status.ts'

/** Where a Common records what `applyCommonPatches` did to it (copied with it). */
const STATUS = Symbol('sidechain.upstream.commonPatches')

export interface CommonPatchStatus {
  activatedEips: PatchStatus
  paramsMemo: PatchStatus
}

/** The private fields the overrides read (ethereumjs 10.1.3). */
interface CommonInternals {
  _activatedEIPsCache?: unknown
  _params?: unknown
  [STATUS]?: CommonPatchStatus
}

/** EIP numbers the activated-EIPs check compares with upstream (every EIP so far is below). */
const EIP_PROBE_LIMIT = 10_000

/**
 * Applies both overrides to `common` once (later calls, and calls on its copies, return
 * what the first did).
 */
export function applyCommonPatches(common: Common): CommonPatchStatus {
  const internals = common as unknown as CommonInternals
  const applied = internals[STATUS]
  if (applied !== undefined) return applied
  const status: CommonPatchStatus = {
    activatedEips: indexActivatedEips(common),
    paramsMemo: memoizeUpdateParams(common),
  }
  internals[STATUS] = status
  return status
}

/** What `applyCommonPatches` did to `common` (or a Common it was copied from). */
export function commonPatchStatus(common: Common): CommonPatchStatus | undefined {
  return (common as unknown as CommonInternals)[STATUS]
}

/**
 * `isActivatedEIP` searches an array of the active EIPs (40 on Prague), and the EVM asks it
 * twice per opcode executed (EIP-6800 and EIP-7864, never active here, so every search
 * runs to the end). This answers from a set made from the same array; Common replaces the
 * array (never changes it in place) when its hardfork or EIPs change, so the set is rebuilt
 * when the array differs. Copies of the Common take the method (and share the array) with
 * their other fields.
 *
 * It relies on the private `_activatedEIPsCache` being the array upstream's method reads.
 * If that field were renamed the set would be empty and every EIP would read as inactive,
 * so the override is only installed when the field is an array and upstream's answers
 * agree with it for every EIP number below EIP_PROBE_LIMIT; and if a later array is not one
 * (it never is in 10.1.3), the call goes to upstream's method.
 */
function indexActivatedEips(common: Common): PatchStatus {
  const upstream = Common.prototype.isActivatedEIP
  const active = (common as unknown as CommonInternals)._activatedEIPsCache
  if (!Array.isArray(active)) {
    return { active: false, reason: 'Common._activatedEIPsCache is not an array' }
  }
  if (active.length === 0) {
    return { active: false, reason: 'Common._activatedEIPsCache is empty' }
  }
  const probe = new Set<number>(active)
  for (let eip = 0; eip < EIP_PROBE_LIMIT; eip++) {
    if (upstream.call(common, eip) !== probe.has(eip)) {
      return {
        active: false,
        reason: `Common.isActivatedEIP(${eip}) disagrees with Common._activatedEIPsCache`,
      }
    }
  }
  let indexed: readonly number[] | undefined
  let set: ReadonlySet<number> = new Set()
  common.isActivatedEIP = function (this: Common, eip: number) {
    const current = (this as unknown as CommonInternals)._activatedEIPsCache
    if (current !== indexed) {
      if (!Array.isArray(current)) return upstream.call(this, eip)
      indexed = current
      set = new Set(current)
    }
    return set.has(eip)
  }
  return { active: true }
}

/**
 * Every ethereumjs tx and header constructor copies the Common and calls
 * `updateParams(sameParamsObject)`, which deep-copies parameter tables and rebuilds a cache.
 * We merge all the parameter tables ethereumjs uses once, up front, then let repeats of an
 * already merged table return at once. The parameter store (the private `_params`) is
 * shared by shallow copies, so the record is kept per store; without an object there,
 * upstream's method stays.
 */
function memoizeUpdateParams(common: Common): PatchStatus {
  const original = Object.getPrototypeOf(common).updateParams as Common['updateParams']
  const tables = [paramsTx, paramsBlock, paramsVM, paramsEVM]
  for (const params of tables) original.call(common, params)
  const store = storeOf(common)
  if (store === undefined) return { active: false, reason: 'Common._params is not an object' }
  const mergedByStore = new WeakMap<object, WeakSet<object>>()
  mergedByStore.set(store, new WeakSet(tables))
  common.updateParams = function (this: Common, params) {
    const store = storeOf(this)
    if (store === undefined) {
      original.call(this, params)
      return
    }
    let merged = mergedByStore.get(store)
    if (merged === undefined) {
      merged = new WeakSet()
      mergedByStore.set(store, merged)
    }
    if (!merged.has(params)) {
      original.call(this, params)
      merged.add(params)
    }
  }
  return { active: true }
}

function storeOf(common: Common): object | undefined {
  const store = (common as unknown as CommonInternals)._params
  return typeof store === 'object' && store !== null ? store : undefined
}
