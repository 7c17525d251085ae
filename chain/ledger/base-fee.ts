import type { BlockHeader } from '@ethereumjs/block'

/**
 * Next base fee: EIP-1559 from the parent, never below the configured floor. A header
 * rule the ledger enforces and readers (the pool, the fee oracle) predict with.
 */
export function nextBaseFee(parent: BlockHeader, floor: bigint): bigint {
  const computed = parent.calcNextBaseFee()
  return computed < floor ? floor : computed
}
