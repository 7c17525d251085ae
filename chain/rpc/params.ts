/**
 * Parameter validation at the edge. Every RPC method declares its parameters as a tuple of
 * `Param`s; the handler parses the raw JSON values with them before the method runs, so
 * methods receive typed values and every refusal is a -32602 naming the argument
 * ("invalid argument 1 (slot): hex string of 33 bytes, want at most 32").
 *
 * The formats follow the Ethereum JSON-RPC spec (EIP-1474): QUANTITY is 0x-hex without
 * leading zeros, DATA is 0x-hex with an even number of digits. Where geth is more lenient
 * in a way real tools depend on (storage slots as quantities, block counts as decimals,
 * a bare block hash as block parameter) we accept what geth accepts.
 */
import { Address } from '@ethereumjs/util'
import type {
  AccessListEntry,
  AccountOverride,
  AuthorizationEntry,
  BlockOverrides,
  CallRequest,
  StateOverrides,
} from '../execution/simulation/request.ts'

// The call and override shapes belong to the simulation that runs them; parsed here.
export type {
  AccessListEntry,
  AccountOverride,
  AuthorizationEntry,
  BlockOverrides,
  CallRequest,
  StateOverrides,
}

/** Thrown by parsers; the handler prefixes the argument position and name. */
export class ParamError extends Error {
  override readonly name = 'ParamError'
}

export interface Param<T> {
  readonly name: string
  readonly optional: boolean
  parse(value: unknown): T
}

export type ParamValues<S extends readonly Param<unknown>[]> = {
  -readonly [K in keyof S]: S[K] extends Param<infer T> ? T : never
}

export type Hex = `0x${string}`

function fail(message: string): never {
  throw new ParamError(message)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'string')
    return value.length > 20 ? `string "${value.slice(0, 17)}..."` : `string "${value}"`
  return typeof value
}

export function param<T>(name: string, parse: (value: unknown) => T): Param<T> {
  return { name, optional: false, parse }
}

/** Absent or null means `undefined` (geth treats a null optional argument as missing). */
export function optional<T>(p: Param<T>): Param<T | undefined> {
  return {
    name: p.name,
    optional: true,
    parse: (v) => (v === undefined || v === null ? undefined : p.parse(v)),
  }
}

export function withDefault<T>(p: Param<T>, fallback: T): Param<T> {
  return {
    name: p.name,
    optional: true,
    parse: (v) => (v === undefined || v === null ? fallback : p.parse(v)),
  }
}

// ------------------------------------------------------------------ primitive parsers

const HEX_DIGITS = /^[0-9a-fA-F]*$/

function hexBody(value: unknown, what: string): string {
  if (typeof value !== 'string')
    fail(`expected ${what} as a 0x-prefixed hex string, got ${describe(value)}`)
  if (!value.startsWith('0x') && !value.startsWith('0X')) fail(`hex string without 0x prefix`)
  const body = value.slice(2)
  if (!HEX_DIGITS.test(body)) fail(`invalid hex string`)
  return body
}

/** QUANTITY: 0x-hex, no leading zeros, at most `bits` bits. */
export function parseQuantity(value: unknown, bits = 256): bigint {
  const body = hexBody(value, 'a quantity')
  if (body.length === 0) fail('hex string "0x" is empty, want a quantity such as "0x0"')
  if (body.length > 1 && body[0] === '0') fail('hex number with leading zero digits')
  if (body.length > Math.ceil(bits / 4)) fail(`hex number > ${bits} bits`)
  return BigInt(`0x${body}`)
}

/** DATA: 0x-hex with an even number of digits, optionally of an exact/maximum byte length. */
export function parseData(
  value: unknown,
  opts: { length?: number; maxLength?: number; what?: string } = {},
): Uint8Array {
  const body = hexBody(value, opts.what ?? 'data')
  if (body.length % 2 !== 0) fail('hex string has odd length')
  const length = body.length / 2
  if (opts.length !== undefined && length !== opts.length) {
    fail(
      `hex string has length ${length} bytes, want ${opts.length} for ${opts.what ?? 'this value'}`,
    )
  }
  if (opts.maxLength !== undefined && length > opts.maxLength) {
    fail(`hex string of ${length} bytes exceeds the limit of ${opts.maxLength} bytes`)
  }
  return Buffer.from(body, 'hex')
}

export function parseAddress(value: unknown): Address {
  return new Address(parseData(value, { length: 20, what: 'an address' }))
}

export function parseHash(value: unknown): Uint8Array {
  return parseData(value, { length: 32, what: 'a 32-byte hash' })
}

/** A storage slot: up to 32 bytes of hex; odd lengths are accepted as quantities (geth, alloy send "0x0"). */
export function parseStorageSlot(value: unknown): Uint8Array {
  const body = hexBody(value, 'a storage slot')
  if (body.length === 0) fail('hex string "0x" is empty, want a storage slot')
  if (body.length > 64) fail(`storage slot of ${Math.ceil(body.length / 2)} bytes, want at most 32`)
  return Buffer.from(body.padStart(64, '0'), 'hex')
}

export function parseBoolean(value: unknown): boolean {
  if (typeof value !== 'boolean') fail(`expected a boolean, got ${describe(value)}`)
  return value
}

/** A non-negative integer given as QUANTITY or as a JSON number (geth's HexOrDecimal64). */
export function parseCount(value: unknown, max: number): number {
  let n: bigint
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0)
      fail(`expected a non-negative integer, got ${value}`)
    n = BigInt(value)
  } else if (typeof value === 'string' && /^[0-9]+$/.test(value)) {
    n = BigInt(value)
  } else {
    n = parseQuantity(value, 64)
  }
  if (n > BigInt(max)) fail(`${n} exceeds the maximum of ${max}`)
  return Number(n)
}

function parseObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    fail(`expected ${what} object, got ${describe(value)}`)
  return value as Record<string, unknown>
}

/** Runs `parse` on a field, prefixing errors with the field name. */
function field<T>(
  obj: Record<string, unknown>,
  key: string,
  parse: (v: unknown) => T,
): T | undefined {
  const value = obj[key]
  if (value === undefined || value === null) return undefined
  try {
    return parse(value)
  } catch (err) {
    if (err instanceof ParamError) fail(`field "${key}": ${err.message}`)
    throw err
  }
}

// ------------------------------------------------------------------ blocks

export const BLOCK_TAGS = ['latest', 'pending', 'earliest', 'safe', 'finalized'] as const
export type BlockTag = (typeof BLOCK_TAGS)[number]

/** A block by tag or number (eth_getBlockByNumber, filters). */
export type BlockRef = { kind: 'tag'; tag: BlockTag } | { kind: 'number'; number: bigint }
/** EIP-1898: also by hash. */
export type BlockId = BlockRef | { kind: 'hash'; hash: Uint8Array; requireCanonical: boolean }

export function parseBlockRef(value: unknown): BlockRef {
  if (typeof value === 'string' && (BLOCK_TAGS as readonly string[]).includes(value)) {
    return { kind: 'tag', tag: value as BlockTag }
  }
  if (typeof value !== 'string') fail(`expected a block number or tag, got ${describe(value)}`)
  if (!value.startsWith('0x'))
    fail(
      `invalid block tag "${value.slice(0, 20)}", want latest, pending, earliest, safe, finalized or a 0x quantity`,
    )
  return { kind: 'number', number: parseQuantity(value, 64) }
}

export function parseBlockId(value: unknown): BlockId {
  if (typeof value === 'string' && value.length === 66 && value.startsWith('0x')) {
    return { kind: 'hash', hash: parseHash(value), requireCanonical: false }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>
    const hash = field(obj, 'blockHash', parseHash)
    const number = field(obj, 'blockNumber', parseBlockRef)
    if (hash !== undefined && number !== undefined)
      fail('cannot specify both blockHash and blockNumber')
    if (hash !== undefined) {
      return {
        kind: 'hash',
        hash,
        requireCanonical: field(obj, 'requireCanonical', parseBoolean) ?? false,
      }
    }
    if (number !== undefined) return number
    fail('block object needs blockHash or blockNumber')
  }
  return parseBlockRef(value)
}

// ------------------------------------------------------------------ transactions and calls

function parseAccessList(value: unknown): AccessListEntry[] {
  if (!Array.isArray(value)) fail(`expected an array, got ${describe(value)}`)
  return value.map((item, i) => {
    try {
      const obj = parseObject(item, 'an access list entry')
      const address = field(obj, 'address', parseAddress)
      if (address === undefined) fail('missing address')
      const keys = field(obj, 'storageKeys', (v) => {
        if (!Array.isArray(v)) fail(`expected an array, got ${describe(v)}`)
        return v.map((k) => parseHash(k))
      })
      return { address: address.bytes, storageKeys: keys ?? [] }
    } catch (err) {
      if (err instanceof ParamError) fail(`entry ${i}: ${err.message}`)
      throw err
    }
  })
}

function parseAuthorizationList(value: unknown): AuthorizationEntry[] {
  if (!Array.isArray(value)) fail(`expected an array, got ${describe(value)}`)
  return value.map((item, i) => {
    try {
      const obj = parseObject(item, 'an authorization')
      const need = <T>(key: string, parse: (v: unknown) => T): T => {
        const v = field(obj, key, parse)
        if (v === undefined) fail(`missing ${key}`)
        return v
      }
      return {
        chainId: need('chainId', (v) => parseQuantity(v)),
        address: need('address', parseAddress).bytes,
        nonce: need('nonce', (v) => parseQuantity(v, 64)),
        yParity: need('yParity', (v) => parseQuantity(v, 8)),
        r: need('r', (v) => parseQuantity(v)),
        s: need('s', (v) => parseQuantity(v)),
      }
    } catch (err) {
      if (err instanceof ParamError) fail(`authorization ${i}: ${err.message}`)
      throw err
    }
  })
}

export function parseCallRequest(value: unknown): CallRequest {
  const obj = parseObject(value, 'a transaction')
  const quantity = (bits: number) => (v: unknown) => parseQuantity(v, bits)
  const data = field(obj, 'data', (v) => parseData(v))
  const input = field(obj, 'input', (v) => parseData(v))
  if (data !== undefined && input !== undefined && Buffer.compare(data, input) !== 0) {
    fail(
      'both "data" and "input" are set and not equal; please use "input" to pass transaction call data',
    )
  }
  const request: CallRequest = {
    from: field(obj, 'from', parseAddress),
    to: field(obj, 'to', parseAddress),
    gas: field(obj, 'gas', quantity(64)),
    gasPrice: field(obj, 'gasPrice', quantity(256)),
    maxFeePerGas: field(obj, 'maxFeePerGas', quantity(256)),
    maxPriorityFeePerGas: field(obj, 'maxPriorityFeePerGas', quantity(256)),
    value: field(obj, 'value', quantity(256)),
    data: input ?? data,
    nonce: field(obj, 'nonce', quantity(64)),
    accessList: field(obj, 'accessList', parseAccessList),
    authorizationList: field(obj, 'authorizationList', parseAuthorizationList),
    type: field(obj, 'type', (v) => Number(parseQuantity(v, 8))),
    chainId: field(obj, 'chainId', quantity(64)),
  }
  if (
    request.gasPrice !== undefined &&
    (request.maxFeePerGas !== undefined || request.maxPriorityFeePerGas !== undefined)
  ) {
    fail('both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified')
  }
  if (
    request.maxFeePerGas !== undefined &&
    request.maxPriorityFeePerGas !== undefined &&
    request.maxPriorityFeePerGas > request.maxFeePerGas
  ) {
    fail(
      `maxPriorityFeePerGas (${request.maxPriorityFeePerGas}) bigger than maxFeePerGas (${request.maxFeePerGas})`,
    )
  }
  for (const key of ['blobVersionedHashes', 'blobs', 'maxFeePerBlobGas'] as const) {
    if (obj[key] !== undefined && obj[key] !== null)
      fail(`blob transactions are not supported (field "${key}")`)
  }
  return request
}

// ------------------------------------------------------------------ overrides

function parseSlots(value: unknown): Array<[Uint8Array, Uint8Array]> {
  const obj = parseObject(value, 'a storage')
  return Object.entries(obj).map(([key, v]) => {
    let slot: Uint8Array
    try {
      slot = parseHash(key)
    } catch (err) {
      if (err instanceof ParamError) fail(`storage key ${key.slice(0, 70)}: ${err.message}`)
      throw err
    }
    try {
      return [slot, parseHash(v)]
    } catch (err) {
      if (err instanceof ParamError) fail(`storage value of ${key}: ${err.message}`)
      throw err
    }
  })
}

export function parseStateOverrides(value: unknown): StateOverrides {
  const obj = parseObject(value, 'a state override')
  const entries = Object.entries(obj)
  if (entries.length > 1000) fail('more than 1000 accounts overridden')
  return entries.map(([key, raw]) => {
    let address: Address
    try {
      address = parseAddress(key)
    } catch (err) {
      if (err instanceof ParamError) fail(`account ${key.slice(0, 50)}: ${err.message}`)
      throw err
    }
    try {
      const o = parseObject(raw, 'an account override')
      const override: AccountOverride = {
        balance: field(o, 'balance', (v) => parseQuantity(v)),
        nonce: field(o, 'nonce', (v) => parseQuantity(v, 64)),
        code: field(o, 'code', (v) => parseData(v)),
        state: field(o, 'state', parseSlots),
        stateDiff: field(o, 'stateDiff', parseSlots),
      }
      if (override.state !== undefined && override.stateDiff !== undefined)
        fail('both "state" and "stateDiff" are set')
      return [address, override] as [Address, AccountOverride]
    } catch (err) {
      if (err instanceof ParamError) fail(`account ${key}: ${err.message}`)
      throw err
    }
  })
}

export function parseBlockOverrides(value: unknown): BlockOverrides {
  const o = parseObject(value, 'a block override')
  return {
    number: field(o, 'number', (v) => parseQuantity(v, 64)),
    time: field(o, 'time', (v) => parseQuantity(v, 64)),
    gasLimit: field(o, 'gasLimit', (v) => parseQuantity(v, 64)),
    feeRecipient: field(o, 'feeRecipient', parseAddress),
    prevRandao: field(o, 'prevRandao', parseHash),
    baseFeePerGas: field(o, 'baseFeePerGas', (v) => parseQuantity(v)),
  }
}

// ------------------------------------------------------------------ logs

export interface LogFilter {
  fromBlock?: BlockRef
  toBlock?: BlockRef
  blockHash?: Uint8Array
  /** Empty = any address. Lowercase 0x hex. */
  addresses: string[]
  /** Per position: undefined = wildcard, else any of these (lowercase 0x hex). */
  topics: Array<string[] | undefined>
}

export const MAX_FILTER_ADDRESSES = 1000
const MAX_TOPIC_ALTERNATIVES = 1000

export function parseLogFilter(value: unknown): LogFilter {
  const obj = parseObject(value, 'a filter')
  const blockHash = field(obj, 'blockHash', parseHash)
  const fromBlock = field(obj, 'fromBlock', parseBlockRef)
  const toBlock = field(obj, 'toBlock', parseBlockRef)
  if (blockHash !== undefined && (fromBlock !== undefined || toBlock !== undefined)) {
    fail('cannot specify both blockHash and fromBlock/toBlock, choose one or the other')
  }
  const addresses =
    field(obj, 'address', (v) => {
      const list = Array.isArray(v) ? v : [v]
      if (list.length > MAX_FILTER_ADDRESSES) fail(`more than ${MAX_FILTER_ADDRESSES} addresses`)
      return list.map((a, i) => {
        try {
          return parseAddress(a).toString()
        } catch (err) {
          if (err instanceof ParamError && Array.isArray(v)) fail(`address ${i}: ${err.message}`)
          throw err
        }
      })
    }) ?? []
  const topics =
    field(obj, 'topics', (v) => {
      if (!Array.isArray(v)) fail(`expected an array of topics, got ${describe(v)}`)
      if (v.length > 4) fail(`too many topic positions (${v.length}), want at most 4`)
      return v.map((position, i): string[] | undefined => {
        try {
          if (position === null) return undefined
          if (Array.isArray(position)) {
            if (position.length > MAX_TOPIC_ALTERNATIVES)
              fail(`more than ${MAX_TOPIC_ALTERNATIVES} alternatives`)
            // A null inside the alternatives matches anything (geth).
            if (position.some((t) => t === null)) return undefined
            if (position.length === 0) return undefined
            return position
              .map((t) => Buffer.from(parseHash(t)).toString('hex'))
              .map((h) => `0x${h}`)
          }
          return [`0x${Buffer.from(parseHash(position)).toString('hex')}`]
        } catch (err) {
          if (err instanceof ParamError) fail(`topic ${i}: ${err.message}`)
          throw err
        }
      })
    }) ?? []
  return { fromBlock, toBlock, blockHash, addresses, topics }
}

// ------------------------------------------------------------------ tracing

export interface TraceConfig {
  tracer?: 'callTracer' | 'structLogger'
  onlyTopCall: boolean
  withLog: boolean
  disableStack: boolean
  disableStorage: boolean
  enableMemory: boolean
  enableReturnData: boolean
  limit: number
  timeoutMs?: number
  stateOverrides?: StateOverrides
  blockOverrides?: BlockOverrides
}

/** Go duration strings as used by geth's `timeout` ("5s", "300ms", "1m30s"). */
export function parseDuration(value: unknown): number {
  if (typeof value !== 'string')
    fail(`expected a duration string such as "10s", got ${describe(value)}`)
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy
  let total = 0
  let matched = 0
  for (const m of value.matchAll(re)) {
    matched += m[0].length
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']
    total += Number(m[1]) * unit
  }
  if (matched !== value.length || value.length === 0)
    fail(`invalid duration "${value.slice(0, 20)}"`)
  return total
}

export function parseTraceConfig(value: unknown, withOverrides: boolean): TraceConfig {
  const o = parseObject(value, 'a tracer config')
  const tracer = field(o, 'tracer', (v) => {
    if (typeof v !== 'string') fail(`expected a tracer name, got ${describe(v)}`)
    if (v === '' || v === 'structLogger') return 'structLogger' as const
    if (v === 'callTracer') return 'callTracer' as const
    fail(`unsupported tracer "${v.slice(0, 40)}", want callTracer or the default struct logger`)
  })
  const tracerConfig = field(o, 'tracerConfig', (v) => parseObject(v, 'a tracerConfig')) ?? {}
  const config: TraceConfig = {
    tracer,
    onlyTopCall: field(tracerConfig, 'onlyTopCall', parseBoolean) ?? false,
    withLog: field(tracerConfig, 'withLog', parseBoolean) ?? false,
    disableStack: field(o, 'disableStack', parseBoolean) ?? false,
    disableStorage: field(o, 'disableStorage', parseBoolean) ?? false,
    enableMemory: field(o, 'enableMemory', parseBoolean) ?? false,
    enableReturnData: field(o, 'enableReturnData', parseBoolean) ?? false,
    limit: field(o, 'limit', (v) => parseCount(v, Number.MAX_SAFE_INTEGER)) ?? 0,
    timeoutMs: field(o, 'timeout', parseDuration),
  }
  if (withOverrides) {
    config.stateOverrides = field(o, 'stateOverrides', parseStateOverrides)
    config.blockOverrides = field(o, 'blockOverrides', parseBlockOverrides)
  }
  return config
}

// ------------------------------------------------------------------ Param constructors

export const p = {
  quantity: (name: string, bits = 256) => param(name, (v) => parseQuantity(v, bits)),
  data: (name: string, maxLength?: number) => param(name, (v) => parseData(v, { maxLength })),
  address: (name: string) => param(name, parseAddress),
  hash: (name: string) => param(name, parseHash),
  storageSlot: (name: string) => param(name, parseStorageSlot),
  boolean: (name: string) => param(name, parseBoolean),
  count: (name: string, max: number) => param(name, (v) => parseCount(v, max)),
  blockRef: (name: string) => param(name, parseBlockRef),
  blockId: (name: string) => param(name, parseBlockId),
  callRequest: (name: string) => param(name, parseCallRequest),
  stateOverrides: (name: string) => param(name, parseStateOverrides),
  blockOverrides: (name: string) => param(name, parseBlockOverrides),
  logFilter: (name: string) => param(name, parseLogFilter),
  traceConfig: (name: string, withOverrides: boolean) =>
    param(name, (v) => parseTraceConfig(v, withOverrides)),
  string: (name: string, maxLength = 256) =>
    param(name, (v) => {
      if (typeof v !== 'string') fail(`expected a string, got ${describe(v)}`)
      if (v.length > maxLength) fail(`string longer than ${maxLength} characters`)
      return v
    }),
  percentiles: (name: string) =>
    param(name, (v) => {
      if (!Array.isArray(v)) fail(`expected an array of percentiles, got ${describe(v)}`)
      if (v.length > 100) fail('more than 100 percentiles')
      let previous = -1
      return v.map((x, i) => {
        if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 100) {
          fail(`percentile ${i} must be a number between 0 and 100, got ${describe(x)}`)
        }
        if (x < previous) fail(`percentiles must be in ascending order (${previous} then ${x})`)
        previous = x
        return x
      })
    }),
  /** Any JSON value, for methods that validate by themselves (eth_subscribe). */
  any: (name: string) => param(name, (v) => v),
}
