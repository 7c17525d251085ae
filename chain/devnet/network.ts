/**
 * Keys and genesis of a devnet-style network: N validator keys, R relayer keys, node keys (so every validator can
 * list every other as a bootnode before any of them runs), and a genesis that funds the dev accounts and the
 * relayers and carries the predeploys. Used by the local devnet and by `sidechain devnet init` (docker).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import { createGenesis } from '../../genesis/create.ts'
import { predeployAlloc } from '../../genesis/predeploys.ts'
import { randomPrivateKey } from '../crypto/index.ts'
import { type KeyPair, keyPairFromPrivateKey, readKeyFile, writeKeyFile } from '../lib/keys.ts'
import { loadOrCreateNodeKey, peerIdOfKey } from '../p2p/libp2p.ts'
import { DEV_ACCOUNTS } from './accounts.ts'
import { DevnetError } from './errors.ts'

export const ETHER = 10n ** 18n
/** Sidechain coin of every dev account in the genesis. */
export const DEV_ACCOUNT_BALANCE = 10_000n * ETHER
/** Sidechain coin of every relayer in the genesis (they pay gas for confirmations and signatures). */
export const RELAYER_BALANCE = 100n * ETHER

export interface NetworkParams {
  /** Folder for genesis.json, validator-<i>.key and relayer-<i>.key; created atomically. */
  outDir: string
  chainId: number
  validators: number
  relayers: number
  blockTimeMs: number
  /** Fund the public dev accounts (default true; turn off for anything reachable from outside). */
  devAccounts?: boolean
  /** More funded accounts (address -> wei) besides the dev accounts and the relayers. */
  fund?: Array<{ address: string; balanceWei: bigint }>
}

export interface NetworkKeys {
  genesisPath: string
  validators: KeyPair[]
  relayers: KeyPair[]
}

/**
 * Writes the genesis and keys into `outDir`, which must not exist yet. Everything is written into a sibling
 * temporary folder first and renamed at the end, so an interrupted run leaves nothing half-made behind.
 */
export function createNetworkFiles(params: NetworkParams): NetworkKeys {
  if (existsSync(params.outDir) && readdirSync(params.outDir).length > 0) {
    throw new DevnetError(
      'DEVNET_STATE_INVALID',
      `${params.outDir} already exists; refusing to overwrite keys`,
    )
  }
  const tmp = `${params.outDir}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true, mode: 0o700 })
  try {
    const relayers = Array.from({ length: params.relayers }, (_, i) => {
      const pair = keyPairFromPrivateKey(randomPrivateKey())
      writeKeyFile(path.join(tmp, `relayer-${i}.key`), pair)
      return pair
    })
    const created = createGenesis({
      outDir: tmp,
      chainId: params.chainId,
      newValidators: params.validators,
      blockPeriodMs: params.blockTimeMs,
      alloc: predeployAlloc(),
      fund: [
        ...(params.devAccounts === false
          ? []
          : DEV_ACCOUNTS.map((a) => ({ address: a.address, balanceWei: DEV_ACCOUNT_BALANCE }))),
        ...relayers.map((r) => ({ address: r.addressHex, balanceWei: RELAYER_BALANCE })),
        ...(params.fund ?? []),
      ],
    })
    rmSync(params.outDir, { recursive: true, force: true })
    renameSync(tmp, params.outDir)
    return {
      genesisPath: path.join(params.outDir, 'genesis.json'),
      validators: created.validatorKeys.map((v) => v.keyPair),
      relayers,
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true })
    throw err
  }
}

/** Reads back the keys `createNetworkFiles` wrote. */
export function readNetworkKeys(outDir: string, validators: number, relayers: number): NetworkKeys {
  return {
    genesisPath: path.join(outDir, 'genesis.json'),
    validators: Array.from({ length: validators }, (_, i) =>
      readKeyFile(path.join(outDir, `validator-${i}.key`)),
    ),
    relayers: Array.from({ length: relayers }, (_, i) =>
      readKeyFile(path.join(outDir, `relayer-${i}.key`)),
    ),
  }
}

/** The libp2p peer id of the node key in `datadir` (created if missing, as the node would). */
export async function nodePeerId(datadir: string): Promise<string> {
  mkdirSync(datadir, { recursive: true })
  return peerIdOfKey(await loadOrCreateNodeKey(path.join(datadir, 'nodekey')))
}
