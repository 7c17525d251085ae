/**
 * Genesis file schema. Validated once at load; errors name the field path and the bad
 * value. Defaults live here, not in code that reads the config.
 */
import { z } from 'zod'
import { GenesisError } from './errors.ts'

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/
const HEX_RE = /^0x([0-9a-fA-F]{2})*$/
const QUANTITY_RE = /^(0x[0-9a-fA-F]+|[0-9]+)$/

export const addressSchema = z
  .string()
  .regex(ADDRESS_RE, 'must be a 0x-prefixed 20-byte hex address')
  .transform((a) => a.toLowerCase() as `0x${string}`)

const hexDataSchema = z
  .string()
  .regex(HEX_RE, 'must be 0x-prefixed hex with an even number of digits')

/** A non-negative integer given as decimal string, 0x-hex string or safe JS number. */
const quantitySchema = z
  .union([
    z.string().regex(QUANTITY_RE, 'must be a decimal or 0x-hex integer'),
    z.number().int().nonnegative(),
  ])
  .transform((v) => BigInt(v))

const storageKeySchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,64}$/, 'storage slot must be 0x-hex of at most 32 bytes')

export const allocAccountSchema = z
  .object({
    balance: quantitySchema.default(0n),
    nonce: quantitySchema.default(0n),
    code: hexDataSchema.optional(),
    storage: z.record(storageKeySchema, storageKeySchema).optional(),
  })
  .strict()

export const HARDFORKS = ['prague', 'osaka'] as const

export const genesisConfigSchema = z
  .object({
    chainId: z
      .number()
      .int()
      .positive()
      .max(2 ** 53 - 1),
    /** The newest hardfork ethereumjs ships as stable: PUSH0, MCOPY, TSTORE, CLZ... */
    hardfork: z.enum(HARDFORKS).default('osaka'),
    blockPeriodMs: z.number().int().min(50).max(60_000).default(1000),
    /** Base of the QBFT round timer: round r lasts base * 2^r, capped at roundTimeoutMaxMs. */
    roundTimeoutMs: z.number().int().min(100).max(600_000).default(2000),
    roundTimeoutMaxMs: z.number().int().min(100).max(3_600_000).default(60_000),
    epochLength: z.number().int().min(1).default(30_000),
    gasLimit: quantitySchema.default(30_000_000n),
    /** EIP-1559 base fee of block 1 and the floor it never drops below (wei). */
    initialBaseFee: quantitySchema.default(100_000_000n),
    baseFeeFloor: quantitySchema.default(100_000_000n),
    /** Upper bound on an encoded transaction (bytes); larger ones are refused. */
    maxTxSize: z
      .number()
      .int()
      .min(1024)
      .max(4 * 1024 * 1024)
      .default(128 * 1024),
  })
  .strict()

export const genesisSchema = z
  .object({
    config: genesisConfigSchema,
    timestamp: quantitySchema.default(0n),
    validators: z.array(addressSchema).min(1, 'at least one validator is required'),
    alloc: z.record(z.string(), allocAccountSchema).default({}),
  })
  .strict()
  .superRefine((genesis, ctx) => {
    const seen = new Set<string>()
    genesis.validators.forEach((validator, i) => {
      if (seen.has(validator)) {
        ctx.addIssue({
          code: 'custom',
          path: ['validators', i],
          message: `duplicate validator ${validator}`,
        })
      }
      seen.add(validator)
    })
    for (const address of Object.keys(genesis.alloc)) {
      if (!ADDRESS_RE.test(address)) {
        ctx.addIssue({
          code: 'custom',
          path: ['alloc', address],
          message: 'alloc key must be a 0x-prefixed 20-byte hex address',
        })
      }
    }
    if (genesis.config.baseFeeFloor > genesis.config.initialBaseFee) {
      ctx.addIssue({
        code: 'custom',
        path: ['config', 'baseFeeFloor'],
        message: 'must not exceed initialBaseFee',
      })
    }
    if (genesis.config.roundTimeoutMaxMs < genesis.config.roundTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['config', 'roundTimeoutMaxMs'],
        message: 'must be at least roundTimeoutMs',
      })
    }
  })

export type GenesisInput = z.input<typeof genesisSchema>
export type Genesis = z.output<typeof genesisSchema>
export type GenesisConfig = Genesis['config']
export type AllocAccount = z.output<typeof allocAccountSchema>

function describeValue(input: unknown, path: readonly PropertyKey[]): string {
  let value: unknown = input
  for (const key of path) {
    if (value === null || typeof value !== 'object') return 'undefined'
    value = (value as Record<PropertyKey, unknown>)[key]
  }
  if (value === undefined) return 'missing'
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** Validates raw genesis JSON; throws GENESIS_INVALID naming every bad field and its value. */
export function parseGenesis(input: unknown, source = 'genesis'): Genesis {
  const result = genesisSchema.safeParse(input)
  if (result.success) return result.data
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || '(root)'
    return { field, message: issue.message, value: describeValue(input, issue.path) }
  })
  // The value that failed is what an operator needs to find the line, so it joins each
  // issue's reason before the one shared formatter lays them out.
  const withValues = new z.ZodError(
    result.error.issues.map((issue, i) => ({
      ...issue,
      message: `${issue.message} (got ${problems[i]?.value})`,
    })),
  )
  throw new GenesisError(
    'GENESIS_INVALID',
    `${source} is invalid:\n${z.prettifyError(withValues)}`,
    {
      details: { problems },
    },
  )
}

/** JSON form of a parsed genesis (bigints as decimal strings), for writing files. */
export function genesisToJson(genesis: Genesis): GenesisInput {
  const quantity = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString())
  return {
    config: {
      ...genesis.config,
      gasLimit: quantity(genesis.config.gasLimit),
      initialBaseFee: quantity(genesis.config.initialBaseFee),
      baseFeeFloor: quantity(genesis.config.baseFeeFloor),
    },
    timestamp: quantity(genesis.timestamp),
    validators: genesis.validators,
    alloc: Object.fromEntries(
      Object.entries(genesis.alloc).map(([address, account]) => [
        address,
        {
          balance: `0x${account.balance.toString(16)}`,
          ...(account.nonce === 0n ? {} : { nonce: quantity(account.nonce) }),
          ...(account.code === undefined ? {} : { code: account.code }),
          ...(account.storage === undefined ? {} : { storage: account.storage }),
        },
      ]),
    ),
  }
}
