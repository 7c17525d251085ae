import { writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { parseEther } from 'viem'
import { tempDir } from '../../test/support/chain.ts'
import { loadRelayerConfig, parseRelayerConfig } from './config.ts'
import { CRASH_ENV, crashHookFromEnv } from './crash-hook.ts'
import { releaseTurnDelay } from './withdrawal-pipeline.ts'

const minimal = {
  l1: {
    rpcUrl: 'http://127.0.0.1:8545',
    chainId: 1,
    vault: '0x1111111111111111111111111111111111111111',
  },
  sidechain: {
    rpcUrl: 'http://127.0.0.1:9545',
    chainId: 1337,
    bridge: '0x2222222222222222222222222222222222222222',
  },
  relayer: { keyFile: 'relayer.key', index: 0, count: 3 },
  datadir: 'data',
}

t.test('defaults live in the schema and paths resolve against the config folder', async (t) => {
  const c = parseRelayerConfig(minimal, '/etc/relayer')
  t.equal(c.l1.confirmations, 'finalized', 'finalized is the default outside development chains')
  t.equal(
    parseRelayerConfig({ ...minimal, l1: { ...minimal.l1, chainId: 31337 } }).l1.confirmations,
    12,
    'a development L1 keeps a number of blocks',
  )
  t.equal(c.l1.spendCap, parseEther('1'))
  t.equal(c.l1.spendWindowMs, 24 * 60 * 60 * 1000, 'the spend cap is per 24 h window')
  t.equal(c.l1.releaseGasCap, 600_000)
  t.equal(c.parkedRecheckMs, 600_000)
  t.equal(c.maxOutOfGasAttempts, 3)
  t.same(c.metrics, { host: '127.0.0.1', port: 9464 })
  t.equal(c.releaseTurnTimeoutMs, 60_000)
  t.same([c.l1.receiptPollMs, c.sidechain.receiptPollMs], [250, 250])
  t.same([c.l1.bumpPercent, c.sidechain.bumpPercent], [25, 25])
  t.same(c.retryBackoff, { baseMs: 500, maxMs: 30_000 })
  t.equal(
    parseRelayerConfig({ ...minimal, retryBackoff: { maxMs: 5_000 } }).retryBackoff.baseMs,
    500,
    'a partly given block keeps the defaults of the rest',
  )
  t.equal(c.datadir, '/etc/relayer/data')
  t.equal(c.relayer.keyFile, '/etc/relayer/relayer.key')
  t.equal(c.l1.vault, '0x1111111111111111111111111111111111111111')
  t.ok(Object.isFrozen(c))
  t.equal(
    parseRelayerConfig({
      ...minimal,
      l1: { ...minimal.l1, confirmations: 'finalized', spendCap: '0.25' },
    }).l1.spendCap,
    parseEther('0.25'),
  )
})

t.test('bad fields are refused, each one named', async (t) => {
  const bad = {
    ...minimal,
    l1: { ...minimal.l1, vault: '0x1234', confirmations: 0, rpcUrl: 'ftp://x' },
    relayer: { keyFile: 'k', index: 3, count: 3 },
    extra: true,
  }
  try {
    parseRelayerConfig(bad)
    t.fail('should throw')
  } catch (err) {
    const e = err as { code: string; message: string }
    t.equal(e.code, 'RELAYER_CONFIG_INVALID')
    for (const field of ['l1.vault', 'l1.confirmations', 'l1.rpcUrl', 'relayer.index', '"extra"']) {
      t.match(e.message, field, field)
    }
  }
  t.throws(() => parseRelayerConfig({ ...minimal, l1: { ...minimal.l1, spendCap: '-1' } }), {
    code: 'RELAYER_CONFIG_INVALID',
  })
  t.throws(() => parseRelayerConfig({ ...minimal, l1: { ...minimal.l1, bumpPercent: 5 } }), {
    code: 'RELAYER_CONFIG_INVALID',
  })
  // The sidechain's chain id is part of what a relayer signs (the withdrawal key on L1): it
  // must be configured, never taken from the endpoint that is being checked.
  const { chainId: _omitted, ...sidechainWithoutChainId } = minimal.sidechain
  t.throws(
    () => parseRelayerConfig({ ...minimal, sidechain: sidechainWithoutChainId }),
    { code: 'RELAYER_CONFIG_INVALID', message: /sidechain\.chainId/ },
    'sidechain.chainId is required',
  )
})

t.test('loadRelayerConfig reads JSON files', async (t) => {
  const dir = tempDir('relayer-config-')
  t.teardown(dir.remove)
  const file = path.join(dir.path, 'relayer.json')
  writeFileSync(file, JSON.stringify(minimal))
  t.equal(loadRelayerConfig(file).datadir, path.join(dir.path, 'data'))
  writeFileSync(file, '{ nope')
  t.throws(() => loadRelayerConfig(file), { code: 'RELAYER_CONFIG_INVALID', message: /not JSON/ })
  t.throws(() => loadRelayerConfig(path.join(dir.path, 'missing.json')), {
    code: 'RELAYER_CONFIG_INVALID',
  })
})

t.test('release turns: owner first, then around the ring', async (t) => {
  t.equal(releaseTurnDelay(0n, 0, 3), 0)
  t.equal(releaseTurnDelay(0n, 1, 3), 1)
  t.equal(releaseTurnDelay(0n, 2, 3), 2)
  t.equal(releaseTurnDelay(4n, 1, 3), 0)
  t.equal(releaseTurnDelay(4n, 0, 3), 2)
  t.equal(releaseTurnDelay(5n, 0, 3), 1)
})

t.test(
  'plain http:// to a remote host is refused unless allowed; loopback and https pass',
  async (t) => {
    const withUrls = (l1: string, sidechain: string, allowInsecureRpc?: boolean) => ({
      ...minimal,
      l1: { ...minimal.l1, rpcUrl: l1 },
      sidechain: { ...minimal.sidechain, rpcUrl: sidechain },
      ...(allowInsecureRpc === undefined ? {} : { allowInsecureRpc }),
    })
    t.throws(() => parseRelayerConfig(withUrls('http://10.0.0.5:8545', 'http://127.0.0.1:9545')), {
      code: 'RELAYER_CONFIG_INVALID',
      message: /l1\.rpcUrl/,
    })
    t.throws(() => parseRelayerConfig(withUrls('https://l1.example', 'http://node.example:8545')), {
      code: 'RELAYER_CONFIG_INVALID',
      message: /sidechain\.rpcUrl/,
    })
    t.doesNotThrow(() =>
      parseRelayerConfig(withUrls('https://l1.example', 'http://localhost:9545')),
    )
    t.doesNotThrow(() => parseRelayerConfig(withUrls('http://[::1]:8545', 'http://127.0.0.2:9545')))
    t.doesNotThrow(() =>
      parseRelayerConfig(withUrls('http://anvil:8545', 'http://validator-0:8545', true)),
    )
  },
)

t.test('the test-only crash hook is refused outside development L1 chains', async (t) => {
  const env = { [CRASH_ENV]: 'after-sign' }
  t.throws(() => crashHookFromEnv('/tmp/x', 1, env), { code: 'RELAYER_CONFIG_INVALID' })
  t.type(crashHookFromEnv('/tmp/x', 31337, env), 'function')
  t.type(crashHookFromEnv('/tmp/x', 1, {}), 'function', 'without the variable nothing happens')
})

t.test('the key: a key file or a remote signer with its address, never both', async (t) => {
  const remote = {
    ...minimal,
    relayer: {
      signerUrl: 'http://127.0.0.1:9000',
      address: '0x3333333333333333333333333333333333333333',
      index: 0,
      count: 3,
    },
  }
  const c = parseRelayerConfig(remote)
  t.equal(c.relayer.keyFile, undefined, 'no key file with a remote signer')
  t.equal(c.relayer.signerUrl, 'http://127.0.0.1:9000')
  t.equal(c.relayer.insecureKey, false, 'plain keys stay refused by default')
  t.throws(() => parseRelayerConfig({ ...remote, relayer: { ...remote.relayer, keyFile: 'k' } }), {
    code: 'RELAYER_CONFIG_INVALID',
    message: /either keyFile or signerUrl/,
  })
  t.throws(
    () =>
      parseRelayerConfig({
        ...minimal,
        relayer: { signerUrl: 'http://127.0.0.1:9000', index: 0, count: 3 },
      }),
    { code: 'RELAYER_CONFIG_INVALID', message: /signerUrl and address go together/ },
  )
})

t.test(
  'the light client checkpoint: genesis by default, an epoch block only with its hash',
  async (t) => {
    const hash = `0x${'ab'.repeat(32)}`
    const lightClient = (value: unknown) =>
      parseRelayerConfig({ ...minimal, sidechain: { ...minimal.sidechain, lightClient: value } })
        .sidechain.lightClient
    t.same(parseRelayerConfig(minimal).sidechain.lightClient, {
      checkpointNumber: 0,
      epochLength: 30_000,
    })
    t.same(lightClient({ checkpointHash: hash }), {
      checkpointHash: hash,
      checkpointNumber: 0,
      epochLength: 30_000,
    })
    t.equal(
      lightClient({ checkpointHash: hash, checkpointNumber: 200, epochLength: 100 })
        .checkpointNumber,
      200,
    )
    const refused = (value: unknown, path: string, what: string) =>
      t.throws(
        () => lightClient(value),
        {
          code: 'RELAYER_CONFIG_INVALID',
          details: { issues: [{ path: ['sidechain', 'lightClient', path] }] },
        },
        what,
      )
    refused(
      { checkpointHash: hash, checkpointNumber: 150, epochLength: 100 },
      'checkpointNumber',
      'not an epoch block',
    )
    refused(
      { checkpointNumber: 200, epochLength: 100 },
      'checkpointHash',
      'an epoch block without its hash',
    )
    refused({ checkpointHash: '0x1234' }, 'checkpointHash', 'not a block hash')
  },
)

t.test('a second L1 endpoint is optional and held to the same transport rule', async (t) => {
  t.equal(parseRelayerConfig(minimal).l1.secondRpcUrl, undefined)
  const withSecond = (url: string) =>
    parseRelayerConfig({ ...minimal, l1: { ...minimal.l1, secondRpcUrl: url } }).l1.secondRpcUrl
  t.equal(withSecond('https://l1.example.org'), 'https://l1.example.org')
  t.throws(() => withSecond('http://l1.example.org:8545'), {
    code: 'RELAYER_CONFIG_INVALID',
    details: { issues: [{ path: ['l1', 'secondRpcUrl'] }] },
  })
})
