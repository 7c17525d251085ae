/**
 * Event metrics: what components report the moment something happens (a block imported,
 * built or validated, a gossip message judged, an RPC call failed). Components take one of
 * these narrow interfaces, or null when the node serves no metrics; NodeMetrics implements
 * them all. Defined here, without domain types, so that any component may import it and
 * the metrics module imports no component.
 */

/** Gossipsub's verdict on a message. */
export type GossipResult = 'accept' | 'ignore' | 'reject'

export interface LedgerMetrics {
  /**
   * A block became the head: seconds from the start of its import (header and seal checks,
   * execution unless it was already run, the synced write) to the new head.
   */
  blockImported(seconds: number, transactions: number): void
  /** A proposal was validated (header rules and execution) before it was voted on. */
  blockValidated(seconds: number): void
}

export interface ProducerMetrics {
  /** This validator built a block: its transactions' execution over all passes plus sealing. */
  blockBuilt(seconds: number): void
}

export interface GossipMetrics {
  /**
   * One received message judged. `code` is the error code behind an ignore or reject (or
   * what the router itself decided, e.g. OVERSIZED), and 'none' for an accept.
   */
  gossipResult(topic: string, result: GossipResult, code: string): void
}

export interface RpcMetrics {
  /** A JSON-RPC call answered with an error; `method` is 'unknown' for names not served. */
  rpcError(method: string, code: number): void
}

export type NodeEventMetrics = LedgerMetrics & ProducerMetrics & GossipMetrics & RpcMetrics
