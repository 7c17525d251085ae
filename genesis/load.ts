import { readFileSync } from 'node:fs'
import { GenesisError } from './errors.ts'
import { type Genesis, parseGenesis } from './schema.ts'

/** Reads and validates a genesis file; every failure names the file and the field. */
export function loadGenesisFile(path: string): Genesis {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new GenesisError('GENESIS_UNREADABLE', `cannot read genesis file ${path}`, { cause })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new GenesisError(
      'GENESIS_INVALID',
      `${path} is not valid JSON: ${(cause as Error).message}`,
      { cause },
    )
  }
  return parseGenesis(json, path)
}
