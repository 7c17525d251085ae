/**
 * The monitoring pack without a network: the real `promtool` checks the shipped and the devnet-generated
 * Prometheus configurations and the rules, and runs the rule unit tests (rules.test.yml: every alert fires on a
 * failure and stays quiet on a healthy series). Every metric the rules and dashboards name is one our registries
 * export, and the compose files shipped in docker/monitoring are what the generator writes.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { RelayerMetrics } from '../../bridge/relayer/metrics.ts'
import {
  composeMonitoringFiles,
  MONITORING_SOURCE_DIR,
  writeMonitoringPack,
} from '../../chain/devnet/monitoring.ts'
import { NodeMetrics } from '../../chain/metrics/node-metrics.ts'
import { tempDir } from '../support/chain.ts'
import { REPO_ROOT } from '../support/devnet.ts'

const RULES = path.join(MONITORING_SOURCE_DIR, 'rules.yml')
const RULE_TESTS = path.join(import.meta.dirname, 'rules.test.yml')
const DASHBOARDS = path.join(MONITORING_SOURCE_DIR, 'grafana', 'dashboards')

function promtool(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, output: `${stdout}${stderr}` })
    })
  })
}

/** Alert blocks of rules.yml: name and the text up to the next alert. */
function alertBlocks(text: string): Array<{ name: string; text: string }> {
  return text
    .split(/^\s+- alert: /m)
    .slice(1)
    .map((block) => ({ name: block.split('\n')[0]!.trim(), text: block }))
}

/** Names a PromQL text uses that look like ours (sidechain_*, bridge_*). */
function metricNames(text: string): string[] {
  return [...new Set(text.match(/\b(?:sidechain|bridge)_[a-z0-9_]+\b/g) ?? [])]
}

/** Every series name our node and relayer registries export (histograms with their _bucket, _sum, _count). */
async function exportedNames(): Promise<Set<string>> {
  const node = new NodeMetrics(
    { host: '127.0.0.1', port: 0 },
    {
      head: () => ({ number: 0n, timestamp: 0n }),
      speculativeValidations: () => ({ used: 0, fellBack: 0 }),
      txpoolSize: () => 0,
      blockPeriodMs: 1000,
    },
  )
  const relayer = new RelayerMetrics()
  const names = new Set<string>()
  for (const metric of [
    ...(await node.registry.getMetricsAsJSON()),
    ...(await relayer.registry.getMetricsAsJSON()),
  ]) {
    names.add(metric.name)
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`)
    }
  }
  return names
}

function dashboardExprs(): Array<{ dashboard: string; panel: string; expr: string }> {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .flatMap((file) => {
      const dashboard = JSON.parse(readFileSync(path.join(DASHBOARDS, file), 'utf8')) as {
        panels: Array<{ title: string; targets: Array<{ expr: string }> }>
      }
      return dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => ({ dashboard: file, panel: panel.title, expr: target.expr })),
      )
    })
}

t.test('promtool: configurations and rules are valid, every rule test passes', async (t) => {
  const shipped = await promtool(['check', 'config', 'docker/monitoring/prometheus.yml'])
  t.equal(shipped.code, 0, `docker/monitoring/prometheus.yml:\n${shipped.output}`)

  const dir = tempDir('monitoring-pack-')
  t.teardown(() => dir.remove())
  const pack = writeMonitoringPack(path.join(dir.path, 'monitoring'), {
    validators: [0, 1].map((i) => ({
      name: `validator-${i}`,
      metricsUrl: `http://127.0.0.1:${6060 + i}/metrics`,
    })),
    relayers: [{ name: 'relayer-0', metricsUrl: 'http://127.0.0.1:9464/metrics' }],
  })
  const generated = await promtool(['check', 'config', pack.prometheusConfig])
  t.equal(generated.code, 0, `devnet pack:\n${generated.output}`)
  t.match(generated.output, /SUCCESS: 1 rule files found/, 'the devnet pack loads its rules')
  t.same(
    pack.dashboards.map((f) => path.basename(f)),
    ['bridge.json', 'network.json', 'validator.json'],
    'the devnet pack has the three dashboards',
  )

  const rules = await promtool(['check', 'rules', RULES])
  t.equal(rules.code, 0, rules.output)
  const tests = await promtool(['test', 'rules', RULE_TESTS])
  t.equal(tests.code, 0, `promtool test rules:\n${tests.output}`)
  t.match(tests.output, /SUCCESS/)
})

t.test(
  'every alert has a severity, a summary and a runbook, and a firing and a quiet test',
  (t) => {
    const alerts = alertBlocks(readFileSync(RULES, 'utf8'))
    t.ok(alerts.length >= 15, `${alerts.length} alerts`)
    const testText = readFileSync(RULE_TESTS, 'utf8')
    // Each alert_rule_test entry: its alertname and whether it expects alerts.
    const checks = [...testText.matchAll(/alertname: (\w+)\n\s+exp_alerts:( \[\])?/g)].map(
      ([, name, empty]) => ({ name: name!, fires: empty === undefined }),
    )
    for (const { name, text } of alerts) {
      t.match(text, /severity: (critical|warning)/, `${name}: severity`)
      t.match(text, /summary: /, `${name}: summary`)
      t.match(text, /runbook: "[^"]{30,}"/, `${name}: a runbook line`)
      t.ok(
        checks.some((c) => c.name === name && c.fires),
        `${name}: a test case where it fires`,
      )
      t.ok(
        checks.some((c) => c.name === name && !c.fires),
        `${name}: a case where it stays quiet`,
      )
    }
    const unknown = checks.filter((c) => !alerts.some((a) => a.name === c.name))
    t.same(unknown, [], 'no test names an alert that does not exist')
    t.end()
  },
)

t.test('rules and dashboards name only metrics that exist', async (t) => {
  const names = await exportedNames()
  for (const name of metricNames(readFileSync(RULES, 'utf8'))) {
    t.ok(names.has(name), `rules.yml: ${name} is exported`)
  }
  const exprs = dashboardExprs()
  t.ok(exprs.length >= 30, `${exprs.length} panel queries`)
  for (const { dashboard, panel, expr } of exprs) {
    for (const name of metricNames(expr)) {
      t.ok(names.has(name), `${dashboard} "${panel}": ${name} is exported`)
    }
  }
  t.end()
})

t.test('dashboards are Grafana JSON on the provisioned data source', (t) => {
  for (const file of readdirSync(DASHBOARDS)) {
    const dashboard = JSON.parse(readFileSync(path.join(DASHBOARDS, file), 'utf8')) as {
      uid: string
      title: string
      panels: Array<{ id: number; datasource: { uid: string }; targets: unknown[] }>
    }
    t.match(dashboard.uid, /^sidechain-/, `${file}: uid`)
    const ids = dashboard.panels.map((p) => p.id)
    t.equal(new Set(ids).size, ids.length, `${file}: panel ids unique`)
    t.ok(
      dashboard.panels.every((p) => p.datasource.uid === 'prometheus' && p.targets.length > 0),
      `${file}: every panel queries the "prometheus" data source`,
    )
  }
  t.end()
})

t.test('the compose files in docker/monitoring are what the generator writes', (t) => {
  for (const [file, text] of Object.entries(composeMonitoringFiles())) {
    t.equal(
      readFileSync(path.join(MONITORING_SOURCE_DIR, file), 'utf8'),
      text,
      `docker/monitoring/${file} is composeMonitoringFiles()['${file}'] (regenerate it after changing the generator)`,
    )
  }
  t.end()
})
