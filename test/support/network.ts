/**
 * Multi-process networks for tests and benchmarks: free loopback ports, node keys made up
 * front (so every node can list every other as a bootnode), genesis and validator key files.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { freePorts } from '../../chain/devnet/processes.ts'
import { loadOrCreateNodeKey, peerIdOfKey } from '../../chain/p2p/libp2p.ts'
import type { TestGenesis } from './chain.ts'
import { writeGenesisFile, writeValidatorKey } from './p2p.ts'

export interface NetworkMember {
  name: string
  datadir: string
  keyFile: string
  p2pPort: number
  rpcPort: number
  multiaddr: string
  rpcUrl: string
}

/** Writes genesis, validator keys and node keys for `setup.validators` under `root`. */
export async function prepareNetwork(
  setup: TestGenesis,
  root: string,
): Promise<{ genesisFile: string; members: NetworkMember[] }> {
  const genesisFile = path.join(root, 'genesis.json')
  writeGenesisFile(setup.genesis, genesisFile)
  const ports = await freePorts(setup.validators.length * 2)
  const members: NetworkMember[] = []
  for (const [i, key] of setup.validators.entries()) {
    const datadir = path.join(root, `v${i}`)
    mkdirSync(datadir, { recursive: true })
    const keyFile = path.join(root, `v${i}.key`)
    writeValidatorKey(key, keyFile)
    const nodeKey = await loadOrCreateNodeKey(path.join(datadir, 'nodekey'))
    const p2pPort = ports[2 * i]!
    const rpcPort = ports[2 * i + 1]!
    members.push({
      name: `v${i}`,
      datadir,
      keyFile,
      p2pPort,
      rpcPort,
      multiaddr: `/ip4/127.0.0.1/tcp/${p2pPort}/p2p/${peerIdOfKey(nodeKey)}`,
      rpcUrl: `http://127.0.0.1:${rpcPort}`,
    })
  }
  return { genesisFile, members }
}

/** CLI arguments for member `i`: every other member is a bootnode. */
export function memberArgs(
  genesisFile: string,
  members: NetworkMember[],
  i: number,
  extra: string[] = [],
): string[] {
  const me = members[i]!
  const others = members.filter((_, j) => j !== i).map((m) => m.multiaddr)
  return [
    '--genesis',
    genesisFile,
    '--datadir',
    me.datadir,
    '--validator-key',
    me.keyFile,
    '--insecure-key',
    '--p2p-port',
    String(me.p2pPort),
    '--rpc-port',
    String(me.rpcPort),
    '--bootnodes',
    others.join(','),
    ...extra,
  ]
}
