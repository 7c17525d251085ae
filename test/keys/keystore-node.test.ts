/**
 * Encrypted keys end to end, through the real CLI: `sidechain account new` writes what the
 * real `cast wallet decrypt-keystore` opens; a keystore from `cast wallet new` runs a
 * validator that seals blocks; a network made by `network init --encrypt-keys` finalizes
 * blocks from keystores; a wrong password and a plain-text key without --insecure-key exit 2
 * before the datadir exists; the key never shows in the logs or the process arguments.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { freePorts } from '../../chain/devnet/processes.ts'
import { foundryBinary } from '../../chain/lib/foundry.ts'
import { writeKeyFile } from '../../chain/lib/keys.ts'
import { decryptKeystore, readKeyJson } from '../../chain/lib/keystore.ts'
import { tempDir } from '../support/chain.ts'
import { CLI, NodeProcess } from '../support/p2p.ts'

const dir = tempDir('keystore-node-')
t.teardown(() => dir.remove())
const PASSWORD = 'operator kit test password'
const passwordFile = path.join(dir.path, 'password.txt')
writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })

function sidechain(args: string[]) {
  // No password from this test's own environment: each case names its source.
  const { SIDECHAIN_KEY_PASSWORD: _p, SIDECHAIN_KEY_PASSWORD_FILE: _f, ...env } = process.env
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...env, NODE_OPTIONS: '' },
  })
}

function singleValidatorGenesis(address: string, file: string): void {
  writeFileSync(
    file,
    JSON.stringify({
      config: { chainId: 1337, blockPeriodMs: 200 },
      timestamp: 1_700_000_000,
      validators: [address],
      alloc: {},
    }),
  )
}

/** Neither the key nor its hex without 0x may appear in `text`. */
function assertNoKey(t: Test, text: string, keyHex: string, where: string): void {
  t.notOk(text.toLowerCase().includes(keyHex.slice(2).toLowerCase()), `no key material in ${where}`)
}

t.test('account new writes a keystore the real cast decrypts', async (t) => {
  const keystoreDir = path.join(dir.path, 'ours')
  const made = sidechain([
    'account',
    'new',
    '--keystore-dir',
    keystoreDir,
    '--password-file',
    passwordFile,
    '--light-kdf',
  ])
  t.equal(made.status, 0, made.stderr)
  const address = /address (0x[0-9a-f]{40})/.exec(made.stdout)?.[1]
  t.ok(address, made.stdout)
  const [name] = readdirSync(keystoreDir)
  t.match(name, new RegExp(`^UTC--.*--${address!.slice(2)}$`), 'geth file name')
  const file = path.join(keystoreDir, name!)
  t.equal(statSync(file).mode & 0o777, 0o600, 'mode 0600')
  const cast = execFileSync(
    foundryBinary('cast'),
    ['wallet', 'decrypt-keystore', '--keystore-dir', keystoreDir, name!],
    { env: { ...process.env, CAST_UNSAFE_PASSWORD: PASSWORD }, encoding: 'utf8' },
  )
  const key = await decryptKeystore(readKeyJson(file), PASSWORD, file)
  t.equal(key.addressHex, address)
  t.match(cast, `0x${Buffer.from(key.privateKey).toString('hex')}`, 'cast finds the same key')
  assertNoKey(
    t,
    made.stdout + made.stderr,
    `0x${Buffer.from(key.privateKey).toString('hex')}`,
    'account new output',
  )

  const list = sidechain(['account', 'list', '--keystore-dir', keystoreDir])
  t.match(list.stdout, `${address}  keystore v3`)
  const inspect = sidechain(['account', 'inspect', file, '--password-file', passwordFile])
  t.equal(inspect.status, 0, inspect.stderr)
  t.match(inspect.stdout, /kdf\s+scrypt n=4096 r=8 p=6/)
  t.match(inspect.stdout, 'password opens the keystore')
})

t.test('a keystore written by cast wallet new runs a validator that seals blocks', async (t) => {
  const castDir = path.join(dir.path, 'cast')
  mkdirSync(castDir)
  execFileSync(foundryBinary('cast'), ['wallet', 'new', castDir, '--unsafe-password', PASSWORD])
  const keystore = path.join(castDir, readdirSync(castDir)[0]!)
  const key = await decryptKeystore(readKeyJson(keystore), PASSWORD, keystore)
  const keyHex = `0x${Buffer.from(key.privateKey).toString('hex')}`
  const genesisFile = path.join(dir.path, 'cast-genesis.json')
  singleValidatorGenesis(key.addressHex, genesisFile)

  // Wrong password: exit 2, typed error, and the datadir was never created.
  const wrongFile = path.join(dir.path, 'wrong.txt')
  writeFileSync(wrongFile, 'not the password\n')
  const wrongDatadir = path.join(dir.path, 'wrong-datadir')
  const wrong = sidechain([
    'node',
    '--genesis',
    genesisFile,
    '--datadir',
    wrongDatadir,
    '--validator-key',
    keystore,
    '--password-file',
    wrongFile,
    '--no-rpc',
  ])
  t.equal(wrong.status, 2, 'wrong password exits 2')
  t.match(wrong.stderr, /^error \[KEY_FILE_WRONG_PASSWORD\]: /)
  t.notOk(existsSync(wrongDatadir), 'nothing written: no datadir')
  assertNoKey(t, wrong.stdout + wrong.stderr, keyHex, 'the wrong-password output')

  // No password at all (no file, no environment, no terminal): exit 2 naming the sources.
  const none = sidechain([
    'node',
    '--genesis',
    genesisFile,
    '--datadir',
    wrongDatadir,
    '--validator-key',
    keystore,
  ])
  t.equal(none.status, 2)
  t.match(none.stderr, /^error \[KEY_PASSWORD_MISSING\]: .*--password-file, SIDECHAIN_KEY_PASSWORD/)
  t.notOk(existsSync(wrongDatadir), 'still no datadir')

  const [rpcPort] = await freePorts(1)
  const node = new NodeProcess('cast-validator', [
    '--genesis',
    genesisFile,
    '--datadir',
    path.join(dir.path, 'cast-datadir'),
    '--validator-key',
    keystore,
    '--password-file',
    passwordFile,
    '--rpc-port',
    String(rpcPort),
  ])
  t.teardown(() => node.stop())
  await node.waitForHead(3, 60_000)
  t.ok(node.head >= 3, `sealed blocks from the cast keystore (head ${node.head})`)
  const started = node.lines.find((l) => l.msg === 'node started')
  t.equal(started?.validator, key.addressHex, 'runs as the keystore address')
  const cmdline = readFileSync(`/proc/${node.child.pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  assertNoKey(t, cmdline, keyHex, '/proc/PID/cmdline')
  t.notMatch(cmdline, PASSWORD, 'no password in the process arguments')
  await node.stop()
  assertNoKey(t, JSON.stringify(node.lines), keyHex, 'the node logs')
})

t.test('a plain-text key is refused without --insecure-key, naming the flag', async (t) => {
  const setupDir = path.join(dir.path, 'plain')
  mkdirSync(setupDir)
  const castDir = path.join(dir.path, 'cast')
  const keystore = path.join(castDir, readdirSync(castDir)[0]!)
  const key = await decryptKeystore(readKeyJson(keystore), PASSWORD, keystore)
  const plain = path.join(setupDir, 'validator.key')
  writeKeyFile(plain, key)
  const genesisFile = path.join(setupDir, 'genesis.json')
  singleValidatorGenesis(key.addressHex, genesisFile)
  const datadir = path.join(setupDir, 'datadir')
  const refused = sidechain([
    'node',
    '--genesis',
    genesisFile,
    '--datadir',
    datadir,
    '--validator-key',
    plain,
    '--no-rpc',
  ])
  t.equal(refused.status, 2)
  t.match(refused.stderr, /^error \[KEY_FILE_INSECURE\]: .*--insecure-key/)
  t.notOk(existsSync(datadir), 'nothing written')
  assertNoKey(t, refused.stderr, `0x${Buffer.from(key.privateKey).toString('hex')}`, 'the refusal')
})

t.test('a network from network init --encrypt-keys finalizes blocks from keystores', async (t) => {
  const net = path.join(dir.path, 'network')
  const p2p = await freePorts(2)
  const init = sidechain([
    'network',
    'init',
    '--out',
    net,
    '--validator-hosts',
    p2p.map((p) => `127.0.0.1:${p}`).join(','),
    '--relayers',
    '1',
    '--block-time',
    '300',
    '--encrypt-keys',
    '--light-kdf',
    '--password-file',
    passwordFile,
  ])
  t.equal(init.status, 0, init.stderr)
  t.match(init.stdout, 'keys are V3 keystores')
  for (const file of ['validator-0.key', 'validator-1.key', 'relayer-0.key']) {
    const json = readKeyJson(path.join(net, file)) as { version?: number; privateKey?: unknown }
    t.equal(json.version, 3, `${file} is a keystore`)
    t.equal(json.privateKey, undefined, `${file} holds no plain key`)
  }
  const nodes = [0, 1].map((i) => {
    const datadir = path.join(dir.path, `net-v${i}`)
    mkdirSync(datadir)
    copyFileSync(path.join(net, `nodekey-${i}`), path.join(datadir, 'nodekey'))
    const bootnodes = readFileSync(path.join(net, `bootnodes-${i}.txt`), 'utf8').trim()
    return new NodeProcess(`net-v${i}`, [
      '--genesis',
      path.join(net, 'genesis.json'),
      '--datadir',
      datadir,
      '--validator-key',
      path.join(net, `validator-${i}.key`),
      '--password-file',
      passwordFile,
      '--no-rpc',
      '--p2p-host',
      '127.0.0.1',
      '--p2p-port',
      String(p2p[i]),
      '--bootnodes',
      bootnodes,
    ])
  })
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())))
  await Promise.all(nodes.map((n) => n.waitForHead(3, 90_000)))
  t.ok(
    nodes.every((n) => n.head >= 3),
    `both validators finalized blocks (${nodes.map((n) => n.head).join(', ')})`,
  )
})
