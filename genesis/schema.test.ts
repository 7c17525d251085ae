import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { readKeyFile } from '../chain/lib/keys.ts'
import { tempDir } from '../test/support/chain.ts'
import { parseGenesis } from './schema.ts'

const V1 = '0x1111111111111111111111111111111111111111'
const V2 = '0x2222222222222222222222222222222222222222'
const valid = () => ({
  config: { chainId: 1337 },
  validators: [V1],
  alloc: { [V2]: { balance: '1000' } },
})
const CLI = path.resolve(import.meta.dirname, '../chain/cli/main.ts')

function runCli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 })
}

t.test('a valid genesis gets its defaults', (t) => {
  const g = parseGenesis(valid())
  t.equal(g.config.blockPeriodMs, 1000)
  t.equal(g.config.hardfork, 'osaka')
  t.equal(g.alloc[V2]!.balance, 1000n)
  t.end()
})

t.test('bad genesis files fail with a message naming the field and value', (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing chain id', { ...valid(), config: {} }, /at config\.chainId/],
    [
      'bad validator address',
      { ...valid(), validators: ['0x1234'] },
      /got "0x1234"\)\n\s+→ at validators\[0\]/,
    ],
    [
      'duplicate validator',
      { ...valid(), validators: [V1, V1.toUpperCase().replace('0X', '0x')] },
      /duplicate validator.*\n\s+→ at validators\[1\]/,
    ],
    [
      'no validators',
      { ...valid(), validators: [] },
      /at least one validator.*\n\s+→ at validators$/m,
    ],
    [
      'bad alloc address',
      { ...valid(), alloc: { '0xnothex': { balance: '1' } } },
      /at alloc\.0xnothex/,
    ],
    [
      'bad alloc balance',
      { ...valid(), alloc: { [V2]: { balance: '-5' } } },
      new RegExp(`-5.*\\n\\s+→ at alloc\\.${V2}\\.balance`),
    ],
    ['unknown field', { ...valid(), extra: 1 }, /extra|Unrecognized/i],
    ['odd-length code', { ...valid(), alloc: { [V2]: { code: '0x123' } } }, /code/],
  ]
  for (const [name, input, message] of cases) {
    t.throws(() => parseGenesis(input, 'g.json'), { code: 'GENESIS_INVALID', message }, name)
  }
  t.end()
})

t.test('the node refuses to start on a bad genesis file', (t) => {
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const file = path.join(dir.path, 'genesis.json')
  writeFileSync(file, JSON.stringify({ ...valid(), validators: ['0xbad'] }))
  const result = runCli(['node', '--genesis', file, '--datadir', path.join(dir.path, 'data')])
  t.equal(result.status, 2, 'exit code 2 (bad input)')
  t.match(result.stderr, /at validators\[0\]/)
  t.notOk(existsSync(path.join(dir.path, 'data', 'chaindata')), 'no database was created')
  writeFileSync(file, '{ not json')
  const notJson = runCli(['node', '--genesis', file, '--datadir', path.join(dir.path, 'data')])
  t.equal(notJson.status, 2)
  t.match(notJson.stderr, /not valid JSON/)
  t.end()
})

t.test('sidechain genesis writes a genesis and 0600 validator keys, never printing them', (t) => {
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const out = path.join(dir.path, 'net')
  const result = runCli([
    'genesis',
    '--out',
    out,
    '--validators',
    '2',
    '--fund',
    `${V2}=1.5`,
    '--chain-id',
    '4242',
    '--block-period',
    '500',
  ])
  t.equal(result.status, 0, result.stderr)
  const genesis = parseGenesis(JSON.parse(readFileSync(path.join(out, 'genesis.json'), 'utf8')))
  t.equal(genesis.config.chainId, 4242)
  t.equal(genesis.config.blockPeriodMs, 500)
  t.equal(genesis.alloc[V2]!.balance, 1_500_000_000_000_000_000n)
  t.equal(genesis.validators.length, 2)
  for (let i = 0; i < 2; i++) {
    const keyPath = path.join(out, `validator-${i}.key`)
    t.equal(statSync(keyPath).mode & 0o777, 0o600, 'key file is 0600')
    const key = readKeyFile(keyPath)
    t.ok(genesis.validators.includes(key.addressHex), 'key matches a genesis validator')
    const secret = Buffer.from(key.privateKey).toString('hex')
    t.notMatch(result.stdout + result.stderr, secret, 'private key never printed')
    t.notMatch(JSON.stringify(key), secret, 'private key not serializable')
  }
  const again = runCli(['genesis', '--out', out])
  t.not(again.status, 0, 'refuses to overwrite an existing genesis')
  t.match(again.stderr, /already exists/)
  const badFlag = runCli(['genesis', '--out', out, '--fund', 'nonsense'])
  t.equal(badFlag.status, 2)
  t.match(badFlag.stderr, /--fund takes ADDRESS=ETHER/)
  t.end()
})
