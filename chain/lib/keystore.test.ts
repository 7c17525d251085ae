/**
 * V3 keystores against two independent readers and writers: Foundry's real `cast` binary
 * and ethers. What we write they decrypt; what cast writes we decrypt; a wrong password is
 * its own typed error.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { encryptKeystoreJson, Wallet } from 'ethers'
import t from 'tap'
import { bytesToHex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { isSidechainError } from './errors.ts'
import { foundryBinary } from './foundry.ts'
import { loadKey } from './key-loader.ts'
import { keyPairFromPrivateKey, writeKeyFile } from './keys.ts'
import {
  decryptKeystore,
  encryptKeystore,
  LIGHT_SCRYPT,
  readKeyJson,
  writeKeystoreFile,
} from './keystore.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'keystore-test-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const pair = keyPairFromPrivateKey(
  Uint8Array.from(Buffer.from(generatePrivateKey().slice(2), 'hex')),
)
const password = 'correct horse battery staple'

t.test('a keystore we write decrypts with the real cast and with ethers', async (t) => {
  const file = path.join(dir, 'ours.json')
  writeKeystoreFile(file, await encryptKeystore(pair, password, LIGHT_SCRYPT))
  const cast = execFileSync(
    foundryBinary('cast'),
    ['wallet', 'decrypt-keystore', '--keystore-dir', dir, 'ours.json'],
    { env: { ...process.env, CAST_UNSAFE_PASSWORD: password }, encoding: 'utf8' },
  )
  t.match(cast, bytesToHex(pair.privateKey), 'cast prints the same private key')
  const wallet = await Wallet.fromEncryptedJson(readFileSync(file, 'utf8'), password)
  t.equal(wallet.address.toLowerCase(), pair.addressHex, 'ethers finds the same address')
  t.equal(wallet.privateKey, bytesToHex(pair.privateKey))
})

t.test('a keystore written by cast wallet new decrypts here', async (t) => {
  const castDir = path.join(dir, 'cast')
  mkdirSync(castDir)
  const out = execFileSync(
    foundryBinary('cast'),
    ['wallet', 'new', castDir, '--unsafe-password', password],
    { encoding: 'utf8' },
  )
  const file = path.join(castDir, readdirSync(castDir)[0]!)
  const loaded = await decryptKeystore(readKeyJson(file), password, file)
  t.match(out, new RegExp(loaded.addressHex, 'i'), 'the address cast printed')
  await t.rejects(decryptKeystore(readKeyJson(file), 'wrong', file), {
    code: 'KEY_FILE_WRONG_PASSWORD',
  })
})

t.test('an ethers keystore (its own scrypt parameters) decrypts here', async (t) => {
  const wallet = new Wallet(bytesToHex(pair.privateKey))
  const json = await encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    password,
    { scrypt: { N: 1024 } },
  )
  const loaded = await decryptKeystore(JSON.parse(json), password)
  t.equal(loaded.addressHex, pair.addressHex)
})

t.test('loadKey: password sources, plain keys refused without the flag', async (t) => {
  const keystore = path.join(dir, 'load.json')
  writeKeystoreFile(keystore, await encryptKeystore(pair, password, LIGHT_SCRYPT))
  const passwordFile = path.join(dir, 'password.txt')
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
  const flag = { insecureFlag: '--insecure-key', prompt: false, env: {} }
  t.equal((await loadKey(keystore, { ...flag, passwordFile })).addressHex, pair.addressHex)
  t.equal(
    (await loadKey(keystore, { ...flag, env: { SIDECHAIN_KEY_PASSWORD: password } })).addressHex,
    pair.addressHex,
    'from the environment',
  )
  await t.rejects(loadKey(keystore, flag), { code: 'KEY_PASSWORD_MISSING' })
  const wrong = await loadKey(keystore, { ...flag, env: { SIDECHAIN_KEY_PASSWORD: 'nope' } }).catch(
    (err: unknown) => err,
  )
  t.ok(isSidechainError(wrong, 'KEY_FILE_WRONG_PASSWORD'))
  t.notMatch(String((wrong as Error).message), bytesToHex(pair.privateKey).slice(2))

  const plain = path.join(dir, 'plain.key')
  writeKeyFile(plain, pair)
  const refused = await loadKey(plain, flag).catch((err: unknown) => err)
  t.ok(isSidechainError(refused, 'KEY_FILE_INSECURE'))
  t.match((refused as Error).message, '--insecure-key', 'the refusal names the flag')
  t.equal((await loadKey(plain, { ...flag, insecureKey: true })).addressHex, pair.addressHex)
})

t.test('hostile keystore parameters are refused before any derivation', async (t) => {
  const ks = await encryptKeystore(pair, password, LIGHT_SCRYPT)
  const huge = structuredClone(ks)
  huge.crypto.kdfparams.n = 2 ** 30
  await t.rejects(decryptKeystore(huge, password), { code: 'KEY_FILE_INVALID' })
  const badCipher = structuredClone(ks) as unknown as { crypto: { cipher: string } }
  badCipher.crypto.cipher = 'aes-256-cbc'
  await t.rejects(decryptKeystore(badCipher, password), { code: 'KEY_FILE_INVALID' })
})
