/**
 * The ethereumjs `Common` for our chain: every hardfork up to the configured one active from
 * block 0, native crypto plugged in. Created once per node and shared (read-only) by the
 * VM, headers and transactions; we never switch hardforks at runtime. Its two faster
 * methods come from the upstream-patch module (upstream/common.ts).
 */
import { type Common, createCustomCommon, Mainnet } from '@ethereumjs/common'
import type { GenesisConfig } from '../../genesis/schema.ts'
import { chainCustomCrypto } from '../crypto/index.ts'
import { applyCommonPatches } from './upstream/index.ts'

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
  applyCommonPatches(common)
  return common
}
