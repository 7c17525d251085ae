/**
 * Composition root: builds the concrete components of one node and starts/stops them in
 * order. No module-level state, so several nodes can run in one process (tests).
 *
 *   storage -> ledger (execution + consensus rules) -> txpool -> producer -> consensus engine
 *
 * Start order: storage, ledger, p2p (libp2p host, gossip, req/resp), sync (block and
 * transaction gossip, range sync), consensus engine, RPC; stop in reverse.
 */

import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { type Address, bytesToHex, equalsBytes } from '@ethereumjs/util'
import { z } from 'zod'
import type { Genesis } from '../genesis/schema.ts'
import { ConsensusRules } from './consensus/rules.ts'
import { VoteProposals, VoteTally } from './consensus/validator-votes.ts'
import { hexToBytes } from './crypto/index.ts'
import { unverifiedEthereumjsVersions } from './execution/upstream/index.ts'
import { nextBaseFee } from './ledger/base-fee.ts'
import { Ledger } from './ledger/ledger.ts'
import type { ErrorCodeOf } from './lib/error-codes.ts'
import { SidechainError } from './lib/errors.ts'
import { type Logger, silentLogger } from './lib/logger.ts'
import { NodeMetrics, type NodeMetricsOptions } from './metrics/node-metrics.ts'
import { type P2POptionsInput, P2PService } from './p2p/p2p-service.ts'
import { BlockProducer } from './producer/block-producer.ts'
import { adminModule } from './rpc/admin.ts'
import { qbftModule } from './rpc/qbft.ts'
import { type RpcOptionsInput, RpcService } from './rpc/service.ts'
import { ChainDb } from './storage/chain-db.ts'
import { LedgerChainServer } from './sync/chain-server.ts'
import { SyncService } from './sync/sync-service.ts'
import { type TxPoolLimitsInput, txpoolLimitsSchema } from './txpool/options.ts'
import { type PoolTx, TxPool } from './txpool/txpool.ts'
import { type Scheduler, systemScheduler } from './util/scheduler.ts'
import { CONSENSUS_RECORD_FILE, ConsensusRecord } from './validator/consensus-record.ts'
import { type ConsensusEngine, isSigner, type ValidatorKey } from './validator/engine.ts'
import {
  type ConsensusLimits,
  type ConsensusLimitsInput,
  consensusLimitsSchema,
} from './validator/options.ts'
import { type ConsensusTransport, QbftService } from './validator/qbft-service.ts'
import { SingleValidatorEngine } from './validator/single-validator.ts'

export type NodeErrorCode = ErrorCodeOf<'node'>

/** The node's own wiring refused the options (each component raises its own errors). */
export class NodeError extends SidechainError<NodeErrorCode> {
  override readonly name: string = 'NodeError'
}

export interface NodeOptions {
  genesis: Genesis
  datadir: string
  /**
   * Present on validators; absent on full nodes. A key pair, or a signer holding the key
   * elsewhere (a remote signer, `--signer-url`: no key material in this process).
   */
  validatorKey?: ValidatorKey
  /** Produce blocks when this node is the only validator (default true). */
  mine?: boolean
  /** JSON-RPC over HTTP and WebSocket on one port (chain/rpc/service.ts has every limit); absent = no RPC. */
  rpc?: RpcOptionsInput
  /** Pool limits (count and bytes; chain/txpool/options.ts has the defaults). */
  txpool?: TxPoolLimitsInput
  /** Future-height buffer caps of QBFT (chain/validator/options.ts has the defaults). */
  consensus?: ConsensusLimitsInput
  /** Prometheus metrics, /health and /ready on their own port; absent = none. */
  metrics?: NodeMetricsOptions
  /**
   * libp2p networking and sync (chain/p2p/p2p-service.ts has every option); absent = no
   * networking. The node key defaults to `<datadir>/nodekey`.
   */
  p2p?: NodeP2POptions
  /**
   * Where QBFT consensus messages travel. Defaults to the p2p consensus topic; tests pass
   * an in-process hub (LocalConsensusHub).
   */
  consensusTransport?: ConsensusTransport
}

/** Validates one part of the node's options at the edge; its schema holds the defaults. */
function parseNodeOptions<T>(part: string, schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input ?? {})
  if (result.success) return result.data
  throw new NodeError(
    'NODE_OPTIONS_INVALID',
    `invalid ${part} options:\n${z.prettifyError(result.error)}`,
  )
}

export type NodeP2POptions = Omit<P2POptionsInput, 'nodeKeyFile'> & { nodeKeyFile?: string }

/**
 * Cap on a consensus message: a proposal carries the block and, after round changes, a
 * justification that may repeat it.
 */
const MAX_CONSENSUS_MESSAGE_BYTES = 16 * 1024 * 1024

/** Cap on a gossiped block with its seals (a full 30M-gas block of calldata stays below it). */
const MAX_BLOCK_MESSAGE_BYTES = 10 * 1024 * 1024

/** The `module` field of a node component's log lines. */
export type NodeLogModule =
  | 'producer'
  | 'p2p'
  | 'sync'
  | 'rpc'
  | 'txpool'
  | 'metrics'
  | 'qbft'
  | 'validator'
  | 'consensus-record'
  | 'ledger'

export interface NodeModules {
  logger?: Logger
  scheduler?: Scheduler
  /**
   * Opens the chain database at `path` (default: a ChainDb). Tests wrap it to delay or
   * fail writes (test/support/faulty-chain-db.ts); there is no flag for it.
   */
  createChainDb?: (path: string) => ChainDb
}

export class SidechainNode {
  readonly options: NodeOptions
  readonly logger: Logger
  readonly scheduler: Scheduler
  readonly db: ChainDb
  readonly ledger: Ledger
  readonly txpool: TxPool
  private readonly consensusLimits: ConsensusLimits
  readonly producer: BlockProducer
  /** Present when `options.metrics` is set; the components push their events into it. */
  readonly metrics: NodeMetrics | undefined
  /** Validator-set votes this node proposes (qbft_proposeValidatorVote). */
  readonly votes = new VoteProposals()
  /** Present when `options.rpc` is set; other components add namespaces with `rpc.handler.register`. */
  readonly rpc: RpcService | undefined
  /** Present when `options.p2p` is set. */
  readonly p2p: P2PService | undefined
  readonly sync: SyncService | undefined
  engine: ConsensusEngine | undefined
  /** The validator's consensus record (`<datadir>/consensus-record`); open while running. */
  private record: ConsensusRecord | undefined
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  private readonly onHead: (imported: { block: { transactions: readonly never[] } }) => void
  /** A validator following the next proposer's previews may wait for this transaction. */
  private readonly onPoolAdded = (entry: PoolTx): void => {
    if (this.engine instanceof QbftService) this.engine.previews.transactionArrived(entry.hash)
  }

  constructor(options: NodeOptions, modules: NodeModules = {}) {
    this.options = options
    this.logger = modules.logger ?? silentLogger()
    this.scheduler = modules.scheduler ?? systemScheduler
    const { genesis } = options
    mkdirSync(options.datadir, { recursive: true })
    const chaindata = path.join(options.datadir, 'chaindata')
    this.db = modules.createChainDb?.(chaindata) ?? new ChainDb(chaindata)
    // Built first, so that the components can push events into it; what it reads when
    // scraped is looked up then.
    this.metrics =
      options.metrics === undefined
        ? undefined
        : new NodeMetrics(options.metrics, {
            head: () => this.ledger.head,
            speculativeValidations: () => this.ledger.speculativeValidations,
            txpoolSize: () => this.txpool.size,
            peerCount: () => this.p2p?.peerCount() ?? 0,
            gossipStats: () => this.p2p?.gossipStats() ?? {},
            consensus: () => this.qbft()?.status(),
            evidenceCount: () => this.qbft()?.evidence().length ?? 0,
            ownProposals: () => this.qbft()?.proposals,
            isSynced: () => (this.sync?.syncStatus() ?? false) === false,
            upstreamPatches: () => this.ledger.upstreamPatches,
            peerHeads: () => (this.p2p?.syncPeers() ?? []).map((peer) => peer.head),
            writeFailures: () => this.ledger.writeFailures,
            clock: this.scheduler,
            logger: this.moduleLogger('metrics'),
            blockPeriodMs: genesis.config.blockPeriodMs,
          })
    const metrics = this.metrics ?? null
    const validators = genesis.validators.map((v) => hexToBytes(v))
    const rules = new ConsensusRules(new VoteTally(validators, genesis.config.epochLength))
    this.ledger = new Ledger(
      { genesis },
      { db: this.db, rules, clock: this.scheduler, metrics, logger: this.moduleLogger('ledger') },
    )
    this.consensusLimits = parseNodeOptions('consensus', consensusLimitsSchema, options.consensus)
    this.txpool = new TxPool(
      {
        ...parseNodeOptions('txpool', txpoolLimitsSchema, options.txpool),
        common: this.ledger.common,
        maxTxSize: genesis.config.maxTxSize,
        baseFeeFloor: genesis.config.baseFeeFloor,
      },
      {
        state: {
          getAccount: async (address: Address) => {
            const account = await this.ledger.headAccount(address)
            return { nonce: account?.nonce ?? 0n, balance: account?.balance ?? 0n }
          },
          nextBaseFee: () => nextBaseFee(this.ledger.head, genesis.config.baseFeeFloor),
          blockGasLimit: () => genesis.config.gasLimit,
        },
        now: () => this.scheduler.now(),
      },
    )
    this.producer = new BlockProducer(
      // A third of the period: validators take longer to run a block than its proposer
      // (up to twice as long when they share cores), and all of it must fit in the round
      // timeout (default two periods) after the proposer's build. Half a period led to
      // round changes under saturation (network bench at 250 tx/s on 2 cores).
      { buildBudgetMs: Math.max(50, Math.floor(genesis.config.blockPeriodMs / 3)) },
      {
        ledger: this.ledger,
        txpool: this.txpool,
        scheduler: this.scheduler,
        logger: this.moduleLogger('producer'),
        metrics,
      },
    )
    if (options.p2p !== undefined) {
      this.p2p = new P2PService(
        {
          ...options.p2p,
          nodeKeyFile: options.p2p.nodeKeyFile ?? path.join(options.datadir, 'nodekey'),
        },
        {
          chain: new LedgerChainServer(this.ledger),
          logger: this.moduleLogger('p2p'),
          scheduler: this.scheduler,
          metrics,
        },
      )
      this.sync = new SyncService(
        { maxBlockMessageBytes: MAX_BLOCK_MESSAGE_BYTES, maxTxBytes: genesis.config.maxTxSize },
        {
          network: this.p2p,
          ledger: this.ledger,
          txpool: this.txpool,
          logger: this.moduleLogger('sync'),
          scheduler: this.scheduler,
        },
      )
    }
    this.rpc =
      options.rpc === undefined
        ? undefined
        : new RpcService(options.rpc, {
            ledger: this.ledger,
            txpool: this.txpool,
            logger: this.moduleLogger('rpc'),
            metrics,
            syncStatus: () => this.sync?.syncStatus() ?? false,
            peerCount: () => this.p2p?.peerCount() ?? 0,
          })
    if (this.rpc !== undefined && this.p2p !== undefined) {
      this.rpc.handler.register(adminModule({ p2p: this.p2p }))
    }
    const txpoolLogger = this.moduleLogger('txpool')
    this.onHead = (imported) => {
      this.txpool.onNewHead(imported.block.transactions).catch((err) => {
        txpoolLogger.warn({ err }, 'txpool update after new head failed')
      })
    }
  }

  /** Each component logs through a child carrying its `module`, so one node's lines can be filtered by part. */
  private moduleLogger(module: NodeLogModule): Logger {
    return this.logger.child({ module })
  }

  private qbft(): QbftService | undefined {
    return this.engine instanceof QbftService ? this.engine : undefined
  }

  get isRunning(): boolean {
    return this.state === 'running'
  }

  async start(): Promise<void> {
    if (this.state !== 'new' && this.state !== 'stopped') return
    this.state = 'starting'
    await this.db.open()
    try {
      await this.ledger.open()
      this.logUpstreamPatches()
      // Before any networking: a datadir of another validator key is refused outright.
      this.record = this.openConsensusRecord()
      this.ledger.on('head', this.onHead as never)
      await this.p2p?.start()
      this.sync?.start()
      this.engine = this.createEngine()
      await this.engine?.start()
      this.txpool.on('added', this.onPoolAdded)
      const engine = this.engine
      this.rpc?.handler.register(
        qbftModule({
          head: () => this.ledger.head.number,
          validatorSet: this.ledger.rules.validatorSet,
          votes: this.votes,
          consensus: engine instanceof QbftService ? engine : undefined,
          clock: this.scheduler,
          blockPeriodMs: this.options.genesis.config.blockPeriodMs,
        }),
      )
      await this.rpc?.start()
      await this.metrics?.start()
    } catch (err) {
      // Whatever started is stopped again (each stop is a no-op if its start never ran).
      await this.shutDownComponents()
      throw err
    }
    this.state = 'running'
    this.logger.info(
      {
        chainId: Number(this.ledger.chainId),
        genesis: bytesToHex(this.ledger.genesisHash),
        head: Number(this.ledger.head.number),
        validator: this.options.validatorKey?.addressHex,
        rpc: this.rpc?.url,
        p2p: this.p2p?.listenAddresses(),
      },
      'node started',
    )
  }

  /**
   * Which ethereumjs patches run (see chain/execution/upstream): a patch that stayed out, or
   * an ethereumjs version other than the verified one, is a warning (slower, same results).
   */
  private logUpstreamPatches(): void {
    const report = Object.entries(this.ledger.upstreamPatches)
    const active = report.filter(([, status]) => status.active).map(([patch]) => patch)
    this.logger.info({ active }, 'ethereumjs patches')
    for (const [patch, status] of report) {
      if (!status.active) {
        this.logger.warn(
          { patch, reason: status.reason },
          'ethereumjs patch not applied: running upstream code',
        )
      }
    }
    const unverified = unverifiedEthereumjsVersions()
    if (unverified.length > 0) {
      this.logger.warn(
        { packages: unverified },
        'ethereumjs versions differ from the verified ones',
      )
    }
  }

  /**
   * A validator's datadir holds its consensus record; opening it refuses a datadir whose
   * record names another key (CONSENSUS_RECORD_WRONG_KEY): one key, one datadir.
   */
  private openConsensusRecord(): ConsensusRecord | undefined {
    const key = this.options.validatorKey
    if (key === undefined || this.options.mine === false) return undefined
    return ConsensusRecord.open(
      { path: path.join(this.options.datadir, CONSENSUS_RECORD_FILE), validator: key.address },
      { logger: this.moduleLogger('consensus-record') },
    )
  }

  private createEngine(): ConsensusEngine | undefined {
    const key = this.options.validatorKey
    if (key === undefined || this.options.mine === false) return undefined
    const validators = this.ledger.rules.validatorSet.validatorsAt(this.ledger.head.number + 1n)
    const isValidator = validators.some((v) => equalsBytes(v, key.address))
    if (!isValidator && validators.length === 1) {
      this.logger.warn(
        { address: key.addressHex },
        'validator key is not in the validator set; running as a full node',
      )
      return undefined
    }
    if (!isValidator) {
      this.logger.info(
        { address: key.addressHex },
        'validator key is not in the validator set yet; following until voted in',
      )
    }
    if (validators.length === 1 && isValidator) {
      return new SingleValidatorEngine(
        {
          blockPeriodMs: this.options.genesis.config.blockPeriodMs,
          ...(isSigner(key) ? { signer: key } : { validatorKey: key.privateKey }),
          validatorAddress: key.address,
        },
        {
          ledger: this.ledger,
          producer: this.producer,
          scheduler: this.scheduler,
          logger: this.moduleLogger('validator'),
        },
      )
    }
    const transport = this.options.consensusTransport ?? this.p2pConsensusTransport()
    if (transport === undefined) {
      throw new NodeError(
        'NODE_NO_CONSENSUS_TRANSPORT',
        'a validator of a multi-validator network needs p2p networking (--p2p-port, --bootnodes)',
      )
    }
    const { config } = this.options.genesis
    return new QbftService(
      {
        chainId: this.ledger.chainId,
        validatorKey: key,
        blockPeriodMs: config.blockPeriodMs,
        roundTimeoutMs: config.roundTimeoutMs,
        roundTimeoutMaxMs: config.roundTimeoutMaxMs,
        maxMessageBytes: MAX_CONSENSUS_MESSAGE_BYTES,
        futureBuffer: {
          perHeight: this.consensusLimits.futureMessagesPerHeight,
          perAuthor: this.consensusLimits.futureMessagesPerAuthor,
          perAuthorBytes: this.consensusLimits.futureBytesPerAuthor,
          totalBytes: this.consensusLimits.futureBytes,
        },
      },
      {
        ledger: this.ledger,
        producer: this.producer,
        scheduler: this.scheduler,
        transport,
        votes: this.votes,
        knownTransactions: this.txpool,
        ...(this.record === undefined ? {} : { record: this.record }),
        logger: this.moduleLogger('qbft'),
      },
    )
  }

  /** The consensus gossip topic as a QBFT transport. */
  private p2pConsensusTransport(): ConsensusTransport | undefined {
    const p2p = this.p2p
    if (p2p === undefined) return undefined
    const logger = this.moduleLogger('qbft')
    return {
      attach: (handler) => {
        const topic = p2p.registerTopic({
          name: 'consensus',
          maxMessageBytes: MAX_CONSENSUS_MESSAGE_BYTES,
          concurrency: 8,
          validate: (data, meta) => handler(data, meta.from),
        })
        return {
          publish: (data) => {
            topic.publish(data).catch((err) => logger.debug({ err }, 'consensus publish failed'))
          },
          detach: () => topic.unregister(),
        }
      },
    }
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return
    this.state = 'stopping'
    await this.shutDownComponents()
    this.logger.info('node stopped')
  }

  /** Stops components in reverse start order and closes the database. */
  private async shutDownComponents(): Promise<void> {
    await this.metrics?.stop()
    await this.rpc?.stop()
    this.rpc?.handler.unregister('qbft')
    this.txpool.off('added', this.onPoolAdded)
    await this.engine?.stop()
    this.record?.close()
    this.record = undefined
    await this.sync?.stop()
    await this.p2p?.stop()
    this.ledger.off('head', this.onHead as never)
    await this.ledger.waitIdle()
    if (this.db.isOpen) await this.db.close()
    this.state = 'stopped'
  }
}
