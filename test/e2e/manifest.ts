/**
 * An e2e manifest: the shape of the network, the load, and a timeline of perturbations (CometBFT's e2e manifests
 * are the model). Manifests are JSON files in test/e2e/manifests/; `npm run e2e` runs them all and the smoke
 * manifest also runs in `npm test` (smoke.test.ts).
 *
 * Times are seconds after the load starts (the devnet is up and the bridge deployed by then). A step may also wait
 * for a height: `"atHeight": 40` runs it once some validator reported block 40.
 */
import { readFileSync } from 'node:fs'

export type StepAction =
  /** SIGKILL the process; the devnet's supervisor restarts it after its backoff. */
  | 'kill'
  /** Stop it by name (no restart) ... */
  | 'stop'
  /** ... and start it again. */
  | 'start'
  /** SIGSTOP / SIGCONT. */
  | 'pause'
  | 'resume'
  /** Split the validators into `groups`: nodes in different groups refuse each other's connections. */
  | 'partition'
  /** Remove every partition. */
  | 'heal'
  /** Move the target validator's clock by `offsetMs` (negative: behind). */
  | 'clock'

export interface Step {
  at?: number
  atHeight?: number
  do: StepAction
  /** Process name: validator-<i>, relayer-<i>, anvil. */
  target?: string
  /** partition: groups of validator names. */
  groups?: string[][]
  /** clock: offset in ms. */
  offsetMs?: number
}

export interface Manifest {
  name: string
  description: string
  validators: number
  relayers: number
  threshold: number
  blockTimeMs: number
  /** Seconds the load and timeline run. */
  durationS: number
  load: {
    /** Plain transfers per second, spread over the validators that run. */
    txPerSecond: number
    /**
     * A wallet re-sends an acknowledged transaction (same bytes) that stays out of the chain for this long;
     * 0: never (then an acknowledged transaction must survive on its own).
     */
    resubmitAfterS: number
    /** Bridge deposits (1 ETH each, `sidechain bridge deposit`) spread over the run. */
    deposits: number
    /** Bridge withdrawals (0.1 ETH each, after the first deposit). */
    withdrawals: number
  }
  timeline: Step[]
  bounds: {
    /** With a quorum up and connected, some validator's head must move within this. */
    livenessS: number
    /** After a perturbation ends, every running validator reaches the highest head within this. */
    catchUpS: number
    /** Resident memory cap of every process (VmRSS). */
    memoryMb: number
  }
  /**
   * Set where a step is expected to cost honest peers their ban score (none is today); any "peer banned" line in a
   * validator log fails the run otherwise.
   */
  bansExpected?: boolean
  /** Fixed seed (the runner picks and prints one otherwise). */
  seed?: number
}

const ACTIONS: readonly StepAction[] = [
  'kill',
  'stop',
  'start',
  'pause',
  'resume',
  'partition',
  'heal',
  'clock',
]

export function loadManifest(file: string): Manifest {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest
  checkManifest(manifest, file)
  return manifest
}

/** Shape checks with messages that name the manifest and the step. */
export function checkManifest(m: Manifest, where = m.name): void {
  const fail = (why: string) => {
    throw new Error(`manifest ${where}: ${why}`)
  }
  if (!Number.isInteger(m.validators) || m.validators < 1) fail('validators must be >= 1')
  if (!Number.isInteger(m.relayers) || m.relayers < 1) fail('relayers must be >= 1')
  if (m.threshold < 1 || m.threshold > m.relayers) fail('threshold must be in 1..relayers')
  const names = new Set([
    'anvil',
    ...Array.from({ length: m.validators }, (_, i) => `validator-${i}`),
    ...Array.from({ length: m.relayers }, (_, i) => `relayer-${i}`),
  ])
  for (const [k, step] of m.timeline.entries()) {
    const at = `step ${k} (${step.do})`
    if (!ACTIONS.includes(step.do)) fail(`${at}: unknown action`)
    if ((step.at === undefined) === (step.atHeight === undefined))
      fail(`${at}: give at or atHeight`)
    if (step.at !== undefined && step.at > m.durationS) fail(`${at}: after the end of the run`)
    const needsTarget = !['partition', 'heal'].includes(step.do)
    if (needsTarget && (step.target === undefined || !names.has(step.target))) {
      fail(`${at}: target must be one of ${[...names].join(', ')}`)
    }
    if (step.do === 'clock' && !step.target?.startsWith('validator-')) {
      fail(`${at}: only validators have a clock hook`)
    }
    if (step.do === 'partition') {
      const listed = (step.groups ?? []).flat()
      if (listed.length < 2 || listed.some((n) => !n.startsWith('validator-') || !names.has(n))) {
        fail(`${at}: groups must list validators`)
      }
    }
  }
}
