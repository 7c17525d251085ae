/**
 * Transport-independent JSON-RPC 2.0 dispatch: a registry of namespace modules, request
 * and batch validation, parameter parsing at the edge, and error mapping. The HTTP/WS
 * server (transport.ts) hands it raw message text; tests and in-process callers can call
 * `handleValue` / `call` directly.
 *
 * Registering a namespace (e.g. the QBFT work adding `qbft_*`):
 *
 *   rpc.handler.register({
 *     namespace: 'qbft',
 *     methods: {
 *       getValidatorsByBlockNumber: defineMethod([p.blockRef('block')], async ([block]) => ...),
 *     },
 *   })
 *
 * Methods are `${namespace}_${name}`; parameters are declared as a tuple of `Param`s
 * (params.ts), so `run` receives typed, validated values. Throw `RpcError` for a specific
 * JSON-RPC error; domain errors are mapped in errors.ts; anything else is -32603.
 */
import type { Logger } from 'pino'
import type { RpcMetrics } from '../metrics/events.ts'
import { RPC_ERROR, RpcError, toRpcError } from './errors.ts'
import { type Param, ParamError, type ParamValues } from './params.ts'

/** A long-lived client connection (WebSocket) that can receive notifications. */
export interface RpcConnection {
  readonly id: string
  readonly closed: boolean
  notify(method: string, params: unknown): void
  onClose(listener: () => void): void
}

export interface RpcCallContext {
  transport: 'http' | 'ws' | 'internal'
  /** Present on WebSocket calls: subscriptions live on it. */
  connection?: RpcConnection
  remoteAddress?: string
}

export interface RpcMethod {
  readonly params: readonly Param<unknown>[]
  /**
   * The `--rpc-api` entry that serves this method when it is not its namespace: the
   * `qbft_` votes change the validator set, so they need `admin` while the rest of `qbft_`
   * only reads consensus status.
   */
  readonly api?: string
  run(args: unknown[], ctx: RpcCallContext): unknown
}

export interface RpcModule {
  namespace: string
  methods: Record<string, RpcMethod>
}

// biome-ignore lint/suspicious/noExplicitAny: the tuple element type is inferred per method
export function defineMethod<const S extends readonly Param<any>[]>(
  params: S,
  run: (args: ParamValues<S>, ctx: RpcCallContext) => unknown,
  options: { api?: string } = {},
): RpcMethod {
  return {
    params,
    run: run as RpcMethod['run'],
    ...(options.api === undefined ? {} : { api: options.api }),
  }
}

export type JsonRpcId = string | number | null

export interface JsonRpcResponse {
  jsonrpc: '2.0'
  id: JsonRpcId
  result?: unknown
  error?: { code: number; message: string; data?: unknown }
}

export interface RpcHandlerOptions {
  /** Maximum number of requests in one batch. */
  maxBatchLength: number
  /**
   * Bytes of one answer text (all of a batch's answers); absent: unbounded. Past it, the
   * remaining requests of a batch are not run and answer -32003.
   */
  maxResponseBytes?: number
  /**
   * Namespaces served to HTTP and WebSocket callers; absent: all. `rpc_` is always served
   * and in-process callers (`transport: 'internal'`) are not gated.
   */
  apis?: readonly string[]
}

const METHOD_NAME = /^[a-zA-Z][a-zA-Z0-9]*_[a-zA-Z][a-zA-Z0-9]*$/

function errorResponse(id: JsonRpcId, error: RpcError): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: error.toJSON() }
}

function isValidId(id: unknown): id is JsonRpcId {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

function responseTooLarge(max: number): RpcError {
  return new RpcError(
    RPC_ERROR.RESPONSE_TOO_LARGE,
    `response too large: answers exceed the limit of ${max} bytes`,
  )
}

/** Id of a batch item that expects an answer (undefined: a notification or not a request). */
function requestId(item: unknown): JsonRpcId | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return null
  if (!('id' in item)) return undefined
  const id = (item as { id: unknown }).id
  return isValidId(id) ? id : null
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value
}

export class RpcHandler {
  private readonly options: RpcHandlerOptions
  private readonly logger: Logger | undefined
  private readonly metrics: RpcMetrics | null
  private readonly methods = new Map<string, RpcMethod>()
  private readonly apis: ReadonlySet<string> | undefined

  constructor(
    options: RpcHandlerOptions,
    modules: { logger?: Logger; metrics?: RpcMetrics | null } = {},
  ) {
    this.options = options
    this.logger = modules.logger
    this.metrics = modules.metrics ?? null
    this.apis = options.apis === undefined ? undefined : new Set([...options.apis, 'rpc'])
  }

  /** Is `namespace` served to remote callers? */
  serves(namespace: string): boolean {
    return this.apis === undefined || this.apis.has(namespace)
  }

  /** Adds every method of `module` as `${namespace}_${name}`; refuses duplicates. */
  register(module: RpcModule): void {
    const names = Object.keys(module.methods).map((name) => `${module.namespace}_${name}`)
    for (const name of names) {
      if (!METHOD_NAME.test(name)) throw new Error(`invalid RPC method name ${name}`)
      if (this.methods.has(name)) throw new Error(`RPC method ${name} is already registered`)
    }
    for (const [name, method] of Object.entries(module.methods))
      this.methods.set(`${module.namespace}_${name}`, method)
  }

  /** Removes every method of a namespace (tests, optional features switched off). */
  unregister(namespace: string): void {
    for (const name of [...this.methods.keys()])
      if (name.startsWith(`${namespace}_`)) this.methods.delete(name)
  }

  has(method: string): boolean {
    return this.methods.has(method)
  }

  /** Parameters of a method (introspection for docs and fuzzing). */
  describeParams(method: string): Array<{ name: string; optional: boolean }> | undefined {
    return this.methods
      .get(method)
      ?.params.map((param) => ({ name: param.name, optional: param.optional }))
  }

  methodNames(): string[] {
    return [...this.methods.keys()].sort()
  }

  /** Namespaces with at least one registered method (served or not). */
  namespaces(): string[] {
    return [...new Set([...this.methods.keys()].map((m) => m.slice(0, m.indexOf('_'))))].sort()
  }

  /** Namespaces remote callers can use (rpc_modules). */
  servedNamespaces(): string[] {
    return this.namespaces().filter((ns) => this.serves(ns))
  }

  /**
   * Handles one raw message (a request or a batch). Returns the response text, or
   * undefined when nothing must be sent back (only notifications).
   */
  async handleText(text: string, ctx: RpcCallContext): Promise<string | undefined> {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return this.serialize(
        errorResponse(null, new RpcError(RPC_ERROR.PARSE, 'parse error: invalid JSON')),
      )
    }
    if (Array.isArray(value) && value.length > 0 && value.length <= this.options.maxBatchLength)
      return this.handleBatchText(value, ctx)
    const response = await this.handleValue(value, ctx)
    if (response === undefined) return undefined
    const answer = this.serialize(response)
    const max = this.options.maxResponseBytes
    if (max === undefined || Buffer.byteLength(answer) <= max || Array.isArray(response))
      return answer
    return this.serialize(errorResponse((response as JsonRpcResponse).id, responseTooLarge(max)))
  }

  /**
   * A batch answered as text, request by request, so that the answers never hold more than
   * the response cap: once the next answer would pass it, the rest are not run and each
   * answers -32003 (as geth does), instead of building an answer that exhausts memory.
   */
  private async handleBatchText(
    batch: unknown[],
    ctx: RpcCallContext,
  ): Promise<string | undefined> {
    const max = this.options.maxResponseBytes ?? Number.POSITIVE_INFINITY
    const parts: string[] = []
    let bytes = 2
    let full = false
    for (const item of batch) {
      if (full) {
        const id = requestId(item)
        if (id === undefined) continue
        parts.push(this.serialize(errorResponse(id, responseTooLarge(max))))
        continue
      }
      // Sequential on purpose: deterministic order of side effects (nonce-ordered sends) and
      // one batch cannot monopolize the node with parallel executions.
      const response = await this.handleRequest(item, ctx)
      if (response === undefined) continue
      const text = this.serialize(response)
      const size = Buffer.byteLength(text) + 1
      if (bytes + size > max) {
        full = true
        parts.push(this.serialize(errorResponse(response.id, responseTooLarge(max))))
        continue
      }
      bytes += size
      parts.push(text)
    }
    return parts.length === 0 ? undefined : `[${parts.join(',')}]`
  }

  async handleValue(
    value: unknown,
    ctx: RpcCallContext,
  ): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    if (!Array.isArray(value)) return this.handleRequest(value, ctx)
    if (value.length === 0)
      return errorResponse(
        null,
        new RpcError(RPC_ERROR.INVALID_REQUEST, 'invalid request: empty batch'),
      )
    if (value.length > this.options.maxBatchLength) {
      return errorResponse(
        null,
        new RpcError(
          RPC_ERROR.INVALID_REQUEST,
          `batch of ${value.length} requests exceeds the limit of ${this.options.maxBatchLength}`,
        ),
      )
    }
    const responses: JsonRpcResponse[] = []
    // Sequential on purpose: deterministic order of side effects (nonce-ordered sends) and
    // one batch cannot monopolize the node with parallel executions.
    for (const item of value) {
      const response = await this.handleRequest(item, ctx)
      if (response !== undefined) responses.push(response)
    }
    return responses.length === 0 ? undefined : responses
  }

  async handleRequest(request: unknown, ctx: RpcCallContext): Promise<JsonRpcResponse | undefined> {
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      return errorResponse(
        null,
        new RpcError(
          RPC_ERROR.INVALID_REQUEST,
          'invalid request: expected a JSON-RPC request object',
        ),
      )
    }
    const { jsonrpc, method, params, id } = request as Record<string, unknown>
    const isNotification = !('id' in request)
    if (!isNotification && !isValidId(id)) {
      return errorResponse(
        null,
        new RpcError(
          RPC_ERROR.INVALID_REQUEST,
          'invalid request: id must be a string, number or null',
        ),
      )
    }
    const replyId: JsonRpcId = isNotification ? null : (id as JsonRpcId)
    if (jsonrpc !== '2.0') {
      return errorResponse(
        replyId,
        new RpcError(RPC_ERROR.INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"'),
      )
    }
    if (typeof method !== 'string' || method.length === 0) {
      return errorResponse(
        replyId,
        new RpcError(
          RPC_ERROR.INVALID_REQUEST,
          'invalid request: method must be a non-empty string',
        ),
      )
    }
    // Absent or null params mean none (geth is lenient about null too).
    if (params !== undefined && params !== null && !Array.isArray(params)) {
      return errorResponse(
        replyId,
        new RpcError(
          RPC_ERROR.INVALID_PARAMS,
          'invalid params: expected an array of positional parameters',
        ),
      )
    }
    const result = await this.call(method, params ?? [], ctx).then(
      (value): JsonRpcResponse => ({
        jsonrpc: '2.0',
        id: replyId,
        result: value === undefined ? null : value,
      }),
      (err: unknown): JsonRpcResponse => {
        const { error, unexpected } = toRpcError(err)
        if (unexpected) this.logger?.error({ method, err }, 'RPC method failed unexpectedly')
        // Only served names become labels: a caller must not be able to mint new series.
        this.metrics?.rpcError(this.methods.has(method) ? method : 'unknown', error.code)
        return errorResponse(replyId, error)
      },
    )
    return isNotification ? undefined : result
  }

  /** Parses `args` with the method's params and runs it. Throws RpcError (and domain errors). */
  async call(
    method: string,
    args: readonly unknown[],
    ctx: RpcCallContext = { transport: 'internal' },
  ): Promise<unknown> {
    const entry = this.methods.get(method)
    if (entry === undefined) {
      const shown = method.length > 64 ? `${method.slice(0, 61)}...` : method
      throw new RpcError(
        RPC_ERROR.METHOD_NOT_FOUND,
        `the method ${shown} does not exist/is not available`,
      )
    }
    const namespace = method.slice(0, method.indexOf('_'))
    const api = entry.api ?? namespace
    if (ctx.transport !== 'internal' && !(this.serves(namespace) && this.serves(api))) {
      const missing = this.serves(namespace) ? api : namespace
      throw new RpcError(
        RPC_ERROR.METHOD_NOT_FOUND,
        `the method ${method} does not exist/is not available: ${api === namespace ? `the ${namespace} namespace` : `it needs the ${api} API, which`} is off on this RPC; enable it with --rpc-api (e.g. --rpc-api ${[...(this.apis ?? [])].filter((ns) => ns !== 'rpc').join(',')},${missing})`,
      )
    }
    if (args.length > entry.params.length) {
      throw new RpcError(
        RPC_ERROR.INVALID_PARAMS,
        `too many arguments, want at most ${entry.params.length}${entry.params.length === 0 ? '' : ` (${entry.params.map((p) => p.name).join(', ')})`}`,
      )
    }
    const parsed: unknown[] = []
    for (let i = 0; i < entry.params.length; i++) {
      const spec = entry.params[i]!
      const raw = args[i]
      if (!spec.optional && (raw === undefined || raw === null)) {
        throw new RpcError(
          RPC_ERROR.INVALID_PARAMS,
          `missing value for required argument ${i} (${spec.name})`,
        )
      }
      try {
        parsed.push(spec.parse(raw))
      } catch (err) {
        if (err instanceof ParamError) {
          throw new RpcError(
            RPC_ERROR.INVALID_PARAMS,
            `invalid argument ${i} (${spec.name}): ${err.message}`,
          )
        }
        throw err
      }
    }
    return entry.run(parsed, ctx)
  }

  private serialize(response: JsonRpcResponse | JsonRpcResponse[]): string {
    try {
      return JSON.stringify(response)
    } catch {
      // A handler returned a bigint somewhere: encode it as a quantity rather than failing.
      return JSON.stringify(response, bigintReplacer)
    }
  }
}
