/**
 * Test support (not used by the node): n QBFT engines on a simulated network with a
 * deterministic clock. One event queue holds message deliveries, height starts and
 * simulated block sync; node timers are read from the deadlines the engines announce.
 * A seeded PRNG drives latency, so a seed fixes the whole run. No sockets, no real timers.
 */
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import {
  DEFAULT_QBFT_OPTIONS,
  type EquivocationEvidence,
  type MessageOutcome,
  QbftEngine,
  type QbftModules,
  type QbftOptions,
  type QbftRecordEntry,
} from '../../chain/consensus/qbft/engine.ts'

import {
  decodeMessage,
  encodeUint,
  type ProposedBlock,
  type QbftMessage,
} from '../../chain/consensus/qbft/messages.ts'
import { keccak256, privateKeyToAddress, sign } from '../../chain/crypto/index.ts'

export const CHAIN_ID = 1337n

/** mulberry32: small, seedable, good enough for scheduling decisions. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Deterministic validator keys: keccak("qbft-test-key", i). */
export function testKey(i: number, salt = 'qbft-test-key'): Uint8Array {
  return keccak256(new TextEncoder().encode(`${salt}-${i}`))
}

export interface TestBlock {
  height: bigint
  round: number
  proposer: Uint8Array
  salt: Uint8Array
}

/** Test block format: rlp([height, round, proposer, salt]); hash = keccak(encoding). */
export function encodeTestBlock(block: TestBlock): Uint8Array {
  return RLP.encode([encodeUint(block.height), encodeUint(block.round), block.proposer, block.salt])
}

export function decodeTestBlock(encoded: Uint8Array): TestBlock {
  const items = RLP.decode(encoded) as Uint8Array[]
  if (!Array.isArray(items) || items.length !== 4) throw new Error('bad test block')
  const [height, round, proposer, salt] = items as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
  return {
    height: height.length === 0 ? 0n : BigInt(bytesToHex(height)),
    round: round.length === 0 ? 0 : Number(BigInt(bytesToHex(round))),
    proposer,
    salt,
  }
}

export function testBlock(block: TestBlock): ProposedBlock {
  const encoded = encodeTestBlock(block)
  return { hash: keccak256(encoded), encoded }
}

export interface Envelope {
  from: number
  to: number
  bytes: Uint8Array
  message: QbftMessage
  at: number
}

/** What to do with one delivery: deliver now-ish, drop, delay more, twice, or swap the bytes. */
export type Verdict =
  | 'deliver'
  | 'drop'
  | { delayMs: number }
  | { duplicateAfterMs: number }
  | { replace: Uint8Array }
export type Filter = (envelope: Envelope) => Verdict

export interface SimOptions {
  validators: number
  seed: number
  /** latency range (ms) of each delivery */
  latencyMs?: [number, number]
  blockPeriodMs?: number
  /** a node still below a height this long after someone decided it imports it ("sync") */
  syncAfterMs?: number | null
  /** time between a decision and its block being written (a crash in between loses it) */
  writeDelayMs?: number
  engine?: Partial<Omit<QbftOptions, 'chainId'>>
}

export interface SimNode {
  index: number
  key: Uint8Array
  address: Uint8Array
  engine: QbftEngine
  online: boolean
  /** restarts so far: a restarted node builds different blocks (new txs, new timestamp) */
  generation: number
  /** the node's consensus record (what survives a crash), in write order */
  record: QbftRecordEntry[]
  /** heights whose block is written (decided and stored, or synced): survives a crash */
  written: Set<bigint>
  deadline: number | null
  decisions: Map<bigint, { round: number; block: ProposedBlock; commitSeals: Uint8Array[] }>
  synced: Map<bigint, ProposedBlock>
  outcomes: { from: number; outcome: MessageOutcome }[]
  evidence: EquivocationEvidence[]
  broadcasts: Uint8Array[]
  timers: (number | null)[]
}

type SimEvent =
  | { at: number; seq: number; type: 'deliver'; envelope: Envelope }
  | {
      at: number
      seq: number
      type: 'startHeight'
      node: number
      height: bigint
      generation?: number
    }
  | { at: number; seq: number; type: 'sync'; node: number; height: bigint; block: ProposedBlock }
  | { at: number; seq: number; type: 'write'; node: number; height: bigint; generation: number }

type SimEventInput = SimEvent extends infer E
  ? E extends SimEvent
    ? Omit<E, 'seq'>
    : never
  : never

export class SimNetwork {
  now = 0
  readonly nodes: SimNode[] = []
  readonly validators: Uint8Array[]
  readonly options: Required<Omit<SimOptions, 'engine'>> & Pick<SimOptions, 'engine'>
  filter: Filter = () => 'deliver'
  /** proposals for these digests fail validateBlock */
  readonly invalidBlocks = new Set<string>()
  /**
   * Called after each record write, before the message leaves: return true to crash the
   * node right there (the message is lost, the record holds it).
   */
  crashOnRecord: (node: SimNode, entry: QbftRecordEntry) => boolean = () => false
  /** Called after each decision, before its block is written: return true to crash there. */
  crashOnDecide: (node: SimNode, height: bigint) => boolean = () => false
  /** every message that left a node (while it was up), in send order */
  readonly sent: { from: number; message: QbftMessage }[] = []
  /** two different blocks decided at one height by one node (across its restarts) */
  readonly selfForks: string[] = []
  readonly #random: () => number
  #events: SimEvent[] = []
  #seq = 0
  delivered = 0

  constructor(options: SimOptions) {
    this.options = {
      latencyMs: [5, 20],
      blockPeriodMs: 100,
      syncAfterMs: null,
      writeDelayMs: 0,
      ...options,
    }
    this.#random = prng(options.seed)
    const keys = Array.from({ length: options.validators }, (_, i) => testKey(i))
    const entries = keys
      .map((key) => ({ key, address: privateKeyToAddress(key) }))
      .sort((a, b) => (bytesToHex(a.address) < bytesToHex(b.address) ? -1 : 1))
    this.validators = entries.map((e) => e.address)
    entries.forEach(({ key, address }, index) => {
      this.nodes.push(this.#makeNode(index, key, address))
    })
  }

  #makeNode(index: number, key: Uint8Array, address: Uint8Array): SimNode {
    const node: SimNode = {
      index,
      key,
      address,
      engine: undefined as unknown as QbftEngine,
      online: true,
      generation: 0,
      record: [],
      written: new Set(),
      deadline: null,
      decisions: new Map(),
      synced: new Map(),
      outcomes: [],
      evidence: [],
      broadcasts: [],
      timers: [],
    }
    node.engine = this.#makeEngine(node)
    return node
  }

  #makeEngine(node: SimNode): QbftEngine {
    const { index, key, address, generation } = node
    const options: QbftOptions = {
      ...DEFAULT_QBFT_OPTIONS,
      roundTimeoutBaseMs: 1_000,
      roundTimeoutMaxMs: 8_000,
      ...this.options.engine,
      chainId: CHAIN_ID,
    }
    // Callbacks of an engine that crashed must not touch the node any more.
    const live = () => node.engine === engine && node.generation === generation
    const engine: QbftEngine = new QbftEngine(options, {
      signer: { address, sign: (hash) => sign(hash, key) },
      clock: { now: () => this.now },
      validatorsAt: () => this.validators,
      blockHash: (encoded) => {
        decodeTestBlock(encoded)
        return keccak256(encoded)
      },
      buildBlock: async (height, round) =>
        testBlock({
          height,
          round,
          proposer: address,
          salt:
            generation === 0
              ? Uint8Array.of(index, round)
              : Uint8Array.of(index, round, generation),
        }),
      validateBlock: async (block, height, round, preparedRound) => {
        if (this.invalidBlocks.has(bytesToHex(block.hash))) return false
        const decoded = decodeTestBlock(block.encoded)
        // Like extraData: a fresh block carries its round; a re-proposed one its first round.
        const roundOk =
          preparedRound === null ? decoded.round === round : decoded.round <= preparedRound
        return decoded.height === height && roundOk
      },
      record: (entry: QbftRecordEntry) => {
        if (!live()) throw new Error('crashed')
        node.record.push(entry)
        if (node.online && this.crashOnRecord(node, entry)) this.crash(node.index)
      },
      broadcast: (bytes) => {
        if (!live()) return
        node.broadcasts.push(bytes)
        this.#broadcast(index, bytes)
      },
      decide: (decision) => {
        if (!live()) return
        const before = node.decisions.get(decision.height)
        if (before !== undefined && !equalsBytes(before.block.hash, decision.block.hash)) {
          this.selfForks.push(`node ${index} decided two blocks at height ${decision.height}`)
        }
        node.decisions.set(decision.height, {
          round: decision.round,
          block: decision.block,
          commitSeals: decision.commitSeals,
        })
        this.#schedule({
          type: 'write',
          at: this.now + this.options.writeDelayMs,
          node: index,
          height: decision.height,
          generation,
        })
        this.#schedule({
          type: 'startHeight',
          at: this.now + Math.max(this.options.blockPeriodMs, this.options.writeDelayMs),
          node: index,
          height: decision.height + 1n,
          generation,
        })
        if (this.crashOnDecide(node, decision.height)) {
          this.crash(index)
          return
        }
        const syncAfter = this.options.syncAfterMs
        if (syncAfter !== null) {
          for (const other of this.nodes) {
            if (other.index === index) continue
            this.#schedule({
              type: 'sync',
              at: this.now + syncAfter,
              node: other.index,
              height: decision.height,
              block: decision.block,
            })
          }
        }
      },
      evidence: (evidence) => {
        if (live()) node.evidence.push(evidence)
      },
      timerSet: (deadline) => {
        if (!live()) return
        node.deadline = deadline
        node.timers.push(deadline)
      },
    } satisfies QbftModules)
    return engine
  }

  /**
   * Power cut: the node stops at once; only its record and its written blocks survive.
   * Messages in flight to it are lost while it is down.
   */
  crash(index: number): void {
    const node = this.nodes[index]!
    node.online = false
    node.deadline = null
    void node.engine.stop()
  }

  /**
   * Starts a crashed node again: a new engine restored from its record, at the height above
   * its written blocks; blocks decided meanwhile come by sync.
   */
  restart(index: number, options: { sync?: boolean } = {}): void {
    const node = this.nodes[index]!
    node.generation++
    node.engine = this.#makeEngine(node)
    node.online = true
    node.deadline = null
    node.engine.restore({ entries: node.record, evidence: node.evidence })
    node.engine.start()
    const head = this.writtenHead(node)
    node.engine.startHeight(head + 1n)
    if (options.sync === false) return
    // Sync: blocks the others have written above our head, in order.
    for (let height = head + 1n; ; height++) {
      const holder = this.nodes.find((n) => n.index !== index && n.written.has(height))
      const block = holder?.decisions.get(height)?.block ?? holder?.synced.get(height)
      if (block === undefined) break
      this.#schedule({ type: 'sync', at: this.now + 1, node: index, height, block })
    }
  }

  #schedule(event: SimEventInput): void {
    this.#events.push({ ...event, seq: this.#seq++ })
  }

  #broadcast(from: number, bytes: Uint8Array): void {
    if (!this.nodes[from]!.online) return
    const message = decodeMessage(bytes, { maxBytes: Number.MAX_SAFE_INTEGER })
    this.sent.push({ from, message })
    for (const to of this.nodes) {
      if (to.index === from) continue
      const [min, max] = this.options.latencyMs
      const latency = min + Math.floor(this.#random() * (max - min + 1))
      this.send({ from, to: to.index, bytes, message, at: this.now + latency })
    }
  }

  /** Queue one delivery through the filter (also for hand-made messages). */
  send(envelope: Envelope): void {
    const verdict = this.filter(envelope)
    if (verdict === 'drop') return
    if (verdict === 'deliver') {
      this.#schedule({ type: 'deliver', at: envelope.at, envelope })
    } else if ('delayMs' in verdict) {
      this.#schedule({ type: 'deliver', at: envelope.at + verdict.delayMs, envelope })
    } else if ('duplicateAfterMs' in verdict) {
      this.#schedule({ type: 'deliver', at: envelope.at, envelope })
      this.#schedule({ type: 'deliver', at: envelope.at + verdict.duplicateAfterMs, envelope })
    } else {
      const message = decodeMessage(verdict.replace, { maxBytes: Number.MAX_SAFE_INTEGER })
      this.#schedule({
        type: 'deliver',
        at: envelope.at,
        envelope: { ...envelope, bytes: verdict.replace, message },
      })
    }
  }

  /** Deliver raw bytes to one node right now, bypassing the filter. */
  async inject(to: number, bytes: Uint8Array): Promise<MessageOutcome> {
    const outcome = await this.nodes[to]!.engine.onMessage(bytes, 'injected')
    this.nodes[to]!.outcomes.push({ from: -1, outcome })
    await this.settle()
    return outcome
  }

  start(height = 1n): void {
    for (const node of this.nodes) {
      node.engine.start()
      node.engine.startHeight(height)
    }
  }

  /** Waits until no engine has hook calls or own messages in flight. */
  async settle(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.engine.settled()))
  }

  /** Runs events and timers in time order until `done` holds or time passes `untilMs`. */
  async run(done: () => boolean, untilMs: number): Promise<boolean> {
    for (;;) {
      await this.settle()
      if (done()) return true
      let next: SimEvent | undefined
      for (const event of this.#events) {
        if (
          next === undefined ||
          event.at < next.at ||
          (event.at === next.at && event.seq < next.seq)
        ) {
          next = event
        }
      }
      let timerAt = Number.POSITIVE_INFINITY
      for (const node of this.nodes) {
        if (node.online && node.deadline !== null) timerAt = Math.min(timerAt, node.deadline)
      }
      const at = Math.min(next?.at ?? Number.POSITIVE_INFINITY, timerAt)
      if (at === Number.POSITIVE_INFINITY || at > untilMs) {
        this.now = Math.max(this.now, Math.min(untilMs, at))
        return done()
      }
      this.now = Math.max(this.now, at)
      if (next !== undefined && next.at <= timerAt) {
        this.#events.splice(this.#events.indexOf(next), 1)
        await this.#apply(next)
      } else {
        for (const node of this.nodes) {
          if (node.online && node.deadline !== null && node.deadline <= this.now) {
            node.deadline = null
            node.engine.onTick()
          }
        }
      }
    }
  }

  async #apply(event: SimEvent): Promise<void> {
    const node = this.nodes[event.type === 'deliver' ? event.envelope.to : event.node]!
    if (!node.online) return
    switch (event.type) {
      case 'deliver': {
        this.delivered++
        const outcome = await node.engine.onMessage(
          event.envelope.bytes,
          `node${event.envelope.from}`,
        )
        node.outcomes.push({ from: event.envelope.from, outcome })
        break
      }
      case 'startHeight':
        if (event.generation !== undefined && event.generation !== node.generation) break
        if ((node.engine.status().height ?? 0n) < event.height)
          node.engine.startHeight(event.height)
        break
      case 'sync': {
        const current = node.engine.status().height ?? 0n
        if (current <= event.height && !node.written.has(event.height)) {
          node.synced.set(event.height, event.block)
          node.written.add(event.height)
          node.engine.startHeight(event.height + 1n)
        }
        break
      }
      case 'write':
        if (event.generation === node.generation) node.written.add(event.height)
        break
    }
  }

  /** Height every node has decided or synced (the lowest head). */
  minHead(nodes: SimNode[] = this.nodes): bigint {
    let min: bigint | null = null
    for (const node of nodes) {
      let head = 0n
      while (node.decisions.has(head + 1n) || node.synced.has(head + 1n)) head++
      if (min === null || head < min) min = head
    }
    return min ?? 0n
  }

  /** Height up to which the node has every block written (decided and stored, or synced). */
  writtenHead(node: SimNode): bigint {
    let head = 0n
    while (node.written.has(head + 1n)) head++
    return head
  }

  /** All decisions at each height carry the same block (no fork). Returns the heights. */
  assertNoFork(): bigint[] {
    const byHeight = new Map<bigint, Uint8Array>()
    for (const node of this.nodes) {
      for (const [height, decision] of node.decisions) {
        const seen = byHeight.get(height)
        if (seen === undefined) byHeight.set(height, decision.block.hash)
        else if (!equalsBytes(seen, decision.block.hash)) {
          throw new Error(`fork at height ${height}: node ${node.index} decided another block`)
        }
      }
    }
    return [...byHeight.keys()].sort((a, b) => (a < b ? -1 : 1))
  }

  random(): number {
    return this.#random()
  }
}
