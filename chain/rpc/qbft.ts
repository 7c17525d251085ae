/**
 * The `qbft_` namespace (Besu-compatible names): validator sets by block, this node's
 * validator votes, and consensus status per validator with equivocation evidence.
 */
import { bytesToHex, toChecksumAddress } from '@ethereumjs/util'
import type { EquivocationEvidence, QbftStatus } from '../consensus/qbft/index.ts'
import type { ValidatorSetSource } from '../consensus/rules.ts'
import type { VoteProposals } from '../consensus/validator-votes.ts'
import { RPC_ERROR, RpcError } from './errors.ts'
import { quantity } from './format.ts'
import { defineMethod, type RpcModule } from './handler.ts'
import { type BlockRef, p } from './params.ts'

export interface QbftRpcDeps {
  head(): bigint
  validatorSet: ValidatorSetSource
  votes: VoteProposals
  /** Present on validators running QBFT. */
  consensus?: { status(): QbftStatus; evidence(): EquivocationEvidence[] }
  /** The node's clock (the one `lastSeenAt` is read from): clients compare ages against its `now`, not theirs. */
  clock?: { now(): number }
  /** Block period of the genesis, so clients can tell a late validator from a slow chain. */
  blockPeriodMs?: number
}

function checksum(address: Uint8Array): string {
  return toChecksumAddress(bytesToHex(address))
}

function blockNumberOf(ref: BlockRef, head: bigint): bigint {
  if (ref.kind === 'number') {
    if (ref.number > head)
      throw new RpcError(
        RPC_ERROR.INVALID_PARAMS,
        `block ${ref.number} is beyond the head (${head})`,
      )
    return ref.number
  }
  return ref.tag === 'earliest' ? 0n : ref.tag === 'pending' ? head + 1n : head
}

export function qbftModule(deps: QbftRpcDeps): RpcModule {
  return {
    namespace: 'qbft',
    methods: {
      getValidatorsByBlockNumber: defineMethod([p.blockRef('blockNumber')], ([ref]) =>
        deps.validatorSet.validatorsAt(blockNumberOf(ref, deps.head())).map(checksum),
      ),
      proposeValidatorVote: defineMethod(
        [p.address('validator'), p.boolean('add')],
        ([address, add]) => {
          deps.votes.propose(address.bytes, add)
          return true
        },
        { api: 'admin' },
      ),
      discardValidatorVote: defineMethod(
        [p.address('validator')],
        ([address]) => deps.votes.discard(address.bytes),
        { api: 'admin' },
      ),
      getPendingVotes: defineMethod([], () =>
        Object.fromEntries(deps.votes.list().map((v) => [toChecksumAddress(v.address), v.add])),
      ),
      status: defineMethod([], () => {
        const status = deps.consensus?.status()
        const evidence = deps.consensus?.evidence() ?? []
        return {
          head: quantity(deps.head()),
          now: deps.clock?.now() ?? Date.now(),
          blockPeriodMs: deps.blockPeriodMs ?? null,
          running: status?.running ?? false,
          height: status?.height === null || status === undefined ? null : quantity(status.height),
          round: status?.round ?? null,
          proposer: status?.proposer ? checksum(status.proposer) : null,
          isValidator: status?.isValidator ?? false,
          validators: (status?.validatorStats ?? []).map((v) => ({
            address: checksum(v.address),
            lastHeight: v.lastHeight === null ? null : quantity(v.lastHeight),
            lastRound: v.lastRound,
            lastSeenAt: v.lastSeenAt,
            proposalsMade: v.proposalsMade,
            proposalsMissed: v.proposalsMissed,
            commitsIncluded: v.commitsIncluded,
            equivocations: v.equivocations,
          })),
          evidence: evidence.map((e) => ({
            author: checksum(e.author),
            height: quantity(e.height),
            round: e.round,
            kind: e.kind,
            messages: e.messages.map((m) => bytesToHex(m)),
            detectedAt: e.detectedAt,
          })),
        }
      }),
    },
  }
}
