/**
 * The saved setup of a devnet (`setup.json`): the topology it was created with and the contracts it deployed.
 * A restart resumes it; flags that contradict it are refused with a hint to start over with --fresh, because
 * keys, genesis, L1 state and relayer journals all depend on them.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { z } from 'zod'
import { DevnetError } from './errors.ts'
import { DEFAULTS, LIMITS } from './layout.ts'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be an address')

const savedSetupSchema = z.object({
  version: z.literal(1),
  createdAt: z.string(),
  validators: z.number().int().min(1),
  relayers: z.number().int().min(1),
  threshold: z.number().int().min(1),
  blockTimeMs: z.number().int().positive(),
  l1ChainId: z.number().int().positive(),
  chainId: z.number().int().positive(),
  validatorAddresses: z.array(address),
  relayerAddresses: z.array(address),
  /** Set once the L1 contracts are deployed. */
  l1: z
    .object({
      vault: address,
      vaultBlock: z.number().int().min(0),
      token: address,
      tokenSymbol: z.string(),
    })
    .optional(),
  /** Set once the sidechain bridge is deployed. */
  l2: z.object({ bridge: address, bridgeBlock: z.number().int().min(0) }).optional(),
})

export type SavedSetup = z.infer<typeof savedSetupSchema>

export function readSavedSetup(file: string): SavedSetup | undefined {
  if (!existsSync(file)) return undefined
  let json: unknown
  try {
    json = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new DevnetError(
      'DEVNET_STATE_INVALID',
      `${file} is not valid JSON; start over with --fresh`,
      {
        cause,
      },
    )
  }
  const parsed = savedSetupSchema.safeParse(json)
  if (!parsed.success) {
    throw new DevnetError(
      'DEVNET_STATE_INVALID',
      `${file} is not a devnet setup this version understands; start over with --fresh\n${z.prettifyError(parsed.error)}`,
    )
  }
  return parsed.data
}

/** Written through a temporary file and a rename, so a crash never leaves half a file. */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode })
  renameSync(tmp, file)
}

/** Topology flags as given (undefined = not given). */
export interface TopologyFlags {
  validators?: number
  relayers?: number
  threshold?: number
  blockTimeMs?: number
}

export interface Topology {
  validators: number
  relayers: number
  threshold: number
  blockTimeMs: number
}

const FLAG_NAMES: Record<keyof Topology, string> = {
  validators: '--validators',
  relayers: '--relayers',
  threshold: '--threshold',
  blockTimeMs: '--block-time',
}

/**
 * The topology of this run: the saved one when resuming (a flag may repeat it but not change it), else the flags
 * with the defaults. Throws DEVNET_FLAGS_INVALID on a contradiction or an impossible combination.
 */
export function resolveTopology(flags: TopologyFlags, saved: SavedSetup | undefined): Topology {
  if (saved !== undefined) {
    const conflicts: string[] = []
    for (const key of Object.keys(FLAG_NAMES) as Array<keyof Topology>) {
      const given = flags[key]
      if (given !== undefined && given !== saved[key]) {
        conflicts.push(`${FLAG_NAMES[key]} ${given} (it has ${saved[key]})`)
      }
    }
    if (conflicts.length > 0) {
      throw new DevnetError(
        'DEVNET_FLAGS_INVALID',
        `the existing devnet was created with ${describeTopology(saved)}; this run asks for ${conflicts.join(', ')}. Drop those flags to resume it, or add --fresh to delete it and start a new one`,
        { details: { conflicts } },
      )
    }
    return {
      validators: saved.validators,
      relayers: saved.relayers,
      threshold: saved.threshold,
      blockTimeMs: saved.blockTimeMs,
    }
  }
  const topology: Topology = {
    validators: flags.validators ?? DEFAULTS.validators,
    relayers: flags.relayers ?? DEFAULTS.relayers,
    threshold: flags.threshold ?? Math.min(DEFAULTS.threshold, flags.relayers ?? DEFAULTS.relayers),
    blockTimeMs: flags.blockTimeMs ?? DEFAULTS.blockTimeMs,
  }
  const problems: string[] = []
  const range = (key: 'validators' | 'relayers' | 'blockTimeMs') => {
    const { min, max } = LIMITS[key]
    const v = topology[key]
    if (!Number.isInteger(v) || v < min || v > max)
      problems.push(`${FLAG_NAMES[key]} must be between ${min} and ${max} (got ${v})`)
  }
  range('validators')
  range('relayers')
  range('blockTimeMs')
  if (
    !Number.isInteger(topology.threshold) ||
    topology.threshold < 1 ||
    topology.threshold > topology.relayers
  ) {
    problems.push(
      `--threshold must be between 1 and the number of relayers (${topology.relayers}), got ${topology.threshold}`,
    )
  }
  if (problems.length > 0) {
    throw new DevnetError('DEVNET_FLAGS_INVALID', problems.join('; '), { details: { problems } })
  }
  return topology
}

export function describeTopology(t: Topology): string {
  return `--validators ${t.validators} --relayers ${t.relayers} --threshold ${t.threshold} --block-time ${t.blockTimeMs}`
}
