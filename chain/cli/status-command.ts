/**
 * `sidechain status`: one node's view of the network over JSON-RPC (head and finality, sync, peers, the QBFT
 * height and round, and per validator when it was last seen, its proposals made and missed and its commits), plus
 * the relayers' `/ready` when a network file (devnet.json) names them. A table on a terminal (coloured unless
 * NO_COLOR is set), JSON with --json.
 *
 * A validator is `missing` when the node has not seen a consensus message of it for longer than five block periods
 * (at least 20 s): the same rule as the ValidatorMissing alert of docker/monitoring/rules.yml. Ages are measured on
 * the node's clock (`qbft_status.now`), so a client with a skewed clock does not misreport them.
 */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { z } from 'zod'
import type { ErrorCodeOf } from '../lib/error-codes.ts'
import { describeError, errorMessage, isSidechainError, SidechainError } from '../lib/errors.ts'

export class StatusError extends SidechainError<ErrorCodeOf<'status'>> {
  override readonly name: string = 'StatusError'
}

/** Floor of the "missing" threshold: a few seconds of silence on a fast chain is a hiccup, not an outage. */
const MIN_MISSING_AFTER_MS = 20_000
const MISSING_AFTER_PERIODS = 5

export type ValidatorState = 'active' | 'missing' | 'never-seen' | 'unknown'

export interface ValidatorRow {
  address: string
  state: ValidatorState
  /** Milliseconds since the node last saw a consensus message of it (null: never). */
  lastSeenAgoMs: number | null
  lastHeight: number | null
  proposalsMade: number | null
  proposalsMissed: number | null
  commitsIncluded: number | null
  equivocations: number | null
}

export interface RelayerRow {
  address: string | null
  readyUrl: string
  ready: boolean
  /** The body /ready answered with, or why there was no answer. */
  detail: unknown
}

export interface StatusReport {
  rpc: string
  chainId: number
  head: { number: number; hash: string; timestamp: number; ageMs: number }
  finalized: { number: number } | null
  syncing: unknown
  peers: number
  blockPeriodMs: number | null
  missingAfterMs: number
  consensus: {
    running: boolean
    isValidator: boolean
    height: number | null
    round: number | null
    proposer: string | null
    validators: number
    quorum: number
    faultTolerance: number
    evidence: number
  } | null
  validators: ValidatorRow[]
  relayers: RelayerRow[] | null
}

interface QbftStatusReply {
  now?: number
  blockPeriodMs?: number | null
  running: boolean
  height: string | null
  round: number | null
  proposer: string | null
  isValidator: boolean
  validators: Array<{
    address: string
    lastHeight: string | null
    lastSeenAt: number | null
    proposalsMade: number
    proposalsMissed: number
    commitsIncluded: number
    equivocations: number
  }>
  evidence: unknown[]
}

interface BlockReply {
  number: string
  hash: string
  timestamp: string
}

const networkFileSchema = z.object({
  l2: z.object({ rpcUrls: z.array(z.string()).min(1), blockTimeMs: z.number().optional() }),
  relayers: z
    .array(z.object({ address: z.string().optional(), metricsUrl: z.string().url() }))
    .default([]),
})

type NetworkFile = z.infer<typeof networkFileSchema>

export function readNetworkFile(file: string): NetworkFile {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new StatusError('STATUS_FLAGS_INVALID', `cannot read network file ${file}`, { cause })
  }
  const parsed = networkFileSchema.safeParse(raw)
  if (!parsed.success) {
    throw new StatusError(
      'STATUS_FLAGS_INVALID',
      `network file ${file} is not a devnet.json:\n${z.prettifyError(parsed.error)}`,
    )
  }
  return parsed.data
}

async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  let body: { result?: T; error?: { code: number; message: string } }
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(5_000),
    })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    body = (await response.json()) as typeof body
  } catch (cause) {
    throw new StatusError(
      'STATUS_NODE_UNREACHABLE',
      `${method} on ${url} failed: ${errorMessage(cause)}`,
      { cause },
    )
  }
  if (body.error !== undefined) {
    throw new StatusError(
      'STATUS_NODE_UNREACHABLE',
      `${method} on ${url}: ${body.error.message} (${body.error.code})`,
    )
  }
  return body.result as T
}

async function probeReady(metricsUrl: string, address: string | null): Promise<RelayerRow> {
  const readyUrl = metricsUrl.replace(/\/metrics\/?$/, '/ready')
  try {
    const response = await fetch(readyUrl, { signal: AbortSignal.timeout(3_000) })
    const text = await response.text()
    let detail: unknown = text
    try {
      detail = JSON.parse(text)
    } catch {}
    return { address, readyUrl, ready: response.ok, detail }
  } catch (err) {
    return { address, readyUrl, ready: false, detail: `no answer: ${errorMessage(err)}` }
  }
}

const num = (hex: string | null | undefined) =>
  hex === null || hex === undefined ? null : Number(hex)

/** Estimates the block period from the last blocks' timestamps when the node does not report it. */
async function estimatePeriodMs(url: string, head: BlockReply): Promise<number | null> {
  const span = Math.min(20, Number(head.number))
  if (span === 0) return null
  const old = await rpc<BlockReply>(url, 'eth_getBlockByNumber', [
    `0x${(Number(head.number) - span).toString(16)}`,
    false,
  ])
  return ((Number(head.timestamp) - Number(old.timestamp)) * 1000) / span
}

export async function collectStatus(options: {
  rpc: string
  network?: NetworkFile
  missingAfterMs?: number
}): Promise<StatusReport> {
  const url = options.rpc
  const [chainId, head, finalized, syncing, peers, qbft] = await Promise.all([
    rpc<string>(url, 'eth_chainId'),
    rpc<BlockReply>(url, 'eth_getBlockByNumber', ['latest', false]),
    rpc<BlockReply | null>(url, 'eth_getBlockByNumber', ['finalized', false]).catch(() => null),
    rpc<unknown>(url, 'eth_syncing'),
    rpc<string>(url, 'net_peerCount').catch(() => '0x0'),
    rpc<QbftStatusReply>(url, 'qbft_status').catch(() => undefined),
  ])
  const now = qbft?.now ?? Date.now()
  const blockPeriodMs =
    qbft?.blockPeriodMs ?? options.network?.l2.blockTimeMs ?? (await estimatePeriodMs(url, head))
  const missingAfterMs =
    options.missingAfterMs ??
    Math.max(MIN_MISSING_AFTER_MS, MISSING_AFTER_PERIODS * (blockPeriodMs ?? 0))
  let validators: ValidatorRow[] = (qbft?.validators ?? []).map((v) => {
    const ago = v.lastSeenAt === null ? null : Math.max(0, now - v.lastSeenAt)
    return {
      address: v.address,
      state: ago === null ? 'never-seen' : ago > missingAfterMs ? 'missing' : 'active',
      lastSeenAgoMs: ago,
      lastHeight: num(v.lastHeight),
      proposalsMade: v.proposalsMade,
      proposalsMissed: v.proposalsMissed,
      commitsIncluded: v.commitsIncluded,
      equivocations: v.equivocations,
    }
  })
  if (validators.length === 0) {
    // A full node runs no QBFT: it knows the set, not what each validator does.
    const set = await rpc<string[]>(url, 'qbft_getValidatorsByBlockNumber', ['latest']).catch(
      () => [],
    )
    validators = set.map((address) => ({
      address,
      state: 'unknown',
      lastSeenAgoMs: null,
      lastHeight: null,
      proposalsMade: null,
      proposalsMissed: null,
      commitsIncluded: null,
      equivocations: null,
    }))
  }
  const n = validators.length
  const relayers =
    options.network === undefined
      ? null
      : await Promise.all(
          options.network.relayers.map((r) => probeReady(r.metricsUrl, r.address ?? null)),
        )
  return {
    rpc: url,
    chainId: Number(chainId),
    head: {
      number: Number(head.number),
      hash: head.hash,
      timestamp: Number(head.timestamp),
      ageMs: Math.max(0, now - Number(head.timestamp) * 1000),
    },
    finalized: finalized === null ? null : { number: Number(finalized.number) },
    syncing,
    peers: Number(peers),
    blockPeriodMs,
    missingAfterMs,
    consensus:
      qbft === undefined
        ? null
        : {
            running: qbft.running,
            isValidator: qbft.isValidator,
            height: num(qbft.height),
            round: qbft.round,
            proposer: qbft.proposer,
            validators: n,
            quorum: Math.ceil((2 * n) / 3),
            faultTolerance: Math.floor((n - 1) / 3),
            evidence: qbft.evidence.length,
          },
    validators,
    relayers,
  }
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything non-empty (no-color.org). */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}

/** ANSI colours, or none. */
export function palette(enabled: boolean) {
  const wrap = (code: number) => (s: string) => (enabled ? `\u001b[${code}m${s}\u001b[0m` : s)
  return { green: wrap(32), red: wrap(31), yellow: wrap(33), dim: wrap(2), bold: wrap(1) }
}

function ago(ms: number | null): string {
  if (ms === null) return 'never'
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s ago` : `${Math.round(ms / 1000)} s ago`
}

export function formatStatus(report: StatusReport, colour: boolean): string {
  const c = palette(colour)
  const lines: string[] = []
  const pad = (s: string, width: number) => s + ' '.repeat(Math.max(0, width - s.length))
  lines.push(`${c.bold('sidechain status')}  ${report.rpc}  chain ${report.chainId}`)
  const fin =
    report.finalized === null
      ? ''
      : report.finalized.number === report.head.number
        ? `  finalized #${report.finalized.number} (every block is final)`
        : `  finalized #${report.finalized.number}`
  lines.push(
    `head       #${report.head.number}  ${report.head.hash.slice(0, 10)}…  ${ago(report.head.ageMs)}${fin}`,
  )
  lines.push(
    `sync       ${report.syncing === false ? c.green('in sync') : c.yellow(`syncing ${JSON.stringify(report.syncing)}`)}`,
  )
  lines.push(`peers      ${report.peers}`)
  const q = report.consensus
  if (q !== null) {
    lines.push(
      `consensus  height ${q.height ?? '-'} round ${q.round === null || q.round === 0 ? (q.round ?? '-') : c.yellow(String(q.round))}  ` +
        `validators ${q.validators} (quorum ${q.quorum}, tolerates ${q.faultTolerance})  ` +
        `evidence ${q.evidence === 0 ? '0' : c.red(String(q.evidence))}` +
        (q.running ? '' : c.yellow('  (not running QBFT)')),
    )
  }
  lines.push('')
  lines.push(
    c.bold(
      `${pad('validator', 44)}${pad('state', 12)}${pad('last seen', 13)}${pad('made', 7)}${pad('missed', 8)}commits`,
    ),
  )
  const stateText = (s: ValidatorState) =>
    s === 'active'
      ? c.green(pad(s, 12))
      : s === 'missing'
        ? c.red(pad('MISSING', 12))
        : c.yellow(pad(s, 12))
  for (const v of report.validators) {
    lines.push(
      `${pad(v.address, 44)}${stateText(v.state)}${pad(ago(v.lastSeenAgoMs), 13)}` +
        `${pad(String(v.proposalsMade ?? '-'), 7)}${pad(String(v.proposalsMissed ?? '-'), 8)}${v.commitsIncluded ?? '-'}`,
    )
  }
  lines.push(c.dim(`missing: not seen for more than ${Math.round(report.missingAfterMs / 1000)} s`))
  if (report.relayers !== null) {
    lines.push('')
    lines.push(c.bold(`${pad('relayer', 44)}${pad('ready', 12)}endpoint`))
    for (const r of report.relayers) {
      lines.push(
        `${pad(r.address ?? '-', 44)}${r.ready ? c.green(pad('ready', 12)) : c.red(pad('NOT READY', 12))}${r.readyUrl}`,
      )
    }
  }
  return `${lines.join('\n')}\n`
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      "one node's view of the network: head and finality, peers, each validator (last seen, proposals made and missed, commits) and, with --network, the relayers' readiness",
    )
    .option('--rpc <url>', 'JSON-RPC URL of the node to ask (default: the first of --network)')
    .option('--network <file>', 'devnet.json of the network: its relayers are probed too')
    .option('--json', 'print JSON instead of a table')
    .option(
      '--missing-after <seconds>',
      'call a validator missing after this many seconds of silence (default: 5 block periods, at least 20)',
    )
    .action(
      async (flags: { rpc?: string; network?: string; json?: boolean; missingAfter?: string }) => {
        try {
          await runStatus(flags)
        } catch (err) {
          if (flags.json !== true) throw err
          // Like the bridge commands: a script reading --json always gets JSON, the exit code says the rest.
          const code = isSidechainError(err) ? err.code : 'STATUS_FAILED'
          process.stdout.write(
            `${JSON.stringify({ ok: false, error: { code, message: errorMessage(err) } })}\n`,
          )
          process.exitCode = describeError(err).exitCode
        }
      },
    )
}

async function runStatus(flags: {
  rpc?: string
  network?: string
  json?: boolean
  missingAfter?: string
}): Promise<void> {
  const network = flags.network === undefined ? undefined : readNetworkFile(flags.network)
  const url = flags.rpc ?? network?.l2.rpcUrls[0]
  if (url === undefined) {
    throw new StatusError('STATUS_FLAGS_INVALID', 'give --rpc <url> or --network <file>')
  }
  let missingAfterMs: number | undefined
  if (flags.missingAfter !== undefined) {
    const seconds = Number(flags.missingAfter)
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new StatusError(
        'STATUS_FLAGS_INVALID',
        `--missing-after must be a positive number of seconds, got ${flags.missingAfter}`,
      )
    }
    missingAfterMs = seconds * 1000
  }
  const report = await collectStatus({ rpc: url, network, missingAfterMs })
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify({ ok: true, ...report }, null, 2)}\n`)
    return
  }
  process.stdout.write(formatStatus(report, useColour(process.stdout, process.env)))
}
