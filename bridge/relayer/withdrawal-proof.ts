/**
 * Proves withdrawals of the SidechainBridge before the relayer journals or signs them: the
 * bridge's storage (`withdrawalCount`, the record `_withdrawals[id]`, `l1SignerEpoch`) is read
 * from `eth_getProof` and verified against the state root of the newest header the light client
 * verified (commit seals of a quorum of validators). The endpoint's word counts for nothing.
 *
 * Slots come from solc's storage layout of SidechainBridge (withdrawal-proof.test.ts compiles
 * the contract and checks them, so a layout change fails a test instead of every withdrawal).
 */
import { hexToBytes } from '@ethereumjs/util'
import { type Address, getAddress, type Hex, keccak256, toHex } from 'viem'
import { BridgeError } from '../core/errors.ts'
import type { SidechainLightClient, VerifiedHeader } from '../light-client/light-client.ts'
import { type RpcProof, slotKey, verifyAccountProof } from '../light-client/state-proof.ts'

/** Storage slots of SidechainBridge (solc storage layout; checked by withdrawal-proof.test.ts). */
export const SIDECHAIN_BRIDGE_SLOTS = {
  l1SignerEpoch: 3n,
  withdrawalCount: 6n,
  /** mapping(uint256 => WithdrawalRecord{l1Token, token, from, l1Recipient, amount}) */
  withdrawals: 14n,
} as const

/** Offsets of WithdrawalRecord's fields from the record's first slot (one slot each). */
export const WITHDRAWAL_RECORD_FIELDS = {
  l1Token: 0n,
  token: 1n,
  from: 2n,
  l1Recipient: 3n,
  amount: 4n,
} as const

/** First slot of `_withdrawals[id]`: keccak256(id . slot), as solc lays out mappings. */
export function withdrawalRecordSlot(id: bigint): bigint {
  const key = new Uint8Array(64)
  key.set(hexToBytes(slotKey(id)), 0)
  key.set(hexToBytes(slotKey(SIDECHAIN_BRIDGE_SLOTS.withdrawals)), 32)
  return BigInt(keccak256(key))
}

export interface ProvenWithdrawal {
  withdrawalId: bigint
  token: Address
  recipient: Address
  amount: bigint
}

export interface ProvenBridgeState {
  header: VerifiedHeader
  withdrawalCount: bigint
  l1SignerEpoch: bigint
  withdrawals: ProvenWithdrawal[]
}

/** The one JSON-RPC call the prover makes (viem's `client.request`). */
export interface ProofSource {
  getProof(address: Address, slots: Hex[], blockNumber: bigint): Promise<RpcProof>
}

export interface WithdrawalProverModules {
  lightClient: Pick<SidechainLightClient, 'sync'>
  source: ProofSource
  /** Called with the refusal's code on every failed proof, and with the time spent verifying each proof. */
  onRefusal?: (code: string) => void
  onVerified?: (seconds: number) => void
}

/** Most storage keys asked in one eth_getProof (the node accepts 1,000). */
const MAX_KEYS = 900

export class WithdrawalProver {
  private readonly bridge: Address
  private readonly m: WithdrawalProverModules

  constructor(options: { bridge: Address }, modules: WithdrawalProverModules) {
    this.bridge = options.bridge
    this.m = modules
  }

  /** Verifies the headers the endpoint has beyond the last verified one (see SidechainLightClient.sync). */
  follow(): Promise<VerifiedHeader> {
    return this.m.lightClient.sync()
  }

  /**
   * Syncs the light client and proves the bridge's withdrawal count, L1 signer epoch and the
   * records of `ids` (those below the proven count) at the newest verified header.
   */
  async prove(ids: readonly bigint[]): Promise<ProvenBridgeState> {
    const header = await this.m.lightClient.sync()
    try {
      return await this.proveAt(header, ids)
    } catch (err) {
      if (err instanceof BridgeError) this.m.onRefusal?.(err.code)
      throw err
    }
  }

  /** The withdrawal as proven, or a refusal when `expected` differs from it in any field. */
  async proveWithdrawal(
    expected: ProvenWithdrawal & { epoch: bigint },
  ): Promise<ProvenBridgeState> {
    const state = await this.prove([expected.withdrawalId])
    const proven = state.withdrawals[0]
    try {
      if (proven === undefined) {
        throw unproven(expected.withdrawalId, 'no such withdrawal in the verified state', {
          withdrawalCount: state.withdrawalCount.toString(),
        })
      }
      const differs: string[] = []
      if (proven.token !== getAddress(expected.token)) differs.push('token')
      if (proven.recipient !== getAddress(expected.recipient)) differs.push('recipient')
      if (proven.amount !== expected.amount) differs.push('amount')
      if (state.l1SignerEpoch !== expected.epoch) differs.push('epoch')
      if (differs.length > 0) {
        throw unproven(
          expected.withdrawalId,
          `the proven record differs in ${differs.join(', ')}`,
          {
            differs,
            proven: {
              token: proven.token,
              recipient: proven.recipient,
              amount: proven.amount.toString(),
              epoch: state.l1SignerEpoch.toString(),
            },
            block: state.header.number.toString(),
          },
        )
      }
    } catch (err) {
      if (err instanceof BridgeError) this.m.onRefusal?.(err.code)
      throw err
    }
    return state
  }

  private async proveAt(
    header: VerifiedHeader,
    ids: readonly bigint[],
  ): Promise<ProvenBridgeState> {
    const head = [SIDECHAIN_BRIDGE_SLOTS.withdrawalCount, SIDECHAIN_BRIDGE_SLOTS.l1SignerEpoch]
    const fields = [
      WITHDRAWAL_RECORD_FIELDS.l1Token,
      WITHDRAWAL_RECORD_FIELDS.l1Recipient,
      WITHDRAWAL_RECORD_FIELDS.amount,
    ]
    const idSlots = ids.map((id) => {
      const base = withdrawalRecordSlot(id)
      return fields.map((f) => base + f)
    })
    const slots = [...head, ...idSlots.flat()]
    const values = new Map<Hex, bigint>()
    for (let i = 0; i < slots.length; i += MAX_KEYS) {
      const chunk = slots.slice(i, i + MAX_KEYS)
      const proof = await this.m.source.getProof(this.bridge, chunk.map(slotKey), header.number)
      const started = performance.now()
      const account = await verifyAccountProof(header.stateRoot, this.bridge, chunk, proof)
      // Verification only (CPU), not the endpoint's time to answer.
      this.m.onVerified?.((performance.now() - started) / 1000)
      for (const [k, v] of account.storage) values.set(k, v)
    }
    const read = (slot: bigint) => values.get(slotKey(slot)) ?? 0n
    const withdrawalCount = read(SIDECHAIN_BRIDGE_SLOTS.withdrawalCount)
    const withdrawals: ProvenWithdrawal[] = []
    ids.forEach((id, i) => {
      const [token, recipient, amount] = idSlots[i]!.map(read) as [bigint, bigint, bigint]
      // `withdraw` refuses a zero amount, so a record with amount 0 was never written.
      if (id >= withdrawalCount || amount === 0n) return
      withdrawals.push({
        withdrawalId: id,
        token: asAddress(token),
        recipient: asAddress(recipient),
        amount,
      })
    })
    return {
      header,
      withdrawalCount,
      l1SignerEpoch: read(SIDECHAIN_BRIDGE_SLOTS.l1SignerEpoch),
      withdrawals,
    }
  }
}

function asAddress(word: bigint): Address {
  return getAddress(toHex(word & ((1n << 160n) - 1n), { size: 20 }))
}

function unproven(id: bigint, message: string, details: Record<string, unknown>): BridgeError {
  return new BridgeError('RELAYER_WITHDRAWAL_UNPROVEN', `withdrawal ${id}: ${message}`, {
    details: { withdrawalId: id.toString(), ...details },
  })
}

/** A ProofSource over a viem client's `request`. */
export function rpcProofSource(client: {
  request(args: { method: 'eth_getProof'; params: [Address, Hex[], Hex] }): Promise<unknown>
}): ProofSource {
  return {
    getProof: async (address, slots, blockNumber) =>
      (await client.request({
        method: 'eth_getProof',
        params: [address, slots, toHex(blockNumber)],
      })) as RpcProof,
  }
}
