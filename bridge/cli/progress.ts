/**
 * Live stages of a long bridge operation ("L1 confirmations 1/2", "relayer confirmations 2/2", "minted").
 * On a terminal: one cli-progress bar per stage, redrawn in place. Elsewhere (pipes, CI logs): one line per
 * change. With --json: nothing (the final JSON object is the output). Always on stderr, so stdout carries only
 * the result.
 */
import cliProgress from 'cli-progress'

export interface StageState {
  /** Progress counts, for stages that have them. */
  current?: number
  total?: number
  /** Extra text: a transaction hash, a block number. */
  info?: string
  done?: boolean
  failed?: boolean
}

export interface StageReporter {
  stage(key: string, label: string, state: StageState): void
  /** A line of its own (warnings, hints). */
  note(text: string): void
  close(): void
}

export function createReporter(
  mode: 'json' | 'auto',
  stream: NodeJS.WriteStream = process.stderr,
): StageReporter {
  if (mode === 'json') return silentReporter
  if (stream.isTTY === true) return new TerminalReporter(stream)
  return new LineReporter(stream)
}

export const silentReporter: StageReporter = {
  stage() {},
  note() {},
  close() {},
}

function icon(state: StageState): string {
  if (state.failed === true) return 'x'
  if (state.done === true) return '✓'
  return '…'
}

function render(label: string, state: StageState): string {
  const counts = state.total !== undefined ? ` ${state.current ?? 0}/${state.total}` : ''
  const info = state.info !== undefined ? `  ${state.info}` : ''
  return `${icon(state)} ${label}${counts}${info}`
}

/** One line per change, for logs and pipes. */
export class LineReporter implements StageReporter {
  private readonly last = new Map<string, string>()
  private readonly stream: NodeJS.WritableStream

  constructor(stream: NodeJS.WritableStream) {
    this.stream = stream
  }

  stage(key: string, label: string, state: StageState): void {
    const line = render(label, state)
    if (this.last.get(key) === line) return
    this.last.set(key, line)
    this.stream.write(`${line}\n`)
  }

  note(text: string): void {
    this.stream.write(`${text}\n`)
  }

  close(): void {}
}

/** cli-progress bars redrawn in place. */
class TerminalReporter implements StageReporter {
  private readonly multi: cliProgress.MultiBar
  private readonly bars = new Map<string, cliProgress.SingleBar>()

  constructor(stream: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        barsize: 16,
        fps: 10,
        format: '{icon} {label} {bar} {value}/{total}{info}',
        autopadding: true,
      },
      cliProgress.Presets.shades_classic,
    )
  }

  stage(key: string, label: string, state: StageState): void {
    const payload = {
      icon: icon(state),
      label,
      info: state.info === undefined ? '' : `  ${state.info}`,
    }
    let bar = this.bars.get(key)
    const counted = state.total !== undefined
    if (bar === undefined) {
      bar = this.multi.create(
        state.total ?? 1,
        state.current ?? 0,
        payload,
        counted ? {} : { format: '{icon} {label}{info}' },
      )
      this.bars.set(key, bar)
    }
    if (state.total !== undefined) bar.setTotal(state.total)
    bar.update(counted ? (state.current ?? 0) : state.done === true ? 1 : 0, payload)
  }

  note(text: string): void {
    this.multi.log(`${text}\n`)
  }

  close(): void {
    this.multi.stop()
  }
}
