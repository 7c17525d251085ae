/**
 * Loading a signing key at start, the one policy for validators (`--validator-key`) and
 * relayers (`keyFile`): a V3 keystore is decrypted with a password from, in this order, a
 * password file, the SIDECHAIN_KEY_PASSWORD environment variable, or a prompt when stdin is
 * a terminal (never echoed; SIDECHAIN_KEY_PASSWORD_FILE names a password file, for Docker
 * secrets); a plain-text key file is refused unless the operator said so
 * (`--insecure-key`, Polygon Edge's `--insecure`): a key sitting in clear on a disk is the
 * easiest key to steal. The password is never taken from a command-line argument, where any
 * user of the machine could read it in the process list.
 */
import { readFileSync } from 'node:fs'
import { KeyFileError, type KeyPair, readKeyFile } from './keys.ts'
import { decryptKeystore, isKeystore, readKeyJson } from './keystore.ts'

export const KEY_PASSWORD_ENV = 'SIDECHAIN_KEY_PASSWORD'
/** A file holding the password (Docker's `_FILE` convention: the entrypoint points it at a secret). */
export const KEY_PASSWORD_FILE_ENV = 'SIDECHAIN_KEY_PASSWORD_FILE'

export interface PasswordSource {
  /** a file whose first line is the password (a Docker secret, a file only the operator reads) */
  passwordFile?: string
  /** where to look for SIDECHAIN_KEY_PASSWORD (default: process.env) */
  env?: Record<string, string | undefined>
  /** ask on the terminal when stdin is one (default true) */
  prompt?: boolean
}

export interface LoadKeyOptions extends PasswordSource {
  /** accept a plain-text `{address, privateKey}` key file */
  insecureKey?: boolean
  /** how the operator allows plain keys, named in the refusal (e.g. "--insecure-key") */
  insecureFlag: string
}

/** Reads a password file: its first line, without the line end (as geth's --password). */
export function readPasswordFile(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new KeyFileError('KEY_PASSWORD_MISSING', `cannot read password file ${file}`, {
      details: { path: file },
      cause,
    })
  }
  return text.split(/\r?\n/)[0] ?? ''
}

/** Reads a line from the terminal without echoing it. */
export function promptPassword(question: string): Promise<string> {
  const stdin = process.stdin
  return new Promise((resolve, reject) => {
    process.stderr.write(question)
    let password = ''
    const wasRaw = stdin.isRaw
    stdin.setRawMode(true)
    stdin.resume()
    stdin.setEncoding('utf8')
    const done = (err?: Error) => {
      stdin.setRawMode(wasRaw)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(password)
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done()
        if (ch === '\u0003') {
          return done(new KeyFileError('KEY_PASSWORD_MISSING', 'password prompt interrupted'))
        }
        if (ch === '\u007f' || ch === '\b') password = password.slice(0, -1)
        else password += ch
      }
    }
    stdin.on('data', onData)
  })
}

/** The password of a keystore, from the first source that has one. */
export async function resolvePassword(source: PasswordSource, what: string): Promise<string> {
  if (source.passwordFile !== undefined) return readPasswordFile(source.passwordFile)
  const env = source.env ?? process.env
  const fromEnv = env[KEY_PASSWORD_ENV]
  if (fromEnv !== undefined) return fromEnv
  const envFile = env[KEY_PASSWORD_FILE_ENV]
  if (envFile !== undefined && envFile.length > 0) return readPasswordFile(envFile)
  if ((source.prompt ?? true) && process.stdin.isTTY === true) {
    return await promptPassword(`Password for ${what}: `)
  }
  throw new KeyFileError(
    'KEY_PASSWORD_MISSING',
    `${what} is an encrypted keystore and no password was given: use --password-file, ${KEY_PASSWORD_ENV}, or run on a terminal`,
    { details: { path: what } },
  )
}

/**
 * Loads the key of a key file: a keystore (decrypted) or, only with `insecureKey`, a plain
 * key file. Throws KeyFileError: KEY_FILE_INSECURE (plain key refused), KEY_PASSWORD_MISSING,
 * KEY_FILE_WRONG_PASSWORD, KEY_FILE_INVALID; none of them carries key material.
 */
export async function loadKey(path: string, options: LoadKeyOptions): Promise<KeyPair> {
  const json = readKeyJson(path)
  if (isKeystore(json)) {
    const password = await resolvePassword(options, path)
    return await decryptKeystore(json, password, path)
  }
  if (options.insecureKey !== true) {
    throw new KeyFileError(
      'KEY_FILE_INSECURE',
      `${path} is a plain-text key: encrypt it (sidechain account import --insecure-key-file ${path}) or pass ${options.insecureFlag} to use it anyway`,
      { details: { path } },
    )
  }
  return readKeyFile(path)
}
