/**
 * The chain's Common answers `isActivatedEIP` from a set (see common.ts): its answers must
 * be upstream's for every EIP number, in copies too, and follow a change of hardfork.
 */
import { Common } from '@ethereumjs/common'
import t from 'tap'
import { createChainCommon } from './common.ts'

const upstream = (common: Common, eip: number) => Common.prototype.isActivatedEIP.call(common, eip)

function mismatches(common: Common): number[] {
  const wrong: number[] = []
  for (let eip = 0; eip <= 10_000; eip++) {
    if (common.isActivatedEIP(eip) !== upstream(common, eip)) wrong.push(eip)
  }
  return wrong
}

t.test('isActivatedEIP answers as upstream', async (t) => {
  const common = createChainCommon({ chainId: 1337, hardfork: 'prague' })
  t.not(common.isActivatedEIP, Common.prototype.isActivatedEIP, 'the indexed lookup is installed')
  t.ok(common.isActivatedEIP(7702), 'Prague has EIP-7702')
  t.notOk(common.isActivatedEIP(7864), 'EIP-7864 is not active')
  t.same(mismatches(common), [])
  t.same(mismatches(common.copy()), [], 'in a copy')
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
