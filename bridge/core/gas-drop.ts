/**
 * Gas on arrival, read side: what the sidechain bridge's reserve and counters say (`SidechainBridge` gas drop
 * block), for the relayer's metrics, the CLI and the web app. The decision itself is made by the contract in the
 * mint; nothing here changes it.
 */
import type { Address, PublicClient } from 'viem'
import type { Logger } from '../../chain/lib/logger.ts'
import { sidechainBridgeAbi } from '../deploy/index.ts'

/** `SidechainBridge.GasDropRefusal`, by enum index. */
export const GAS_DROP_REFUSALS = ['reserve-empty', 'window-full', 'recipient-rejected'] as const
export type GasDropRefusalName = (typeof GAS_DROP_REFUSALS)[number]

export interface GasDropState {
  /** Native coin per drop (0: drops disabled). */
  amount: bigint
  balanceThreshold: bigint
  windowCap: bigint
  windowRemaining: bigint
  reserve: bigint
  drops: bigint
  droppedTotal: bigint
  refusals: Record<GasDropRefusalName, bigint>
}

type SidechainReader = Pick<PublicClient, 'readContract' | 'multicall'>

/** Settings, reserve and counters of the bridge's gas drop, read at one block. */
export async function readGasDropState(
  sidechain: Pick<PublicClient, 'readContract' | 'getBlockNumber'>,
  bridge: Address,
): Promise<GasDropState> {
  const blockNumber = await sidechain.getBlockNumber()
  const read = <
    F extends 'gasReserve' | 'gasDropCount' | 'gasDroppedTotal' | 'gasDropWindowRemaining',
  >(
    functionName: F,
  ) =>
    sidechain.readContract({ address: bridge, abi: sidechainBridgeAbi, functionName, blockNumber })
  const [settings, reserve, drops, droppedTotal, windowRemaining, ...refusals] = await Promise.all([
    sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'gasDropSettings',
      blockNumber,
    }),
    read('gasReserve'),
    read('gasDropCount'),
    read('gasDroppedTotal'),
    read('gasDropWindowRemaining'),
    ...GAS_DROP_REFUSALS.map((_, i) =>
      sidechain.readContract({
        address: bridge,
        abi: sidechainBridgeAbi,
        functionName: 'gasDropRefusals',
        args: [i],
        blockNumber,
      }),
    ),
  ])
  return {
    amount: settings.amount,
    balanceThreshold: settings.balanceThreshold,
    windowCap: settings.windowCap,
    windowRemaining,
    reserve,
    drops,
    droppedTotal,
    refusals: Object.fromEntries(
      GAS_DROP_REFUSALS.map((name, i) => [name, refusals[i]!]),
    ) as Record<GasDropRefusalName, bigint>,
  }
}

export type GasDropOutlook =
  | { kind: 'disabled' }
  | { kind: 'not-needed'; reason: 'already-dropped' | 'has-gas' }
  | { kind: 'will-drop'; amount: bigint }
  | { kind: 'refused'; reason: GasDropRefusalName; amount: bigint }

/** What a mint to `to` would bring it now (the contract's `gasDropPreview`), in words for the user. */
export async function gasDropOutlook(
  sidechain: Pick<SidechainReader, 'readContract'>,
  bridge: Address,
  to: Address,
): Promise<GasDropOutlook> {
  const [settings, [qualifies, willDrop, refusal], dropped] = await Promise.all([
    sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'gasDropSettings',
    }),
    sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'gasDropPreview',
      args: [to],
    }),
    sidechain.readContract({
      address: bridge,
      abi: sidechainBridgeAbi,
      functionName: 'gasDropped',
      args: [to],
    }),
  ])
  if (settings.amount === 0n) return { kind: 'disabled' }
  if (!qualifies) return { kind: 'not-needed', reason: dropped ? 'already-dropped' : 'has-gas' }
  if (willDrop) return { kind: 'will-drop', amount: settings.amount }
  return {
    kind: 'refused',
    reason: GAS_DROP_REFUSALS[refusal] ?? 'reserve-empty',
    amount: settings.amount,
  }
}

/** Where the relayer exports the figures (its RelayerMetrics). */
export interface GasDropGauges {
  gasReserve: { set(value: number): void }
  gasDrops: { set(value: number): void }
  gasDropRefusals: { set(labels: { reason: string }, value: number): void }
  gasDropWindowRemaining: { set(value: number): void }
}

/**
 * The relayer's view of the gas drop, each audit round: the contract's own counters (so every relayer exports the
 * same figures, across restarts) and a warning while the reserve cannot pay one more drop.
 */
export class GasDropMonitor {
  private readonly options: { bridge: Address }
  private readonly modules: {
    sidechain: Pick<PublicClient, 'readContract' | 'getBlockNumber'>
    gauges: GasDropGauges
    logger: Logger
  }
  private warned = false

  constructor(options: { bridge: Address }, modules: GasDropMonitor['modules']) {
    this.options = options
    this.modules = modules
  }

  async check(): Promise<GasDropState> {
    const state = await readGasDropState(this.modules.sidechain, this.options.bridge)
    const { gauges, logger } = this.modules
    // Gauges are floats: wei figures above 2^53 round, which is fine for a dashboard.
    gauges.gasReserve.set(Number(state.reserve))
    gauges.gasDrops.set(Number(state.drops))
    gauges.gasDropWindowRemaining.set(Number(state.windowRemaining))
    for (const reason of GAS_DROP_REFUSALS) {
      gauges.gasDropRefusals.set({ reason }, Number(state.refusals[reason]))
    }
    const starved = state.amount > 0n && state.reserve < state.amount
    if (starved && !this.warned) {
      logger.warn(
        {
          reserve: state.reserve.toString(),
          amount: state.amount.toString(),
          bridge: this.options.bridge,
        },
        'the gas drop reserve cannot pay a drop: new depositors arrive without gas until someone funds the bridge',
      )
    }
    this.warned = starved
    return state
  }
}
