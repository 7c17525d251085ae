// Container health check: SIDECHAIN_HEALTHCHECK_URL (default the node's JSON-RPC on 127.0.0.1:8545).
// A URL ending in /health or /ready is fetched with GET (relayer metrics server); any other URL must answer a
// JSON-RPC eth_blockNumber. Exit 0 = healthy, 1 = not.
const url = process.argv[2] ?? process.env.SIDECHAIN_HEALTHCHECK_URL ?? 'http://127.0.0.1:8545'
const signal = AbortSignal.timeout(4000)
try {
  if (/\/(health|ready)$/.test(url)) {
    const response = await fetch(url, { signal })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
  } else {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }),
      signal,
    })
    const body = await response.json()
    if (typeof body.result !== 'string') throw new Error(JSON.stringify(body.error ?? body))
  }
  process.exit(0)
} catch (err) {
  process.stderr.write(`unhealthy: ${url}: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}
