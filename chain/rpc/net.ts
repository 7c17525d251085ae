/** The `net_` namespace. */
import type { RpcLedger } from './chain-view.ts'
import { quantity } from './format.ts'
import { defineMethod, type RpcModule } from './handler.ts'

/** Number of connected peers (p2p); 0 until networking reports it. */
export type PeerCountProvider = () => number

export function netModule(deps: {
  ledger: Pick<RpcLedger, 'chainId'>
  peerCount: PeerCountProvider
}): RpcModule {
  return {
    namespace: 'net',
    methods: {
      // net_version is the network id as a decimal string; ours equals the chain id.
      version: defineMethod([], () => deps.ledger.chainId.toString(10)),
      listening: defineMethod([], () => true),
      peerCount: defineMethod([], () => quantity(deps.peerCount())),
    },
  }
}
