/**
 * The monitoring pack against a real devnet (4 validators, 1 relayer) scraped by a real Prometheus (Debian's
 * `prometheus`, on 127.0.0.1 with a temp storage folder, 1 s scrape and evaluation intervals, the devnet's own
 * rules.yml). One devnet for everything:
 *   - every rule loads and evaluates without error;
 *   - every dashboard panel query returns data, and every metric a panel names is one Prometheus scraped;
 *   - `kill -STOP` of a validator raises ValidatorMissing for it within a minute (Prometheus' alerts API), and
 *     `sidechain status --json` reports it missing; `kill -CONT` resolves the alert.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { startDevnet } from '../../chain/devnet/devnet.ts'
import { MONITORING_SOURCE_DIR, prometheusConfig } from '../../chain/devnet/monitoring.ts'
import { freePorts } from '../../chain/devnet/processes.ts'
import { pollUntil } from '../../chain/lib/poll.ts'
import { tempDir } from '../support/chain.ts'
import { sidechain } from '../support/devnet.ts'

interface Alert {
  labels: Record<string, string>
  state: 'pending' | 'firing'
  activeAt: string
}

interface StatusJson {
  ok: boolean
  head: { number: number }
  finalized: { number: number } | null
  peers: number
  consensus: { validators: number; quorum: number } | null
  validators: Array<{
    address: string
    state: string
    lastSeenAgoMs: number | null
    proposalsMissed: number | null
  }>
  relayers: Array<{ ready: boolean }> | null
}

/** Grafana variables in the dashboards, as a Prometheus query sees them. */
function expand(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '30s')
    .replaceAll('$validator', '.+')
    .replaceAll('$node', '.+')
    .replaceAll('$relayer', '.+')
}

t.test('Prometheus on a devnet: rules, dashboards, a stopped validator', async (t) => {
  const dir = tempDir('monitoring-devnet-')
  t.teardown(() => dir.remove())
  const started = Date.now()
  const devnet = await startDevnet({
    datadir: path.join(dir.path, 'devnet'),
    validators: 4,
    relayers: 1,
    threshold: 1,
    rpcPort: 0,
    p2pPort: 0,
    l1Port: 0,
    validatorMetricsPort: 0,
    relayerMetricsPort: 0,
    explorerPort: 0,
    faucetPort: 0,
    uiPort: 0,
  })
  t.teardown(() => devnet.stop())
  t.comment(`devnet started in ${Date.now() - started} ms`)
  const { info } = devnet

  // ---- the pack the devnet wrote
  const pack = info.monitoring!
  t.ok(pack !== undefined, 'devnet.json names the monitoring pack')
  t.ok(existsSync(pack.prometheusConfig) && existsSync(pack.rules), 'prometheus.yml and rules.yml')
  const shipped = readFileSync(path.join(MONITORING_SOURCE_DIR, 'rules.yml'), 'utf8')
  t.equal(readFileSync(pack.rules, 'utf8'), shipped, 'the rules are the shipped ones')
  const devnetConfig = readFileSync(pack.prometheusConfig, 'utf8')
  for (const target of [...info.validators, ...info.relayers]) {
    const host = new URL(target.metricsUrl!).host
    t.ok(devnetConfig.includes(`"${host}"`), `prometheus.yml scrapes ${host}`)
  }

  // ---- a real Prometheus with a test-only config: 1 s scrape and evaluation
  const [port] = await freePorts(1)
  const prometheusUrl = `http://127.0.0.1:${port}`
  const configFile = path.join(dir.path, 'prometheus-test.yml')
  writeFileSync(
    configFile,
    prometheusConfig({
      validators: info.validators.map((v, i) => ({
        name: `validator-${i}`,
        metricsUrl: v.metricsUrl!,
      })),
      relayers: info.relayers.map((r, i) => ({ name: `relayer-${i}`, metricsUrl: r.metricsUrl })),
      description: 'test-only: the devnet with 1 s scrapes',
      scrapeIntervalS: 1,
      scrapeTimeoutS: 1,
      evaluationIntervalS: 1,
      ruleFiles: [pack.rules],
    }),
  )
  const prometheus: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir.path, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let prometheusLog = ''
  prometheus.stderr?.on('data', (chunk: Buffer) => {
    prometheusLog = (prometheusLog + chunk.toString('utf8')).slice(-4000)
  })
  t.teardown(async () => {
    if (prometheus.exitCode !== null) return
    const exited = new Promise((resolve) => prometheus.once('exit', resolve))
    prometheus.kill('SIGTERM')
    await exited
  })
  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const response = await fetch(`${prometheusUrl}${pathAndQuery}`)
    const body = (await response.json()) as { status: string; data: T; error?: string }
    if (body.status !== 'success') throw new Error(`${pathAndQuery}: ${body.error}`)
    return body.data
  }
  const query = (expr: string) =>
    api<{ result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)
  const targetCount = info.validators.length + info.relayers.length
  await pollUntil(
    async () => {
      const targets = await api<{ activeTargets: Array<{ health: string }> }>('/api/v1/targets')
      return (
        targets.activeTargets.length === targetCount &&
        targets.activeTargets.every((x) => x.health === 'up')
      )
    },
    {
      what: `Prometheus to scrape ${targetCount} targets (log: ${prometheusLog})`,
      timeoutMs: 30_000,
      intervalMs: 500,
      retryIf: () => true,
    },
  )
  t.pass(`Prometheus scrapes all ${targetCount} targets`)

  // ---- every rule evaluates (a wrong vector match shows up here, not in promtool)
  await pollUntil(
    async () => {
      const { groups } = await api<{
        groups: Array<{ rules: Array<{ health: string; lastEvaluation: string }> }>
      }>('/api/v1/rules')
      const rules = groups.flatMap((g) => g.rules)
      return rules.length > 0 && rules.every((r) => r.health === 'ok')
    },
    { what: 'every rule evaluated once', timeoutMs: 20_000, intervalMs: 500 },
  )
  const { groups } = await api<{
    groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }>
  }>('/api/v1/rules')
  const rules = groups.flatMap((g) => g.rules)
  t.equal(rules.length, (shipped.match(/- alert: /g) ?? []).length, 'every rule is loaded')
  t.same(
    rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`),
    [],
    'every rule evaluates without error',
  )

  // ---- dashboards: every panel query returns data; every metric named is scraped
  // 30 s of 1 s scrapes gives every rate() window its samples.
  await pollUntil(
    async () => {
      const r = await query('count_over_time(sidechain_head_number[30s])')
      const sample = (r.result[0] as { value: [number, string] } | undefined)?.value[1]
      return Number(sample ?? 0) >= 25
    },
    { what: '30 s of samples', timeoutMs: 60_000, intervalMs: 1000 },
  )
  const metadata = await api<Record<string, unknown>>('/api/v1/metadata')
  const scraped = new Set(Object.keys(metadata))
  const dashboardsDir = path.join(pack.dir, 'grafana', 'dashboards')
  let panels = 0
  for (const file of readdirSync(dashboardsDir)) {
    const dashboard = JSON.parse(readFileSync(path.join(dashboardsDir, file), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>
      templating: { list: Array<{ name: string; query: { query: string } }> }
    }
    for (const variable of dashboard.templating.list) {
      const name = /label_values\((\w+), (\w+)\)/.exec(variable.query.query)
      const values = await api<string[]>(
        `/api/v1/label/${name![2]}/values?match[]=${encodeURIComponent(name![1]!)}`,
      )
      t.ok(values.length > 0, `${file} variable $${variable.name}: ${values.length} values`)
    }
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        panels++
        const expr = expand(target.expr)
        const names = (expr.match(/\b(?:sidechain|bridge)_[a-z0-9_]+\b/g) ?? []).map((n) =>
          n.replace(/_(bucket|sum|count)$/, ''),
        )
        const unknown = names.filter((n) => !scraped.has(n))
        t.same(unknown, [], `${file} "${panel.title}": every metric named is scraped`)
        const result = await query(expr)
        t.ok(result.result.length > 0, `${file} "${panel.title}": ${expr} returns data`)
      }
    }
  }
  t.comment(`${panels} panel queries checked`)

  // ---- a stopped validator: the alert, the status command, and back
  const victimIndex = 2
  const victim = devnet.processes().find((p) => p.name === `validator-${victimIndex}`)!
  const victimAddress = info.validators[victimIndex]!.address.toLowerCase()
  let stopped = false
  t.teardown(() => {
    if (stopped) process.kill(victim.pid, 'SIGCONT')
  })
  const missingAlert = async () => {
    const { alerts } = await api<{ alerts: Alert[] }>('/api/v1/alerts')
    return alerts.find(
      (a) => a.labels.alertname === 'ValidatorMissing' && a.labels.validator === victimAddress,
    )
  }
  const { alerts: healthy } = await api<{ alerts: Alert[] }>('/api/v1/alerts')
  t.same(
    healthy.map((a) => `${a.labels.alertname} ${a.state} ${a.labels.node ?? ''}`),
    [],
    'no alert pending or firing while everything runs',
  )
  const before = JSON.parse(
    (await sidechain(['status', '--network', devnet.layout.devnetJson, '--json'])).stdout,
  ) as StatusJson
  t.same(
    before.validators.map((v) => v.state),
    ['active', 'active', 'active', 'active'],
    'status: all four validators active',
  )

  process.kill(victim.pid, 'SIGSTOP')
  stopped = true
  const stoppedAt = Date.now()
  const firing = await pollUntil(
    async () => {
      const alert = await missingAlert()
      return alert?.state === 'firing' ? alert : undefined
    },
    { what: `ValidatorMissing for ${victimAddress}`, timeoutMs: 60_000, intervalMs: 1000 },
  )
  const firedAfterS = (Date.now() - stoppedAt) / 1000
  t.ok(firedAfterS <= 60, `ValidatorMissing firing ${firedAfterS.toFixed(1)} s after SIGSTOP`)
  t.match(firing.labels, { severity: 'critical', validator: victimAddress })

  // Its turns to propose time out on the others: the proposals alert follows (no `for`).
  await pollUntil(
    async () => {
      const { alerts } = await api<{ alerts: Alert[] }>('/api/v1/alerts')
      return alerts.some(
        (a) =>
          a.labels.alertname === 'ValidatorMissedProposals' &&
          a.labels.validator === victimAddress &&
          a.state === 'firing',
      )
    },
    { what: `ValidatorMissedProposals for ${victimAddress}`, timeoutMs: 30_000, intervalMs: 1000 },
  )
  t.pass('ValidatorMissedProposals fires for it too')
  const { alerts: duringStop } = await api<{ alerts: Alert[] }>('/api/v1/alerts')
  t.same(
    duringStop.filter((a) => a.labels.alertname === 'HeadStalled'),
    [],
    'no HeadStalled: three of four validators keep the chain going',
  )

  const status = await sidechain([
    'status',
    '--rpc',
    info.l2.rpcUrls[0]!,
    '--network',
    devnet.layout.devnetJson,
    '--json',
  ])
  t.equal(status.code, 0, `status exits 0 (${status.stderr})`)
  const report = JSON.parse(status.stdout) as StatusJson
  t.equal(report.ok, true)
  const row = report.validators.find((v) => v.address.toLowerCase() === victimAddress)
  t.equal(row?.state, 'missing', 'status --json: the stopped validator is missing')
  t.ok((row?.lastSeenAgoMs ?? 0) > 20_000, `last seen ${row?.lastSeenAgoMs} ms ago`)
  t.ok((row?.proposalsMissed ?? 0) > 0, `${row?.proposalsMissed} proposals missed`)
  t.same(
    report.validators.filter((v) => v.address.toLowerCase() !== victimAddress).map((v) => v.state),
    ['active', 'active', 'active'],
    'the other three are active',
  )
  t.match(report, { consensus: { validators: 4, quorum: 3 } })
  t.ok(report.head.number > before.head.number, 'the head moves on without it')
  t.equal(report.finalized?.number, report.head.number, 'finalized = head')
  t.same(
    report.relayers?.map((r) => r.ready),
    [true],
    'the relayer is ready',
  )
  const table = await sidechain(['status', '--network', devnet.layout.devnetJson], {
    env: { NO_COLOR: '1' },
  })
  t.match(table.stdout, /MISSING/, 'the table marks it MISSING')
  t.notOk(
    table.stdout.includes('\u001b['),
    'no colour codes when NO_COLOR is set (or not a terminal)',
  )

  process.kill(victim.pid, 'SIGCONT')
  stopped = false
  const resumedAt = Date.now()
  await pollUntil(async () => (await missingAlert()) === undefined, {
    what: `ValidatorMissing for ${victimAddress} to resolve`,
    timeoutMs: 60_000,
    intervalMs: 1000,
  })
  t.pass(
    `ValidatorMissing resolved ${((Date.now() - resumedAt) / 1000).toFixed(1)} s after SIGCONT`,
  )
  // The alert reads Prometheus' last scrape, status asks the node now: each sees the
  // validator back at its own moment, so status is polled too.
  const stateAfter = await pollUntil(
    async () => {
      const after = JSON.parse(
        (await sidechain(['status', '--network', devnet.layout.devnetJson, '--json'])).stdout,
      ) as StatusJson
      const state = after.validators.find((v) => v.address.toLowerCase() === victimAddress)?.state
      return state === 'active' ? state : undefined
    },
    {
      what: 'sidechain status to show the validator active again',
      timeoutMs: 60_000,
      intervalMs: 1000,
    },
  )
  t.equal(stateAfter, 'active', 'status: active again')
})
