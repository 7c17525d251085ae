/**
 * Contracts every developer expects at fixed addresses, put into the genesis `alloc` as runtime code: our own
 * Solidity implementations (contracts/src/predeploys) of Multicall3 and of the deterministic CREATE2 deployer,
 * at the addresses tools hard-code. Neither has storage or immutables, so the compiled runtime code is the whole
 * account.
 */
import {
  create2DeployerDeployedBytecode,
  multicall3DeployedBytecode,
} from '../contracts/generated/index.ts'
import type { GenesisInput } from './schema.ts'

export interface Predeploy {
  name: string
  address: `0x${string}`
  code: `0x${string}`
}

/** Multicall3 (aggregate, tryAggregate, aggregate3, aggregate3Value, blockAndAggregate, getters). */
export const MULTICALL3_ADDRESS = '0xcA11bde05977b3631167028862bE2a173976CA11'
/** The deterministic deployment proxy: calldata `salt || initCode`, returns the 20-byte address. */
export const CREATE2_DEPLOYER_ADDRESS = '0x4e59b44847b379578588920cA78FbF26c0B4956C'

export const PREDEPLOYS: readonly Predeploy[] = [
  { name: 'Multicall3', address: MULTICALL3_ADDRESS, code: multicall3DeployedBytecode },
  {
    name: 'Create2Deployer',
    address: CREATE2_DEPLOYER_ADDRESS,
    code: create2DeployerDeployedBytecode,
  },
]

/**
 * Alloc entries for the predeploys (lower-case keys, as `createGenesis` writes them). Nonce 1, as an account
 * created by a transaction has under EIP-161; the balance is zero.
 */
export function predeployAlloc(): NonNullable<GenesisInput['alloc']> {
  return Object.fromEntries(
    PREDEPLOYS.map((p) => [p.address.toLowerCase(), { balance: '0x0', nonce: 1, code: p.code }]),
  )
}
