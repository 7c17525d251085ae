/** The relayer's metrics endpoint: `bridge_relayer_ready` says what `/ready` answers, at each scrape. */
import t from 'tap'
import { MetricsServer, RelayerMetrics } from './metrics.ts'

t.test('bridge_relayer_ready follows /ready', async (t) => {
  let ok = false
  const metrics = new RelayerMetrics({ defaultMetrics: false })
  const server = new MetricsServer(
    { host: '127.0.0.1', port: 0 },
    {
      metrics,
      health: () => ({ ok: true, details: {} }),
      ready: () => ({ ok, details: { why: ok ? 'running' : 'starting' } }),
    },
  )
  await server.start()
  t.teardown(() => server.stop())
  const base = `http://127.0.0.1:${server.port}`
  const gauge = async () =>
    /^bridge_relayer_ready (\d)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]
  t.equal((await fetch(`${base}/ready`)).status, 503)
  t.equal(await gauge(), '0', 'not ready: 0')
  ok = true
  t.equal((await fetch(`${base}/ready`)).status, 200)
  t.equal(await gauge(), '1', 'ready: 1')
})
