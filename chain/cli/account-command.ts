/**
 * `sidechain account new | import | inspect | list`: validator and relayer keys as standard
 * V3 keystores (geth's file names, `UTC--<time>--<address>`), readable by `cast wallet`,
 * geth and ethers. Private keys never come in as arguments (the process list shows those)
 * and never go out on the terminal; passwords come from --password-file, the
 * SIDECHAIN_KEY_PASSWORD environment variable, or a prompt on a terminal.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { generatePrivateKey } from 'viem/accounts'
import { KEY_PASSWORD_ENV, promptPassword, resolvePassword } from '../lib/key-loader.ts'
import { KeyFileError, type KeyPair, keyPairFromPrivateKey, readKeyFile } from '../lib/keys.ts'
import {
  decryptKeystore,
  encryptKeystore,
  isKeystore,
  type KeystoreV3,
  keystoreAddress,
  LIGHT_SCRYPT,
  readKeyJson,
  STANDARD_SCRYPT,
  writeKeystoreFile,
} from '../lib/keystore.ts'

interface PasswordFlags {
  passwordFile?: string
}

interface WriteFlags extends PasswordFlags {
  keystoreDir: string
  lightKdf?: boolean
}

/** geth's keystore file name: UTC--2026-12-07T23-30-05.000Z--<address without 0x>. */
export function keystoreFileName(address: `0x${string}`, now = new Date()): string {
  return `UTC--${now.toISOString().replace(/:/g, '-')}--${address.slice(2).toLowerCase()}`
}

/** A new password: asked twice on a terminal, so a typo does not lock the key away. */
async function newPassword(flags: PasswordFlags): Promise<string> {
  const fromFlagsOrEnv =
    flags.passwordFile !== undefined || process.env[KEY_PASSWORD_ENV] !== undefined
  const password = await resolvePassword(flags, 'the new keystore')
  if (!fromFlagsOrEnv) {
    const again = await promptPassword('Repeat the password: ')
    if (again !== password) {
      throw new KeyFileError('KEY_PASSWORD_MISSING', 'the two passwords differ; nothing written')
    }
  }
  if (password.length === 0) {
    throw new KeyFileError('KEY_PASSWORD_MISSING', 'refusing an empty password; nothing written')
  }
  return password
}

async function writeKeystore(pair: KeyPair, flags: WriteFlags): Promise<string> {
  const password = await newPassword(flags)
  const keystore = await encryptKeystore(
    pair,
    password,
    flags.lightKdf === true ? LIGHT_SCRYPT : STANDARD_SCRYPT,
  )
  mkdirSync(flags.keystoreDir, { recursive: true, mode: 0o700 })
  const file = path.join(flags.keystoreDir, keystoreFileName(pair.addressHex))
  writeKeystoreFile(file, keystore)
  return file
}

function describe(file: string): { address: string | null; kind: string; kdf?: string } {
  const json = readKeyJson(file)
  if (isKeystore(json)) {
    const ks = json as KeystoreV3
    const params = ks.crypto.kdfparams
    const kdf =
      ks.crypto.kdf === 'scrypt'
        ? `scrypt n=${String(params.n)} r=${String(params.r)} p=${String(params.p)}`
        : `${String(ks.crypto.kdf)} c=${String(params.c)}`
    return { address: keystoreAddress(ks), kind: 'keystore v3', kdf }
  }
  const plain = json as { address?: unknown }
  return {
    address: typeof plain.address === 'string' ? plain.address.toLowerCase() : null,
    kind: 'PLAIN-TEXT key (encrypt it with `sidechain account import`)',
  }
}

export function registerAccountCommand(program: Command): void {
  const account = program
    .command('account')
    .description('validator and relayer keys as encrypted V3 keystores (cast, geth, ethers)')

  const addWriteFlags = (command: Command) =>
    command
      .requiredOption('--keystore-dir <dir>', 'folder the keystore is written to (0700)')
      .option(
        '--password-file <file>',
        `file whose first line is the password (else ${KEY_PASSWORD_ENV}, else a prompt)`,
      )
      .option('--light-kdf', 'scrypt n=4096 p=6 instead of n=262144: test networks only')

  addWriteFlags(
    account.command('new').description('create a key and write it as a keystore'),
  ).action(async (flags: WriteFlags) => {
    const privateKey = generatePrivateKey()
    const pair = keyPairFromPrivateKey(Uint8Array.from(Buffer.from(privateKey.slice(2), 'hex')))
    const file = await writeKeystore(pair, flags)
    process.stdout.write(`address ${pair.addressHex}\nkeystore ${file}\n`)
  })

  addWriteFlags(
    account
      .command('import')
      .description(
        'encrypt a plain-text key file ({"privateKey": "0x..."}, as `sidechain genesis` writes) into a keystore',
      )
      .argument('<key-file>', 'the plain-text key file (delete it once imported)'),
  ).action(async (keyFile: string, flags: WriteFlags) => {
    const pair = readKeyFile(keyFile)
    const file = await writeKeystore(pair, flags)
    process.stdout.write(
      `address ${pair.addressHex}\nkeystore ${file}\nthe plain-text file ${keyFile} still holds the key: shred it\n`,
    )
  })

  account
    .command('inspect')
    .description('show the address and encryption of a key file; with a password, check it opens')
    .argument('<file>', 'keystore or plain-text key file')
    .option('--password-file <file>', 'check the password in this file decrypts the keystore')
    .option('--check-password', `check the password (from ${KEY_PASSWORD_ENV} or a prompt)`)
    .action(async (file: string, flags: PasswordFlags & { checkPassword?: boolean }) => {
      const info = describe(file)
      const lines = [
        `file    ${file}`,
        `address ${info.address ?? 'unknown'}`,
        `kind    ${info.kind}`,
      ]
      if (info.kdf !== undefined) lines.push(`kdf     ${info.kdf} (aes-128-ctr)`)
      const mode = statSync(file).mode & 0o777
      lines.push(
        `mode    ${mode.toString(8).padStart(4, '0')}${mode & 0o077 ? ' (readable by others: chmod 600)' : ''}`,
      )
      if (flags.passwordFile !== undefined || flags.checkPassword === true) {
        const json = readKeyJson(file)
        if (!isKeystore(json)) {
          throw new KeyFileError('KEY_FILE_INSECURE', `${file} is not encrypted: nothing to check`)
        }
        const pair = await decryptKeystore(json, await resolvePassword(flags, file), file)
        lines.push(`password opens the keystore (key of ${pair.addressHex})`)
      }
      process.stdout.write(`${lines.join('\n')}\n`)
    })

  account
    .command('list')
    .description('list the keys in a keystore folder')
    .requiredOption('--keystore-dir <dir>', 'keystore folder')
    .action((flags: { keystoreDir: string }) => {
      for (const name of readdirSync(flags.keystoreDir).sort()) {
        const file = path.join(flags.keystoreDir, name)
        if (!statSync(file).isFile()) continue
        let line: string
        try {
          const info = describe(file)
          line = `${info.address ?? 'unknown address'}  ${info.kind}  ${file}`
        } catch {
          line = `not a key file  ${file}`
        }
        process.stdout.write(`${line}\n`)
      }
    })
}
