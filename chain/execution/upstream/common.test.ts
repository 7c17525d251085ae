/**
 * The chain's Common answers `isActivatedEIP` from a set and memoizes `updateParams` (see
 * common.ts): its answers must be upstream's for every EIP number, in copies too, and follow
 * a change of hardfork. If the private fields the overrides read were renamed, upstream's
 * methods must stay (a rename simulated on Common.prototype, restored after each test).
 */
import { Common, createCustomCommon, Mainnet } from '@ethereumjs/common'
import t, { type Test } from 'tap'
import { createChainCommon } from '../common.ts'
import { applyCommonPatches, commonPatchStatus } from './common.ts'

const upstream = (common: Common, eip: number) => Common.prototype.isActivatedEIP.call(common, eip)

function mismatches(common: Common): number[] {
  const wrong: number[] = []
  for (let eip = 0; eip <= 10_000; eip++) {
    if (common.isActivatedEIP(eip) !== upstream(common, eip)) wrong.push(eip)
  }
  return wrong
}

const plainCommon = () => createCustomCommon({ chainId: 1337 }, Mainnet, { hardfork: 'prague' })

/** Replaces Common.prototype members for one test, as a new upstream release might. */
function simulateUpstream(
  t: Test,
  members: Partial<Record<'isActivatedEIP' | '_buildActivatedEIPsCache' | 'updateParams', unknown>>,
) {
  const prototype = Common.prototype as unknown as Record<string, unknown>
  const saved = Object.fromEntries(Object.keys(members).map((name) => [name, prototype[name]]))
  Object.assign(prototype, members)
  t.teardown(() => {
    Object.assign(prototype, saved)
  })
}

t.test('isActivatedEIP answers as upstream', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  t.same(commonPatchStatus(common), {
    activatedEips: { active: true },
    paramsMemo: { active: true },
  })
  t.not(common.isActivatedEIP, Common.prototype.isActivatedEIP, 'the indexed lookup is installed')
  t.ok(common.isActivatedEIP(7702), 'Prague has EIP-7702')
  t.notOk(common.isActivatedEIP(7864), 'EIP-7864 is not active')
  t.same(mismatches(common), [])
  t.same(mismatches(common.copy()), [], 'in a copy')
  t.equal(
    applyCommonPatches(common.copy()),
    commonPatchStatus(common),
    'a copy is not patched again',
  )
})

t.test('isActivatedEIP follows a change of hardfork', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  t.ok(common.isActivatedEIP(7702))
  common.setHardfork('cancun')
  t.notOk(common.isActivatedEIP(7702), 'not on Cancun')
  t.same(mismatches(common), [])
  const copy = common.copy()
  copy.setHardfork('prague')
  t.ok(copy.isActivatedEIP(7702), 'a copy switched back')
  t.notOk(common.isActivatedEIP(7702), 'the original is still on Cancun')
  t.same(mismatches(copy), [])
  t.same(mismatches(common), [])
})

t.test('updateParams: the memo leaves every parameter as upstream has it', async (t) => {
  const patched = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  const reference = plainCommon()
  t.ok(Object.hasOwn(patched, 'updateParams'), 'the memo is installed')
  for (const name of ['maxTransactionGasLimit', 'txGas', 'initialBaseFee', 'sstoreSetGas']) {
    const expected = (() => {
      try {
        return reference.param(name)
      } catch {
        return 'missing'
      }
    })()
    // The plain Common has no parameter tables until a tx, header or VM merges them.
    if (expected === 'missing') continue
    t.equal(patched.param(name), expected, name)
  }
  t.equal(patched.param('txGas'), 21000n)
})

t.test('a renamed _activatedEIPsCache leaves upstream isActivatedEIP in place', async (t) => {
  // Upstream keeps its EIP list under another name: the old field stays the empty array the
  // constructor sets. Before this check the override built its set from that array and
  // answered false for every EIP.
  const build = (Common.prototype as unknown as { _buildActivatedEIPsCache(): void })
    ._buildActivatedEIPsCache
  simulateUpstream(t, {
    _buildActivatedEIPsCache(this: { _activatedEIPsCache: number[]; _activeEips: number[] }) {
      build.call(this)
      this._activeEips = this._activatedEIPsCache
      this._activatedEIPsCache = []
    },
    isActivatedEIP(this: { _activeEips: number[] }, eip: number) {
      return this._activeEips.includes(eip)
    },
  })
  const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  t.match(commonPatchStatus(common)?.activatedEips, { active: false, reason: /empty/ })
  t.equal(common.isActivatedEIP, Common.prototype.isActivatedEIP, 'upstream method kept')
  t.ok(common.isActivatedEIP(7702), 'Prague still has EIP-7702')
  t.same(mismatches(common), [])
})

t.test(
  'a field that disagrees with upstream isActivatedEIP leaves upstream in place',
  async (t) => {
    // The array is still there but upstream no longer answers from it alone.
    simulateUpstream(t, {
      isActivatedEIP(this: { _activatedEIPsCache: number[] }, eip: number) {
        return eip === 9999 || this._activatedEIPsCache.includes(eip)
      },
    })
    const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
    t.match(commonPatchStatus(common)?.activatedEips, { active: false, reason: /9999/ })
    t.ok(common.isActivatedEIP(9999), 'answered by upstream')
  },
)

t.test('a missing _params leaves upstream updateParams in place', async (t) => {
  const stores = new WeakMap<object, Record<string, unknown>>()
  simulateUpstream(t, {
    updateParams(this: object, params: Record<string, unknown>) {
      stores.set(this, { ...stores.get(this), ...params })
    },
  })
  const common = plainCommon()
  delete (common as unknown as { _params?: unknown })._params
  const status = applyCommonPatches(common)
  t.match(status.paramsMemo, { active: false, reason: /_params/ })
  t.notOk(Object.hasOwn(common, 'updateParams'), 'upstream method kept')
  t.equal(status.activatedEips.active, true, 'the other override does not depend on it')
})
