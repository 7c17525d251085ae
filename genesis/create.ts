/**
 * Writes a genesis file and fresh validator keys from a few parameters: what the
 * `sidechain genesis` command and the devnet use.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { bytesToHex } from '@ethereumjs/util'
import { randomPrivateKey } from '../chain/crypto/index.ts'
import { type KeyPair, keyPairFromPrivateKey, writeKeyFile } from '../chain/lib/keys.ts'
import { GenesisError } from './errors.ts'
import { type Genesis, type GenesisInput, genesisToJson, parseGenesis } from './schema.ts'

export interface CreateGenesisParams {
  outDir: string
  chainId: number
  /** Number of new validator keys to generate. */
  newValidators: number
  /** Existing validator addresses to include. */
  validatorAddresses?: string[]
  /** Funded accounts: address -> balance in wei. */
  fund?: Array<{ address: string; balanceWei: bigint }>
  blockPeriodMs?: number
  /** Extra genesis config fields and alloc entries (devnet predeploys). */
  config?: Partial<GenesisInput['config']>
  alloc?: GenesisInput['alloc']
  timestamp?: number
}

export interface CreatedGenesis {
  genesis: Genesis
  genesisPath: string
  validatorKeys: Array<{ path: string; keyPair: KeyPair }>
}

export function createGenesis(params: CreateGenesisParams): CreatedGenesis {
  mkdirSync(params.outDir, { recursive: true })
  const genesisPath = path.join(params.outDir, 'genesis.json')
  if (existsSync(genesisPath)) {
    throw new GenesisError(
      'GENESIS_EXISTS',
      `${genesisPath} already exists; refusing to overwrite it`,
    )
  }
  const validatorKeys: CreatedGenesis['validatorKeys'] = []
  for (let i = 0; i < params.newValidators; i++) {
    const keyPair = keyPairFromPrivateKey(randomPrivateKey())
    validatorKeys.push({ path: path.join(params.outDir, `validator-${i}.key`), keyPair })
  }
  const alloc: NonNullable<GenesisInput['alloc']> = { ...(params.alloc ?? {}) }
  for (const { address, balanceWei } of params.fund ?? []) {
    alloc[address.toLowerCase()] = {
      ...(alloc[address.toLowerCase()] ?? {}),
      balance: `0x${balanceWei.toString(16)}`,
    }
  }
  const genesis = parseGenesis(
    {
      config: {
        chainId: params.chainId,
        ...(params.blockPeriodMs === undefined ? {} : { blockPeriodMs: params.blockPeriodMs }),
        ...params.config,
      },
      timestamp: params.timestamp ?? Math.floor(Date.now() / 1000),
      validators: [
        ...(params.validatorAddresses ?? []),
        ...validatorKeys.map((v) => bytesToHex(v.keyPair.address)),
      ],
      alloc,
    },
    'generated genesis',
  )
  // Keys first: a genesis naming validators whose keys were never written is useless.
  for (const { path: keyPath, keyPair } of validatorKeys) writeKeyFile(keyPath, keyPair)
  writeFileSync(genesisPath, `${JSON.stringify(genesisToJson(genesis), null, 2)}\n`, { flag: 'wx' })
  return { genesis, genesisPath, validatorKeys }
}
