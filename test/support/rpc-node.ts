import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { bytesToHex } from '@ethereumjs/util'
import { randomPrivateKey } from '../../chain/crypto/index.ts'
import { DEV_ACCOUNTS } from '../../chain/devnet/accounts.ts'
import { keyPairFromPrivateKey } from '../../chain/lib/keys.ts'
import { pollUntil as poll } from '../../chain/lib/poll.ts'
import { SidechainNode } from '../../chain/node.ts'
import type { RpcOptionsInput } from '../../chain/rpc/service.ts'
import { ManualScheduler } from '../../chain/util/scheduler.ts'
import { type Genesis, type GenesisInput, parseGenesis } from '../../genesis/schema.ts'
import { compileSolidity } from './solc.ts'

export const DEV_BALANCE = 10_000n * 10n ** 18n

export interface RpcTestNode {
  node: SidechainNode
  genesis: Genesis
  url: string
  wsUrl: string
  scheduler: ManualScheduler | undefined
  /** Manual mode: moves the clock one period and waits for the block; timer mode: waits for the next block. */
  produce(): Promise<void>
  /** Raw JSON-RPC over HTTP; returns the parsed response envelope. */
  request(
    method: string,
    params?: unknown[],
  ): Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }>
  stop(): Promise<void>
}

export async function startRpcNode(
  params: {
    chainId?: number
    blockPeriodMs?: number
    manual?: boolean
    rpc?: RpcOptionsInput
    config?: Partial<GenesisInput['config']>
    alloc?: GenesisInput['alloc']
  } = {},
): Promise<RpcTestNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sidechain-rpc-'))
  const validator = keyPairFromPrivateKey(randomPrivateKey())
  const alloc: NonNullable<GenesisInput['alloc']> = { ...(params.alloc ?? {}) }
  for (const a of DEV_ACCOUNTS)
    alloc[a.address.toLowerCase()] = { balance: `0x${DEV_BALANCE.toString(16)}` }
  const scheduler = params.manual === true ? new ManualScheduler(Date.now()) : undefined
  const genesis = parseGenesis({
    config: {
      chainId: params.chainId ?? 1337,
      blockPeriodMs: params.blockPeriodMs ?? 1000,
      ...params.config,
    },
    timestamp: Math.floor((scheduler?.now() ?? Date.now()) / 1000) - 10,
    validators: [bytesToHex(validator.address)],
    alloc,
  })
  const node = new SidechainNode(
    { genesis, datadir: dir, validatorKey: validator, rpc: { port: 0, ...params.rpc } },
    scheduler === undefined ? {} : { scheduler },
  )
  await node.start()
  const rpc = node.rpc!
  let id = 0
  return {
    node,
    genesis,
    url: rpc.url,
    wsUrl: rpc.wsUrl,
    scheduler,
    async produce() {
      const target = node.ledger.head.number + 1n
      // The engine's own timer seals the block when the clock reaches the period.
      scheduler?.advance(genesis.config.blockPeriodMs)
      await pollUntil(() => node.ledger.head.number >= target, `block ${target}`)
    },
    async request(method, requestParams = []) {
      const response = await fetch(rpc.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params: requestParams }),
      })
      return (await response.json()) as {
        result?: unknown
        error?: { code: number; message: string; data?: unknown }
      }
    },
    async stop() {
      await node.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export function pollUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  return poll(check, { what, timeoutMs, intervalMs: 25 })
}

/** A small contract exercising storage, events, reverts, nested calls and loops. */
export const PROBE_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Probe {
    uint256 public value;
    mapping(address => uint256) public credits;

    event Stored(address indexed by, uint256 indexed value, bytes note);
    error Nope(uint256 code);

    constructor(uint256 initial) payable {
        value = initial;
    }

    function store(uint256 v, bytes calldata note) external {
        value = v;
        credits[msg.sender] += 1;
        emit Stored(msg.sender, v, note);
    }

    function fail(string calldata reason) external pure {
        revert(reason);
    }

    function failCustom(uint256 code) external pure {
        revert Nope(code);
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }

    function spin(uint256 n) external view returns (uint256 acc) {
        for (uint256 i; i < n; i++) acc += i ^ value;
    }

    function callOther(address target, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory out) = target.call(data);
        require(ok, "inner call failed");
        return out;
    }

    function whoami() external view returns (address) {
        return msg.sender;
    }

    receive() external payable {}
}
`

export interface CompiledArtifact {
  abi: unknown[]
  bytecode: `0x${string}`
}

/** `compileSolidity` (test/support/solc.ts), as the RPC tests use it: ABI and creation code. */
export function compileContracts(
  sources: Record<string, string>,
): Record<string, CompiledArtifact> {
  return Object.fromEntries(
    Object.entries(compileSolidity(sources)).map(([name, c]) => [
      name,
      { abi: c.abi, bytecode: c.bytecode },
    ]),
  )
}

export function compileProbe(): CompiledArtifact {
  return compileContracts({ 'Probe.sol': PROBE_SOURCE }).Probe!
}
