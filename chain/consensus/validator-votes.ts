/**
 * Validator set changes by vote (Clique/QBFT style). A proposer puts at most one vote in
 * its block (`extraData.vote`: add a non-member or remove a member). When more than half of
 * the current validators have voted the same way for the same address, the change applies
 * from the next block. Epoch blocks (number % epochLength == 0) reset pending votes and
 * carry the full validator list.
 *
 * The tally is a pure state machine over headers; the ledger persists its snapshot in the
 * same atomic batch as the block, so a restart resumes with exactly the right set.
 */
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { ConsensusError } from './errors.ts'
import type { ConsensusExtraData, ValidatorVote } from './extra-data.ts'
import type { ConsensusHeader, ValidatorSetSource } from './rules.ts'

type Hex = `0x${string}`

interface TallyState {
  /** Validator sets by the first block they seal, ascending; the last is current. */
  changes: Array<{ from: bigint; validators: Hex[] }>
  /** candidate -> voter -> add? (current epoch only) */
  votes: Map<Hex, Map<Hex, boolean>>
}

export interface PendingVote {
  address: Hex
  add: boolean
}

function sortHex(list: Iterable<Hex>): Hex[] {
  return [...list].sort()
}

export class VoteTally implements ValidatorSetSource {
  readonly epochLength: bigint
  private state: TallyState

  constructor(genesisValidators: readonly Uint8Array[], epochLength: number) {
    this.epochLength = BigInt(epochLength)
    this.state = {
      changes: [
        { from: 0n, validators: sortHex(genesisValidators.map((v) => bytesToHex(v) as Hex)) },
      ],
      votes: new Map(),
    }
  }

  validatorsAt(number: bigint): Uint8Array[] {
    const { changes } = this.state
    for (let i = changes.length - 1; i >= 0; i--) {
      if (changes[i]!.from <= number) return changes[i]!.validators.map((v) => hexToBytes(v))
    }
    return changes[0]!.validators.map((v) => hexToBytes(v))
  }

  isEpochBlock(number: bigint): boolean {
    return number % this.epochLength === 0n
  }

  /** Current votes of the epoch: candidate -> (voter -> add). */
  tally(): Map<Hex, Map<Hex, boolean>> {
    return new Map([...this.state.votes].map(([k, v]) => [k, new Map(v)]))
  }

  /** Does `vote` make sense against the set that seals block `number`? */
  isMeaningful(vote: ValidatorVote, number: bigint): boolean {
    const member = this.validatorsAt(number).some((v) => bytesToHex(v) === bytesToHex(vote.address))
    return vote.add !== member
  }

  /**
   * The state after importing `header`, without applying it: the ledger writes the
   * snapshot with the block and applies it once the write succeeded.
   */
  prepareBlock(
    header: Pick<ConsensusHeader, 'number' | 'coinbase'>,
    extra: ConsensusExtraData,
  ): { snapshot: Uint8Array; apply(): void } {
    const next = applyBlock(
      this.state,
      header.number,
      bytesToHex(header.coinbase.bytes) as Hex,
      extra,
      this.epochLength,
    )
    return {
      snapshot: encodeState(next),
      apply: () => {
        this.state = next
      },
    }
  }

  restore(snapshot: Uint8Array): void {
    this.state = decodeState(snapshot)
  }
}

function applyBlock(
  state: TallyState,
  number: bigint,
  proposer: Hex,
  extra: ConsensusExtraData,
  epoch: bigint,
): TallyState {
  const current = state.changes[state.changes.length - 1]!.validators
  const votes =
    number % epoch === 0n
      ? new Map<Hex, Map<Hex, boolean>>()
      : new Map([...state.votes].map(([k, v]) => [k, new Map(v)]))
  let changes = state.changes
  if (extra.vote !== null && number % epoch !== 0n) {
    const candidate = bytesToHex(extra.vote.address) as Hex
    const member = current.includes(candidate)
    if (extra.vote.add !== member) {
      const ballots = votes.get(candidate) ?? new Map<Hex, boolean>()
      ballots.set(proposer, extra.vote.add)
      votes.set(candidate, ballots)
      const agreeing = [...ballots].filter(
        ([voter, add]) => add === extra.vote!.add && current.includes(voter),
      ).length
      if (agreeing * 2 > current.length) {
        const nextSet = extra.vote.add
          ? sortHex([...current, candidate])
          : current.filter((v) => v !== candidate)
        changes = [...changes, { from: number + 1n, validators: nextSet }]
        votes.delete(candidate)
        if (!extra.vote.add) {
          // A removed validator's pending ballots no longer count.
          for (const ballotsOf of votes.values()) ballotsOf.delete(candidate)
        }
      }
    }
  }
  return { changes, votes }
}

function encodeState(state: TallyState): Uint8Array {
  const json = JSON.stringify({
    changes: state.changes.map((c) => ({ from: c.from.toString(), validators: c.validators })),
    votes: [...state.votes].map(([candidate, ballots]) => [candidate, [...ballots]]),
  })
  return new TextEncoder().encode(json)
}

function decodeState(bytes: Uint8Array): TallyState {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as {
      changes: Array<{ from: string; validators: Hex[] }>
      votes: Array<[Hex, Array<[Hex, boolean]>]>
    }
    return {
      changes: json.changes.map((c) => ({ from: BigInt(c.from), validators: c.validators })),
      votes: new Map(json.votes.map(([candidate, ballots]) => [candidate, new Map(ballots)])),
    }
  } catch (cause) {
    throw new ConsensusError('STORAGE_CORRUPT', 'stored validator vote tally is unreadable', {
      cause,
    })
  }
}

/** This node's wishes: the votes its proposer puts into blocks (qbft_proposeValidatorVote). */
export class VoteProposals {
  private readonly wishes = new Map<Hex, boolean>()

  propose(address: Uint8Array, add: boolean): void {
    this.wishes.set(bytesToHex(address) as Hex, add)
  }

  discard(address: Uint8Array): boolean {
    return this.wishes.delete(bytesToHex(address) as Hex)
  }

  list(): PendingVote[] {
    return [...this.wishes].map(([address, add]) => ({ address, add }))
  }

  /**
   * The vote to put in block `number`: the first wish that still makes sense (wishes that
   * came true are dropped). None on epoch blocks.
   */
  voteFor(number: bigint, tally: VoteTally): ValidatorVote | null {
    if (tally.isEpochBlock(number)) return null
    for (const [address, add] of this.wishes) {
      const vote = { address: hexToBytes(address), add }
      if (tally.isMeaningful(vote, number)) return vote
      this.wishes.delete(address)
    }
    return null
  }
}
