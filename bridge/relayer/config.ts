/**
 * Relayer configuration: one JSON file per relayer process, validated once here (defaults live in the schema)
 * and read-only afterwards. Relative paths (key file, datadir) are resolved against the config file's folder.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type Address, getAddress, isAddress, parseEther } from 'viem'
import { z } from 'zod'
import { logLevelSchema } from '../../chain/lib/logger.ts'
import { BridgeError } from '../core/errors.ts'
import { DEV_L1_CHAIN_IDS } from './crash-hook.ts'

const address = z
  .string()
  .refine((v) => isAddress(v, { strict: false }), 'not an address')
  .transform((v) => getAddress(v) as Address)

const httpUrl = z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s):// URL')
const positive = z.number().int().positive()
/** Default confirmations on a development L1 (anvil, geth --dev), which has no `finalized` worth waiting for. */
const DEV_L1_CONFIRMATIONS = 12
/** Fee increase per replacement, in percent (nodes require at least 10). */
const bumpPercent = z.number().int().min(10).max(500).default(25)
/** How often the receipt of a sent transaction is polled (never less often than pollIntervalMs). */
const receiptPollMs = positive.default(250)
const ether = z
  .string()
  .regex(/^\d+(\.\d{1,18})?$/, 'must be a decimal amount of ether, e.g. "0.5"')
  .transform((v) => parseEther(v))

export const relayerConfigSchema = z
  .object({
    l1: z
      .object({
        rpcUrl: httpUrl,
        /**
         * A second, independent L1 endpoint (another provider or your own node): a deposit is
         * voted only when its receipt there agrees with the first endpoint's.
         */
        secondRpcUrl: httpUrl.optional(),
        chainId: positive,
        /** The BridgeVault: the only contract whose `Deposited` logs are trusted. */
        vault: address,
        /**
         * Blocks a deposit needs (its own block counts as 1) before it is confirmed on the sidechain, or
         * "finalized" to follow the L1 `finalized` tag. Default: "finalized" (under proof of stake a fixed number
         * of blocks is not finality), except on development L1s (31337, 1337), where it is 12 blocks; the devnet
         * and the tests set their own small number.
         */
        confirmations: z
          .union([z.number().int().min(1).max(10_000), z.literal('finalized')])
          .optional(),
        /** First block to scan on a fresh datadir (the vault's deployment block). */
        startBlock: z.number().int().min(0).default(0),
        pollIntervalMs: positive.default(2_000),
        /** Largest eth_getLogs range per request. */
        maxBlockRange: positive.default(2_000),
        /** A release not mined after this long is replaced with higher fees. */
        stuckAfterMs: positive.default(45_000),
        bumpPercent,
        receiptPollMs,
        /** Never bid more than this per gas, in gwei (absent: no cap besides the spend cap). */
        maxFeePerGasGwei: z.number().positive().optional(),
        /**
         * L1 gas this relayer may spend (receipts of its own transactions, plus what in-flight ones may still
         * cost) within any `spendWindowMs`, in ether. Reaching it delays releases until older spend leaves the
         * window; it never stops the relayer for good.
         */
        spendCap: ether.default(parseEther('1')),
        /** Length of the sliding window of the spend cap (default 24 h). */
        spendWindowMs: positive.default(24 * 60 * 60 * 1000),
        /**
         * Most gas one release may use. The vault pays ETH recipients a fixed stipend and credits failed
         * transfers for a later claim, so an honest release of a threshold of up to 32 signatures fits well
         * below this; a release estimated above it is parked (reason gas-cap) instead of sent.
         */
        releaseGasCap: positive.default(600_000),
      })
      .strict()
      .transform((l1) => ({
        ...l1,
        confirmations:
          l1.confirmations ??
          (DEV_L1_CHAIN_IDS.includes(l1.chainId) ? DEV_L1_CONFIRMATIONS : ('finalized' as const)),
      })),
    sidechain: z
      .object({
        rpcUrl: httpUrl,
        /**
         * Checked against eth_chainId at start. Required: withdrawals are signed for this chain
         * id (their L1 key binds it), so it must not come from the endpoint being checked.
         */
        chainId: positive,
        /** The SidechainBridge. */
        bridge: address,
        pollIntervalMs: positive.default(1_000),
        stuckAfterMs: positive.default(15_000),
        bumpPercent,
        receiptPollMs,
        /**
         * The light client that verifies the endpoint's headers: it trusts one header (the
         * checkpoint, by hash) and follows the validator set from there by the chain's rules.
         */
        lightClient: z
          .object({
            /**
             * Hash of the trusted block `checkpointNumber`: the genesis hash (`sidechain node`
             * logs it; `eth_getBlockByNumber 0x0` of a node you run) or an epoch block's. Absent:
             * the endpoint's genesis is trusted on first use and pinned in the datadir.
             */
            checkpointHash: z
              .string()
              .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 32-byte hex block hash')
              .optional(),
            /** 0 (genesis) or an epoch block (a multiple of epochLength): those list the validators. */
            checkpointNumber: z.number().int().min(0).default(0),
            /** The genesis config's epochLength (votes reset and the set is listed every epoch). */
            epochLength: z.number().int().min(1).default(30_000),
          })
          .strict()
          .refine((c) => c.checkpointNumber % c.epochLength === 0, {
            message: 'checkpointNumber must be 0 or a multiple of epochLength (an epoch block)',
            path: ['checkpointNumber'],
          })
          .refine((c) => c.checkpointNumber === 0 || c.checkpointHash !== undefined, {
            message: 'a checkpointNumber other than 0 needs its checkpointHash',
            path: ['checkpointHash'],
          })
          .prefault({}),
      })
      .strict(),
    relayer: z
      .object({
        /**
         * V3 keystore (`sidechain account new`, `cast wallet new`); its password from `passwordFile`,
         * SIDECHAIN_KEY_PASSWORD(_FILE) or a prompt. A plain-text key file `{ address, privateKey }`
         * only with `insecureKey`. Either this or `signerUrl`.
         */
        keyFile: z.string().min(1).optional(),
        /**
         * A remote signer speaking the Web3Signer eth1 API that holds the key of `address`: the
         * relayer then holds no key material (transactions and withdrawal signatures go through it).
         */
        signerUrl: z
          .string()
          .regex(/^https?:\/\/[^/\s]+\/?$/, 'an http(s):// base URL (scheme, host, port only)')
          .optional(),
        /** With `signerUrl`: the relayer address whose key the signer must hold. */
        address: address.optional(),
        /** File whose first line is the keystore's password (a Docker secret, a 0600 file). */
        passwordFile: z.string().min(1).optional(),
        /** Accept a plain-text `keyFile` (devnets and tests; `sidechain relayer --insecure-key` too). */
        insecureKey: z.boolean().default(false),
        /** This relayer's position for release turns: withdrawal id mod `count` == `index` releases first. */
        index: z.number().int().min(0),
        count: z.number().int().min(1).max(32),
      })
      .strict()
      .refine((r) => r.index < r.count, {
        message: 'index must be less than count',
        path: ['index'],
      })
      .refine((r) => (r.keyFile === undefined) !== (r.signerUrl === undefined), {
        message: 'give either keyFile or signerUrl (with address)',
        path: ['keyFile'],
      })
      .refine((r) => (r.signerUrl === undefined) === (r.address === undefined), {
        message: 'signerUrl and address go together',
        path: ['address'],
      }),
    /** Cursor and journal (classic-level). One datadir per relayer; it is locked while the relayer runs. */
    datadir: z.string().min(1),
    metrics: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        /** Prometheus `/metrics`, `/health` and `/ready`; 0 picks a free port (logged). */
        port: z.number().int().min(0).max(65_535).default(9464),
      })
      .strict()
      .prefault({}),
    /**
     * After M signatures are stored, relayer (id mod count) releases at once; the next one in the ring after one
     * timeout, the one after it after two, and so on.
     */
    releaseTurnTimeoutMs: positive.default(60_000),
    /**
     * A deposit or withdrawal whose step failed is retried after baseMs, doubling per
     * further failure up to maxMs.
     */
    retryBackoff: z
      .object({ baseMs: positive.default(500), maxMs: positive.default(30_000) })
      .strict()
      .prefault({}),
    /**
     * A parked item (a permanent failure: a revert, a payload conflict, the gas cap, repeated out-of-gas) is
     * looked at again after this long, so an operator's fix needs no restart.
     */
    parkedRecheckMs: positive.default(10 * 60 * 1000),
    /** Mined transactions of one item that ran out of gas before the item is parked (reason out-of-gas). */
    maxOutOfGasAttempts: positive.default(3),
    /** Timeout of a single JSON-RPC request. */
    rpcTimeoutMs: positive.default(10_000),
    /** How often locked vs wrapped supply is exported as metrics (0 = never). */
    auditIntervalMs: z.number().int().min(0).default(60_000),
    logLevel: logLevelSchema,
    /**
     * Allow plain http:// to hosts other than loopback (a private network the operator trusts,
     * such as the compose network). Off by default: anyone on the path of a plain-text RPC can
     * lie to the relayer about what happened on either chain.
     */
    allowInsecureRpc: z.boolean().default(false),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.allowInsecureRpc) return
    for (const [chain, field, url] of [
      ['l1', 'rpcUrl', config.l1.rpcUrl],
      ['l1', 'secondRpcUrl', config.l1.secondRpcUrl],
      ['sidechain', 'rpcUrl', config.sidechain.rpcUrl],
    ] as const) {
      if (url !== undefined && isPlainHttpToRemote(url)) {
        ctx.addIssue({
          code: 'custom',
          path: [chain, field],
          message:
            'plain http:// to a host other than loopback: use https://, a loopback address, or set allowInsecureRpc for a private network you trust',
        })
      }
    }
  })

/** http:// (not https://) to a host that is not this machine. */
function isPlainHttpToRemote(url: string): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false // the URL rule names it
  }
  if (parsed.protocol !== 'http:') return false
  return !isLoopbackHost(parsed.hostname)
}

/** localhost, 127.0.0.0/8 or ::1 (with or without the URL brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

export type RelayerConfigInput = z.input<typeof relayerConfigSchema>
export type RelayerConfig = z.output<typeof relayerConfigSchema>

/** Validates `input`; `baseDir` resolves relative paths. Throws RELAYER_CONFIG_INVALID naming every bad field. */
export function parseRelayerConfig(input: unknown, baseDir = process.cwd()): RelayerConfig {
  const result = relayerConfigSchema.safeParse(input)
  if (!result.success) {
    throw new BridgeError(
      'RELAYER_CONFIG_INVALID',
      `invalid relayer config:\n${z.prettifyError(result.error)}`,
      {
        details: {
          issues: result.error.issues.map((i) => ({
            path: i.path.map(String),
            message: i.message,
          })),
        },
      },
    )
  }
  const config = result.data
  return Object.freeze({
    ...config,
    datadir: path.resolve(baseDir, config.datadir),
    relayer: {
      ...config.relayer,
      ...(config.relayer.keyFile === undefined
        ? {}
        : { keyFile: path.resolve(baseDir, config.relayer.keyFile) }),
      ...(config.relayer.passwordFile === undefined
        ? {}
        : { passwordFile: path.resolve(baseDir, config.relayer.passwordFile) }),
    },
  })
}

export function loadRelayerConfig(file: string): RelayerConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new BridgeError('RELAYER_CONFIG_INVALID', `cannot read relayer config ${file}`, { cause })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new BridgeError('RELAYER_CONFIG_INVALID', `relayer config ${file} is not JSON`, { cause })
  }
  return parseRelayerConfig(json, path.dirname(path.resolve(file)))
}
