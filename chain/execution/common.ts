/**
 * The ethereumjs `Common` for our chain: every hardfork up to the configured one active from
 * block 0, native crypto plugged in. Created once per node and shared (read-only) by the
 * VM, headers and transactions; we never switch hardforks at runtime.
 */
import { paramsBlock } from '@ethereumjs/block'
import { type Common, createCustomCommon, Mainnet } from '@ethereumjs/common'
import { paramsEVM } from '@ethereumjs/evm'
import { paramsTx } from '@ethereumjs/tx'
import { paramsVM } from '@ethereumjs/vm'
import type { GenesisConfig } from '../../genesis/schema.ts'
import { chainCustomCrypto } from '../crypto/index.ts'

export function createChainCommon(config: Pick<GenesisConfig, 'chainId' | 'hardfork'>): Common {
  const last = Mainnet.hardforks.findIndex((h) => h.name === config.hardfork)
  const hardforks = Mainnet.hardforks
    .slice(0, last + 1)
    .map((h) => ({ name: h.name, block: 0, timestamp: 0 }))
  const common = createCustomCommon(
    { name: `sidechain-${config.chainId}`, chainId: config.chainId, hardforks, bootstrapNodes: [] },
    Mainnet,
    { hardfork: config.hardfork, customCrypto: chainCustomCrypto() },
  )
  memoizeUpdateParams(common)
  indexActivatedEips(common)
  return common
}

/**
 * `isActivatedEIP` searches an array of the active EIPs (40 on Prague), and the EVM asks it
 * twice per opcode executed (EIP-6800 and EIP-7864, never active here, so every search
 * runs to the end): ~1,000 searches per ERC-20 transfer, ~7% of its execution CPU. This answers
 * from a set made from the same array; Common replaces the array (never changes it in
 * place) when its hardfork or EIPs change, so the set is rebuilt when the array differs.
 * Copies of the Common take the method (and share the array) with their other fields.
 */
function indexActivatedEips(common: Common): void {
  let indexed: readonly number[] | undefined
  let set: ReadonlySet<number> = new Set()
  common.isActivatedEIP = function (this: Common, eip: number) {
    const active = (this as unknown as { _activatedEIPsCache: readonly number[] })
      ._activatedEIPsCache
    if (active !== indexed) {
      indexed = active
      set = new Set(active)
    }
    return set.has(eip)
  }
}

/**
 * Every ethereumjs tx and header constructor copies the Common and calls
 * `updateParams(sameParamsObject)`, which deep-copies parameter tables and rebuilds a cache:
 * ~8% of block import. We merge all the parameter tables ethereumjs uses once, up front,
 * then let repeats of an already merged table return at once. The parameter store is
 * shared by shallow copies, so the record is kept per store.
 */
function memoizeUpdateParams(common: Common): void {
  const original = Object.getPrototypeOf(common).updateParams as Common['updateParams']
  for (const params of [paramsTx, paramsBlock, paramsVM, paramsEVM]) original.call(common, params)
  const mergedByStore = new WeakMap<object, WeakSet<object>>()
  mergedByStore.set(storeOf(common), new WeakSet([paramsTx, paramsBlock, paramsVM, paramsEVM]))
  common.updateParams = function (this: Common, params) {
    const store = storeOf(this)
    let merged = mergedByStore.get(store)
    if (merged === undefined) {
      merged = new WeakSet()
      mergedByStore.set(store, merged)
    }
    if (!merged.has(params)) {
      original.call(this, params)
      merged.add(params)
    }
    return this
  }
}

function storeOf(common: Common): object {
  return (common as unknown as { _params: object })._params
}
