/**
 * Whether a node is doing its job, for /health (liveness) and /ready: it fails when blocks
 * cannot be written (several writes in a row failed: a full or broken disk), and when the
 * head has not moved for a while although peers are ahead (the node is stuck, not merely
 * waiting for a network that is itself halted). Heads announced by peers are claims: at
 * least half of the peers must be ahead, so one lying peer cannot fail a liveness probe
 * and have the orchestrator restart a working validator. The answer carries the reasons,
 * so an operator or an orchestrator's log says what is wrong.
 */
import { z } from 'zod'

export const nodeHealthOptionsSchema = z.object({
  /** Block writes failing in a row before the node reports unhealthy. */
  maxConsecutiveWriteFailures: z.number().int().min(1).default(3),
  /** How long the head may stay put while a peer is ahead before the node reports stalled. */
  stallMs: z.number().int().min(1).default(30_000),
})

export type NodeHealthOptionsInput = z.input<typeof nodeHealthOptionsSchema>
export type NodeHealthOptions = z.output<typeof nodeHealthOptionsSchema>

export interface HealthLedger {
  readonly head: { readonly number: bigint }
  readonly writeFailures: { readonly consecutive: number; readonly lastError: string | undefined }
}

export interface NodeHealthModules {
  ledger: HealthLedger
  /** Heads the connected peers announced (one per peer). */
  peerHeads?: () => readonly bigint[]
  clock: { now(): number }
}

export interface HealthReport {
  healthy: boolean
  head: number
  /** Why the node is unhealthy; empty when healthy. */
  reasons: string[]
}

export class NodeHealth {
  private readonly options: NodeHealthOptions
  private readonly modules: NodeHealthModules
  /** Undefined until first read: the node builds its metrics before it opens the ledger. */
  private lastHead: bigint | undefined
  private lastHeadChangeAt: number

  constructor(options: NodeHealthOptionsInput, modules: NodeHealthModules) {
    this.options = nodeHealthOptionsSchema.parse(options)
    this.modules = modules
    this.lastHeadChangeAt = modules.clock.now()
  }

  /** Call on every new head (and it is read on every check, so a missed call only delays). */
  headMoved(): void {
    this.observeHead()
  }

  check(): HealthReport {
    this.observeHead()
    const { ledger, peerHeads, clock } = this.modules
    const head = ledger.head.number
    const reasons: string[] = []
    const failures = ledger.writeFailures
    if (failures.consecutive >= this.options.maxConsecutiveWriteFailures) {
      reasons.push(
        `block import failing: ${failures.consecutive} block writes failed in a row (last: ${failures.lastError ?? 'unknown error'})`,
      )
    }
    const peers = peerHeads?.() ?? []
    const ahead = peers.filter((h) => h > head)
    const stalledMs = clock.now() - this.lastHeadChangeAt
    if (ahead.length > 0 && ahead.length * 2 >= peers.length && stalledMs >= this.options.stallMs) {
      const best = ahead.reduce((a, b) => (a > b ? a : b))
      reasons.push(
        `head stalled: block ${head} for ${Math.round(stalledMs / 1000)} s while ${ahead.length} of ${peers.length} peers are ahead (up to ${best})`,
      )
    }
    return { healthy: reasons.length === 0, head: Number(head), reasons }
  }

  private observeHead(): void {
    const head = this.modules.ledger.head.number
    if (this.lastHead === undefined) {
      this.lastHead = head
    } else if (head !== this.lastHead) {
      this.lastHead = head
      this.lastHeadChangeAt = this.modules.clock.now()
    }
  }
}
