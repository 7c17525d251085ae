/**
 * The `admin_` namespace (geth names): the peers we are connected to and this node's own
 * network identity. Registered by the node when p2p networking is on; the data comes from
 * P2PService (libp2p peer ids and multiaddrs where geth shows enode URLs).
 */
import type { NodeInfo, PeerSummary } from '../p2p/p2p-service.ts'
import { defineMethod, type RpcModule } from './handler.ts'

export interface AdminRpcDeps {
  p2p: {
    peers(): Promise<PeerSummary[]>
    nodeInfo(): NodeInfo
  }
}

export function adminModule(deps: AdminRpcDeps): RpcModule {
  return {
    namespace: 'admin',
    methods: {
      peers: defineMethod([], () => deps.p2p.peers()),
      nodeInfo: defineMethod([], () => deps.p2p.nodeInfo()),
    },
  }
}
