/**
 * TEST-ONLY fault injection. `SIDECHAIN_RELAYER_CRASH_AT=<point>` makes the relayer process SIGKILL itself the
 * first time it reaches `<point>`, so crash tests hit the dangerous windows deterministically:
 *
 *   after-confirm   a deposit vote is mined on the sidechain, before the journal records it
 *   after-sign      a withdrawal signature is made and journaled, before it is submitted
 *   before-release  M signatures are stored and it is this relayer's turn, before the L1 release is sent
 *
 * "Once" survives restarts: before dying the hook writes `<datadir>/crash-hook-<point>.fired`, and never fires
 * again while that file exists, so a restarted process with the same environment runs normally. Unknown values
 * are refused at start. Without the variable the hook does nothing. It is refused outright unless the L1 is a
 * development chain (anvil/Hardhat 31337, geth --dev 1337): killing a production relayer at a chosen step is an
 * attack, not a test.
 */
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { BridgeError } from '../core/errors.ts'

export const CRASH_POINTS = ['after-confirm', 'after-sign', 'before-release'] as const
export type CrashPoint = (typeof CRASH_POINTS)[number]
export const CRASH_ENV = 'SIDECHAIN_RELAYER_CRASH_AT'

export type CrashHook = (point: CrashPoint) => void

/** L1 chain ids of development chains, the only ones where the crash hook may be switched on. */
export const DEV_L1_CHAIN_IDS: readonly number[] = [31337, 1337]

export function crashHookFromEnv(
  datadir: string,
  l1ChainId: number,
  env: NodeJS.ProcessEnv = process.env,
): CrashHook {
  const value = env[CRASH_ENV]
  if (value === undefined || value === '') return () => {}
  if (!DEV_L1_CHAIN_IDS.includes(l1ChainId)) {
    throw new BridgeError(
      'RELAYER_CONFIG_INVALID',
      `${CRASH_ENV} is a test-only hook and is refused on L1 chain ${l1ChainId} (allowed on ${DEV_L1_CHAIN_IDS.join(', ')})`,
    )
  }
  if (!(CRASH_POINTS as readonly string[]).includes(value)) {
    throw new BridgeError(
      'RELAYER_CONFIG_INVALID',
      `${CRASH_ENV} must be one of ${CRASH_POINTS.join(', ')} (got "${value}")`,
    )
  }
  const marker = path.join(datadir, `crash-hook-${value}.fired`)
  return (point) => {
    if (point !== value || existsSync(marker)) return
    writeFileSync(marker, `${new Date().toISOString()}\n`, { flush: true })
    process.stderr.write(`${CRASH_ENV}=${value}: killing the relayer process (SIGKILL)\n`)
    process.kill(process.pid, 'SIGKILL')
  }
}
