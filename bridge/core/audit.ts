/**
 * Security invariant 7: the wrapped supply on the sidechain never exceeds what the vault holds on L1.
 *
 * `auditBridge` is the full check behind `sidechain bridge audit`. L1 is read first (block B1), the sidechain
 * after it (block B2), so anything in flight between the two reads is on the safe side. Per L1 token:
 *
 *   locked          vault balance at B1
 *   supply          wrapped token totalSupply at B2 (0 before the first mint)
 *   pendingMints    deposits (Deposited logs up to B1) whose id is not minted at B2
 *   pendingReleases withdrawals (up to B2) whose id has no Released log up to B1
 *   surplus         locked - supply - pendingMints - pendingReleases
 *
 * A healthy bridge has surplus 0. Below 0 is a DEFICIT: wrapped tokens or claims exist that nothing on L1 backs.
 * Above 0 is a SURPLUS: the vault got funds outside `deposit*` (a plain transfer); harmless for users, but the
 * books do not match. Each mint is also matched to the L1 deposit with the same id and payload, each release to
 * the withdrawal with the same id and payload, and the wrapped supply to minted - burned.
 *
 * `supplySnapshot` is the cheap version for the relayer's metrics: balances and supplies only;
 * `SupplyAuditor` runs it each audit round and reports it.
 */
import {
  type Address,
  erc20Abi,
  getAbiItem,
  getAddress,
  type PublicClient,
  zeroAddress,
} from 'viem'
import type { Logger } from '../../chain/lib/logger.ts'
import { bridgeVaultAbi, sidechainBridgeAbi, wrappedTokenAbi } from '../deploy/index.ts'

export interface TokenPair {
  l1Token: Address
  /** Wrapped token on the sidechain, zeroAddress if not created yet. */
  wrappedToken: Address
}

export interface SupplyRow extends TokenPair {
  locked: bigint
  supply: bigint
}

/** Keeps the list of wrapped tokens from `WrappedTokenCreated` logs, scanning only new blocks each time. */
export class WrappedTokenIndex {
  private nextBlock: bigint
  private readonly tokens = new Map<Address, Address>([[zeroAddress, zeroAddress]])
  private readonly options: { bridge: Address; fromBlock?: bigint; maxBlockRange?: bigint }
  private readonly sidechain: PublicClient

  constructor(
    options: { bridge: Address; fromBlock?: bigint; maxBlockRange?: bigint },
    modules: { sidechain: PublicClient },
  ) {
    this.options = options
    this.sidechain = modules.sidechain
    this.nextBlock = options.fromBlock ?? 0n
  }

  async refresh(): Promise<TokenPair[]> {
    const head = await this.sidechain.getBlockNumber({ cacheTime: 0 })
    const logs = await getLogsChunked(this.sidechain, {
      address: this.options.bridge,
      event: getAbiItem({ abi: sidechainBridgeAbi, name: 'WrappedTokenCreated' }),
      fromBlock: this.nextBlock,
      toBlock: head,
      maxRange: this.options.maxBlockRange ?? 5_000n,
    })
    for (const log of logs) {
      const args = (log as unknown as { args: { l1Token: Address; token: Address } }).args
      this.tokens.set(getAddress(args.l1Token), getAddress(args.token))
    }
    this.nextBlock = head + 1n
    return [...this.tokens].map(([l1Token, wrappedToken]) => ({ l1Token, wrappedToken }))
  }
}

/** Vault balance and wrapped supply per token (L1 read first). */
export async function supplySnapshot(params: {
  l1: PublicClient
  sidechain: PublicClient
  vault: Address
  bridge: Address
  tokens: readonly TokenPair[]
  l1Block?: bigint
  sidechainBlock?: bigint
}): Promise<SupplyRow[]> {
  const l1Block = params.l1Block ?? (await params.l1.getBlockNumber({ cacheTime: 0 }))
  const locked = await Promise.all(
    params.tokens.map((t) => vaultBalance(params.l1, params.vault, t.l1Token, l1Block)),
  )
  const sidechainBlock =
    params.sidechainBlock ?? (await params.sidechain.getBlockNumber({ cacheTime: 0 }))
  const rows: SupplyRow[] = []
  for (const [i, t] of params.tokens.entries()) {
    let wrapped = t.wrappedToken
    if (wrapped === zeroAddress) {
      wrapped = await params.sidechain.readContract({
        address: params.bridge,
        abi: sidechainBridgeAbi,
        functionName: 'wrappedTokenOf',
        args: [t.l1Token],
        blockNumber: sidechainBlock,
      })
    }
    const supply =
      wrapped === zeroAddress
        ? 0n
        : await params.sidechain.readContract({
            address: wrapped,
            abi: wrappedTokenAbi,
            functionName: 'totalSupply',
            blockNumber: sidechainBlock,
          })
    rows.push({ l1Token: t.l1Token, wrappedToken: wrapped, locked: locked[i]!, supply })
  }
  return rows
}

/** A gauge labelled by L1 token (prom-client's Gauge<'token'>). */
export interface TokenGauge {
  set(labels: { token: string }, value: number): void
}

/** Where the relayer's audit reports (its RelayerMetrics). */
export interface SupplyGauges {
  /** Vault balance per L1 token, base units. */
  lockedOnL1: TokenGauge
  /** Wrapped supply per L1 token, base units. */
  wrappedSupply: TokenGauge
  /** 1 while the wrapped supply is backed by the vault (invariant 7), else 0. */
  supplyBacked: TokenGauge
}

/**
 * The relayer's periodic check of invariant 7 (the cheap one: balances and supplies, see
 * supplySnapshot): each `check()` exports the figures per token and logs an error for every
 * token whose wrapped supply exceeds what the vault holds. `auditBridge` is the full audit.
 */
export class SupplyAuditor {
  private readonly options: { vault: Address; bridge: Address }
  private readonly l1: PublicClient
  private readonly sidechain: PublicClient
  private readonly gauges: SupplyGauges
  private readonly logger: Logger
  private readonly tokens: WrappedTokenIndex
  private readonly pendingReleases: () => ReadonlyMap<Address, bigint>

  constructor(
    options: { vault: Address; bridge: Address },
    modules: {
      l1: PublicClient
      sidechain: PublicClient
      gauges: SupplyGauges
      logger: Logger
      /**
       * Burned on the sidechain and not yet released, per L1 token (the relayer's journaled withdrawals): the
       * vault still owes it, so it counts against what the vault holds like the wrapped supply does.
       */
      pendingReleases?: () => ReadonlyMap<Address, bigint>
    },
  ) {
    this.options = options
    this.l1 = modules.l1
    this.sidechain = modules.sidechain
    this.gauges = modules.gauges
    this.logger = modules.logger
    this.pendingReleases = modules.pendingReleases ?? (() => new Map())
    this.tokens = new WrappedTokenIndex(
      { bridge: options.bridge },
      { sidechain: modules.sidechain },
    )
  }

  /** One audit round: the wrapped tokens known so far, their balances and supplies, reported. */
  async check(): Promise<SupplyRow[]> {
    const rows = await supplySnapshot({
      l1: this.l1,
      sidechain: this.sidechain,
      vault: this.options.vault,
      bridge: this.options.bridge,
      tokens: await this.tokens.refresh(),
    })
    this.report(rows)
    return rows
  }

  /** Exports `rows` and logs every unbacked token (supply plus burned-not-yet-released above the vault). */
  report(rows: readonly SupplyRow[]): void {
    const pending = this.pendingReleases()
    for (const row of rows) {
      const owed = row.supply + (pending.get(getAddress(row.l1Token)) ?? 0n)
      const backed = owed <= row.locked
      // Gauges are floats: above 2^53 base units the figures round; `backed` is exact (bigint).
      this.gauges.lockedOnL1.set({ token: row.l1Token }, Number(row.locked))
      this.gauges.wrappedSupply.set({ token: row.l1Token }, Number(row.supply))
      this.gauges.supplyBacked.set({ token: row.l1Token }, backed ? 1 : 0)
      if (!backed) {
        this.logger.error(
          {
            l1Token: row.l1Token,
            locked: row.locked.toString(),
            supply: row.supply.toString(),
            pendingReleases: (owed - row.supply).toString(),
          },
          'wrapped supply and pending releases exceed what the vault holds',
        )
      }
    }
  }
}

export type TokenAuditStatus = 'ok' | 'surplus' | 'deficit' | 'mismatch'

export interface TokenAudit extends SupplyRow {
  deposited: bigint
  released: bigint
  minted: bigint
  burned: bigint
  pendingMints: bigint
  pendingReleases: bigint
  surplus: bigint
  /** Mints with no L1 deposit (or another payload): an unbacked mint. */
  mintsWithoutDeposit: number
  /** Releases of this bridge with no sidechain withdrawal (or another payload): signers released what was not burned. */
  releasesWithoutBurn: number
  status: TokenAuditStatus
  problems: string[]
}

export interface AuditReport {
  l1Block: bigint
  sidechainBlock: bigint
  tokens: TokenAudit[]
  /** Problems not tied to one token (mints or releases without a counterpart). */
  problems: string[]
  ok: boolean
  hasSurplus: boolean
}

export interface AuditParams {
  l1: PublicClient
  sidechain: PublicClient
  vault: Address
  bridge: Address
  l1FromBlock?: bigint
  sidechainFromBlock?: bigint
  maxBlockRange?: bigint
  /** Tokens to report even without activity (e.g. the network file's list). */
  extraTokens?: readonly Address[]
}

interface Payload {
  token: Address
  account: Address
  amount: bigint
}

export async function auditBridge(params: AuditParams): Promise<AuditReport> {
  const { l1, sidechain, vault, bridge } = params
  const maxRange = params.maxBlockRange ?? 5_000n
  const problems: string[] = []

  // Ours are the releases of this bridge on this sidechain (the vault keys them by both), and the deposits from
  // the bridge's firstDepositId on (earlier ones were served by an earlier bridge instance).
  const [sidechainChainId, firstDepositId] = await Promise.all([
    sidechain.getChainId(),
    sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'firstDepositId',
    }),
  ])

  // ---- L1 first
  const l1Block = await l1.getBlockNumber({ cacheTime: 0 })
  const depositLogs = await getLogsChunked(l1, {
    address: vault,
    event: getAbiItem({ abi: bridgeVaultAbi, name: 'Deposited' }),
    fromBlock: params.l1FromBlock ?? 0n,
    toBlock: l1Block,
    maxRange,
  })
  const releasedLogs = await getLogsChunked(l1, {
    address: vault,
    event: getAbiItem({ abi: bridgeVaultAbi, name: 'Released' }),
    fromBlock: params.l1FromBlock ?? 0n,
    toBlock: l1Block,
    maxRange,
  })
  const deposits = new Map<bigint, Payload>()
  for (const log of depositLogs) {
    const a = (
      log as unknown as { args: { depositId: bigint; token: Address; to: Address; amount: bigint } }
    ).args
    if (a.depositId < firstDepositId) continue
    deposits.set(a.depositId, {
      token: getAddress(a.token),
      account: getAddress(a.to),
      amount: a.amount,
    })
  }
  const releases = new Map<bigint, Payload>()
  for (const log of releasedLogs) {
    const a = (
      log as unknown as {
        args: {
          withdrawalId: bigint
          token: Address
          recipient: Address
          amount: bigint
          sourceBridge: Address
          sourceChainId: bigint
        }
      }
    ).args
    // Ids are unique per source chain and bridge: releases of another bridge instance are not ours.
    if (getAddress(a.sourceBridge) !== getAddress(bridge)) continue
    if (a.sourceChainId !== BigInt(sidechainChainId)) continue
    releases.set(a.withdrawalId, {
      token: getAddress(a.token),
      account: getAddress(a.recipient),
      amount: a.amount,
    })
  }

  // ---- then the sidechain
  const sidechainBlock = await sidechain.getBlockNumber({ cacheTime: 0 })
  const sidechainFrom = params.sidechainFromBlock ?? 0n
  const mintedLogs = await getLogsChunked(sidechain, {
    address: bridge,
    event: getAbiItem({ abi: sidechainBridgeAbi, name: 'DepositMinted' }),
    fromBlock: sidechainFrom,
    toBlock: sidechainBlock,
    maxRange,
  })
  const burnedLogs = await getLogsChunked(sidechain, {
    address: bridge,
    event: getAbiItem({ abi: sidechainBridgeAbi, name: 'WithdrawalInitiated' }),
    fromBlock: sidechainFrom,
    toBlock: sidechainBlock,
    maxRange,
  })
  const createdLogs = await getLogsChunked(sidechain, {
    address: bridge,
    event: getAbiItem({ abi: sidechainBridgeAbi, name: 'WrappedTokenCreated' }),
    fromBlock: sidechainFrom,
    toBlock: sidechainBlock,
    maxRange,
  })
  const mints = new Map<bigint, Payload>()
  for (const log of mintedLogs) {
    const a = (
      log as unknown as {
        args: { depositId: bigint; l1Token: Address; to: Address; amount: bigint }
      }
    ).args
    mints.set(a.depositId, {
      token: getAddress(a.l1Token),
      account: getAddress(a.to),
      amount: a.amount,
    })
  }
  const burns = new Map<bigint, Payload>()
  for (const log of burnedLogs) {
    const a = (
      log as unknown as {
        args: { withdrawalId: bigint; l1Token: Address; l1Recipient: Address; amount: bigint }
      }
    ).args
    burns.set(a.withdrawalId, {
      token: getAddress(a.l1Token),
      account: getAddress(a.l1Recipient),
      amount: a.amount,
    })
  }

  // ---- tokens
  const wrappedOf = new Map<Address, Address>()
  for (const log of createdLogs) {
    const a = (log as unknown as { args: { l1Token: Address; token: Address } }).args
    wrappedOf.set(getAddress(a.l1Token), getAddress(a.token))
  }
  const l1Tokens = new Set<Address>([zeroAddress])
  for (const t of params.extraTokens ?? []) l1Tokens.add(getAddress(t))
  // Every token seen on either side, so that a problem is never filed under a token without a row.
  for (const m of [deposits, releases, mints, burns])
    for (const p of m.values()) l1Tokens.add(p.token)
  for (const t of wrappedOf.keys()) l1Tokens.add(t)
  const pairs = [...l1Tokens].map((l1Token) => ({
    l1Token,
    wrappedToken: wrappedOf.get(l1Token) ?? zeroAddress,
  }))
  const rows = await supplySnapshot({
    l1,
    sidechain,
    vault,
    bridge,
    tokens: pairs,
    l1Block,
    sidechainBlock,
  })

  // ---- cross-chain matching
  const perToken = new Map<
    Address,
    {
      problems: string[]
      unbacked: bigint
      mintsWithoutDeposit: number
      releasesWithoutBurn: number
    }
  >()
  const tokenEntry = (t: Address) => {
    let e = perToken.get(t)
    if (e === undefined) {
      e = { problems: [], unbacked: 0n, mintsWithoutDeposit: 0, releasesWithoutBurn: 0 }
      perToken.set(t, e)
    }
    return e
  }
  for (const [id, m] of mints) {
    const d = deposits.get(id)
    if (d === undefined || !samePayload(d, m)) {
      const e = tokenEntry(m.token)
      e.problems.push(
        d === undefined
          ? `deposit ${id} minted ${m.amount} to ${m.account} on the sidechain, but no such deposit exists on L1`
          : `deposit ${id} minted with a payload different from the L1 deposit`,
      )
      e.unbacked += m.amount
      e.mintsWithoutDeposit++
    }
  }
  for (const [id, r] of releases) {
    const b = burns.get(id)
    if (b === undefined || !samePayload(b, r)) {
      tokenEntry(r.token).releasesWithoutBurn++
      tokenEntry(r.token).problems.push(
        b === undefined
          ? `withdrawal ${id} released ${r.amount} to ${r.account} on L1, but no such withdrawal exists on the sidechain`
          : `withdrawal ${id} released with a payload different from the sidechain withdrawal`,
      )
    }
  }

  const tokens: TokenAudit[] = rows.map((row) => {
    const sum = (m: Map<bigint, Payload>, keep: (id: bigint) => boolean = () => true) => {
      let total = 0n
      for (const [id, p] of m) if (p.token === row.l1Token && keep(id)) total += p.amount
      return total
    }
    const deposited = sum(deposits)
    const released = sum(releases)
    const minted = sum(mints)
    const burned = sum(burns)
    const pendingMints = sum(deposits, (id) => !mints.has(id))
    const pendingReleases = sum(burns, (id) => !releases.has(id))
    const surplus = row.locked - row.supply - pendingMints - pendingReleases
    const entry = perToken.get(row.l1Token)
    const tokenProblems = [...(entry?.problems ?? [])]
    if (row.supply !== minted - burned) {
      tokenProblems.push(
        `wrapped supply ${row.supply} differs from minted - burned (${minted} - ${burned}): the token changed outside the bridge`,
      )
    }
    let status: TokenAuditStatus = 'ok'
    if (surplus < 0n) {
      status = 'deficit'
      tokenProblems.push(
        `vault holds ${row.locked} but ${row.supply + pendingMints + pendingReleases} is owed (supply ${row.supply} + pending mints ${pendingMints} + pending releases ${pendingReleases}): deficit ${-surplus}`,
      )
    } else if (tokenProblems.length > 0) status = 'mismatch'
    else if (surplus > 0n) status = 'surplus'
    return {
      ...row,
      deposited,
      released,
      minted,
      burned,
      pendingMints,
      pendingReleases,
      surplus,
      mintsWithoutDeposit: entry?.mintsWithoutDeposit ?? 0,
      releasesWithoutBurn: entry?.releasesWithoutBurn ?? 0,
      status,
      problems: tokenProblems,
    }
  })
  const ok =
    tokens.every((t) => t.status === 'ok' || t.status === 'surplus') && problems.length === 0
  return {
    l1Block,
    sidechainBlock,
    tokens,
    problems,
    ok,
    hasSurplus: tokens.some((t) => t.surplus > 0n),
  }
}

function samePayload(a: Payload, b: Payload): boolean {
  return a.token === b.token && a.account === b.account && a.amount === b.amount
}

async function vaultBalance(
  l1: PublicClient,
  vault: Address,
  token: Address,
  blockNumber: bigint,
): Promise<bigint> {
  // What the vault owes recipients whose transfer failed (claimable) is released already:
  // it no longer backs wrapped tokens on the sidechain.
  const [balance, claimable] = await Promise.all([
    token === zeroAddress
      ? l1.getBalance({ address: vault, blockNumber })
      : l1.readContract({
          address: token,
          abi: erc20Abi,
          functionName: 'balanceOf',
          args: [vault],
          blockNumber,
        }),
    l1.readContract({
      address: vault,
      abi: bridgeVaultAbi,
      functionName: 'totalClaimable',
      args: [token],
      blockNumber,
    }),
  ])
  return balance - claimable
}

type AbiEvent = Parameters<PublicClient['getLogs']>[0] extends infer P
  ? P extends { event?: infer E }
    ? NonNullable<E>
    : never
  : never

/** eth_getLogs in ranges of at most `maxRange` blocks. */
export async function getLogsChunked(
  client: PublicClient,
  params: {
    address: Address
    event: AbiEvent
    fromBlock: bigint
    toBlock: bigint
    maxRange: bigint
  },
) {
  const out: Awaited<ReturnType<PublicClient['getLogs']>> = []
  for (let from = params.fromBlock; from <= params.toBlock; from += params.maxRange) {
    const to =
      from + params.maxRange - 1n < params.toBlock ? from + params.maxRange - 1n : params.toBlock
    const logs = await client.getLogs({
      address: params.address,
      event: params.event,
      fromBlock: from,
      toBlock: to,
      strict: true,
    } as Parameters<PublicClient['getLogs']>[0])
    out.push(...logs)
  }
  return out
}
