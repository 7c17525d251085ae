/** geth-style state and block overrides, applied to a scratch state and block context. */
import { Block, type BlockHeader, createBlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { MerkleStateManager } from '@ethereumjs/statemanager'
import { Account } from '@ethereumjs/util'
import type { BlockOverrides, StateOverrides } from './request.ts'

/** Applies state overrides to a scratch state (never the node's). */
export async function applyStateOverrides(
  sm: MerkleStateManager,
  overrides: StateOverrides,
): Promise<void> {
  for (const [address, o] of overrides) {
    const account = (await sm.getAccount(address)) ?? new Account()
    if (o.balance !== undefined) account.balance = o.balance
    if (o.nonce !== undefined) account.nonce = o.nonce
    await sm.putAccount(address, account)
    if (o.code !== undefined) await sm.putCode(address, o.code)
    if (o.state !== undefined) await sm.clearStorage(address)
    for (const [slot, value] of o.state ?? o.stateDiff ?? []) {
      await sm.putStorage(address, slot, stripZeros(value))
    }
  }
}

function stripZeros(value: Uint8Array): Uint8Array {
  let i = 0
  while (i < value.length && value[i] === 0) i++
  return value.subarray(i)
}

/** The block whose fields the EVM sees: `header` with the overrides on top. */
export function contextBlock(
  header: BlockHeader,
  overrides: BlockOverrides | undefined,
  noBaseFee: boolean,
  common: Common,
): Block {
  const o = overrides ?? {}
  const baseFee = o.baseFeePerGas ?? (noBaseFee ? 0n : (header.baseFeePerGas ?? 0n))
  const contextHeader = createBlockHeader(
    {
      parentHash: header.parentHash,
      coinbase: o.feeRecipient ?? header.coinbase,
      stateRoot: header.stateRoot,
      number: o.number ?? header.number,
      timestamp: o.time ?? header.timestamp,
      gasLimit: o.gasLimit ?? header.gasLimit,
      baseFeePerGas: baseFee,
      mixHash: o.prevRandao ?? header.mixHash,
      difficulty: header.difficulty,
      extraData: header.extraData,
      withdrawalsRoot: header.withdrawalsRoot,
      blobGasUsed: header.blobGasUsed,
      excessBlobGas: header.excessBlobGas,
      parentBeaconBlockRoot: header.parentBeaconBlockRoot,
      requestsHash: header.requestsHash,
    },
    { common, skipConsensusFormatValidation: true },
  )
  return new Block(contextHeader, [], [], [], { common })
}
