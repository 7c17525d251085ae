/**
 * The seam between the node and a consensus protocol. An engine decides blocks and hands
 * them to the ledger with their commit seals; the node only starts and stops it.
 */
export interface ConsensusEngine {
  start(): Promise<void>
  stop(): Promise<void>
}
