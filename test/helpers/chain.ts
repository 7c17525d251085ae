/**
 * Test fixtures for the chain: genesis with funded keys, nodes in temp folders, signed
 * transfers. Real LevelDB in a temp folder; time driven by a ManualScheduler where asked.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Common } from '@ethereumjs/common'
import { createTx, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { type KeyPair, keyPairFromPrivateKey } from '../../chain/config/keys.ts'
import { randomPrivateKey } from '../../chain/crypto/index.ts'
import { type Genesis, type GenesisInput, parseGenesis } from '../../genesis/schema.ts'

export function tempDir(prefix = 'sidechain-test-'): { path: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface TestGenesis {
  genesis: Genesis
  validators: KeyPair[]
  accounts: KeyPair[]
}

export function makeGenesis(
  params: {
    validators?: number
    accounts?: number
    balanceWei?: bigint
    chainId?: number
    config?: Partial<GenesisInput['config']>
    alloc?: GenesisInput['alloc']
  } = {},
): TestGenesis {
  const validators = Array.from({ length: params.validators ?? 1 }, () =>
    keyPairFromPrivateKey(randomPrivateKey()),
  )
  const accounts = Array.from({ length: params.accounts ?? 4 }, () =>
    keyPairFromPrivateKey(randomPrivateKey()),
  )
  const balance = `0x${(params.balanceWei ?? 10n ** 24n).toString(16)}`
  const alloc: NonNullable<GenesisInput['alloc']> = { ...(params.alloc ?? {}) }
  for (const a of accounts) alloc[a.addressHex] = { balance }
  const genesis = parseGenesis({
    config: { chainId: params.chainId ?? 1337, blockPeriodMs: 1000, ...params.config },
    timestamp: 1_700_000_000,
    validators: validators.map((v) => v.addressHex),
    alloc,
  })
  return { genesis, validators, accounts }
}

export function transfer(
  common: Common,
  from: KeyPair,
  to: Uint8Array,
  nonce: bigint,
  value: bigint,
  fees: { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint; gasLimit?: bigint } = {},
): TypedTransaction {
  return createTx(
    {
      type: 2,
      chainId: common.chainId(),
      nonce,
      to,
      value,
      gasLimit: fees.gasLimit ?? 21_000n,
      maxFeePerGas: fees.maxFeePerGas ?? 10n ** 10n,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 10n ** 9n,
    },
    { common },
  ).sign(from.privateKey)
}

export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 20, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

export { bytesToHex }
