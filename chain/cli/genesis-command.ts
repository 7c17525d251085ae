import path from 'node:path'
import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import { createGenesis } from '../../genesis/create.ts'
import { parseIntegerOption } from './options.ts'

function parseFund(value: string, previous: Array<{ address: string; balanceWei: bigint }> = []) {
  const match = /^(0x[0-9a-fA-F]{40})=(\d+(?:\.\d+)?)$/.exec(value)
  if (match === null)
    throw new InvalidArgumentError('--fund takes ADDRESS=ETHER, e.g. 0xabc...=1000')
  const [whole, fraction = ''] = match[2]!.split('.')
  if (fraction.length > 18)
    throw new InvalidArgumentError('--fund amount has more than 18 decimals')
  const balanceWei = BigInt(whole!) * 10n ** 18n + BigInt(fraction.padEnd(18, '0'))
  return [...previous, { address: match[1]!, balanceWei }]
}

function parseAddress(value: string, previous: string[] = []) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value))
    throw new InvalidArgumentError(`${value} is not a 0x-prefixed 20-byte address`)
  return [...previous, value.toLowerCase()]
}

export function registerGenesisCommand(program: Command): void {
  program
    .command('genesis')
    .description('write a genesis file and new validator key files (0600) into a folder')
    .requiredOption('--out <dir>', 'folder for genesis.json and validator-N.key')
    .option(
      '--validators <n>',
      'number of new validator keys to generate',
      parseIntegerOption('--validators', 0, 100),
      1,
    )
    .option(
      '--validator-address <address>',
      'include an existing validator (repeatable)',
      parseAddress,
    )
    .option('--fund <address=ether>', 'fund an account in genesis (repeatable)', parseFund)
    .option('--chain-id <id>', 'chain id', parseIntegerOption('--chain-id', 1, 2 ** 32), 1337)
    .option(
      '--block-period <ms>',
      'block period in milliseconds',
      parseIntegerOption('--block-period', 50, 60_000),
      1000,
    )
    .action(
      (opts: {
        out: string
        validators: number
        validatorAddress?: string[]
        fund?: Array<{ address: string; balanceWei: bigint }>
        chainId: number
        blockPeriod: number
      }) => {
        const created = createGenesis({
          outDir: path.resolve(opts.out),
          chainId: opts.chainId,
          newValidators: opts.validators,
          validatorAddresses: opts.validatorAddress,
          fund: opts.fund,
          blockPeriodMs: opts.blockPeriod,
        })
        process.stdout.write(`genesis: ${created.genesisPath}\n`)
        for (const { path: keyPath, keyPair } of created.validatorKeys) {
          process.stdout.write(`validator ${keyPair.addressHex}: ${keyPath}\n`)
        }
      },
    )
}
