/**
 * What sync and the gossip handlers need from the network (P2PService implements it).
 */
import type { GossipTopic, GossipTopicSpec } from '../p2p/gossip.ts'
import type { ChainStatus } from '../p2p/messages.ts'
import type { PeerPenalty } from '../p2p/peer-manager.ts'

export interface SyncNetwork {
  registerTopic(spec: GossipTopicSpec): GossipTopic
  /** Peers past the status handshake with their best known head. */
  syncPeers(): Array<{ peerId: string; head: bigint }>
  notePeerHead(peerId: string, number: bigint): void
  requestBlocksByRange(
    peerId: string,
    start: bigint,
    count: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array[]>
  penalize(peerId: string, penalty: PeerPenalty, reason: string): void
  on(event: 'peer:status', listener: (peerId: string, status: ChainStatus) => void): unknown
  off(event: 'peer:status', listener: (peerId: string, status: ChainStatus) => void): unknown
}
