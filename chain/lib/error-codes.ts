/**
 * The registry of error codes: every code a SidechainError may carry, listed by the area
 * that owns it, and ONE table (ERROR_TABLE) that says what each code means at the edges:
 * the CLI exit code, the JSON-RPC error and the metric labels (see `describeError` in
 * errors.ts, the only reader of the table besides tests).
 *
 * Why the codes are declared here and not in their areas: `isSidechainError(err, code)`
 * and the table need the union of every area's codes, and chain/lib is the shared kernel
 * that imports nothing of ours (chain, bridge, genesis and contracts all import it). If
 * each area declared its union and chain/lib built the aggregate from them, chain/lib would
 * import every area, a cycle with everything. So the lists live in this leaf module, as
 * `as const` arrays, and each area derives its union from its own list with `ErrorCodeOf`
 * and exports it next to its error class (e.g. chain/txpool/errors.ts exports TxPoolErrorCode
 * and TxPoolError). A code is owned by one area; an area may also throw a lower area's code
 * when it means the same thing (the ledger and the vote tally raise STORAGE_CORRUPT).
 *
 * Adding a code: add it to its area's list and give it a row in ERROR_TABLE. tsc fails until
 * both are done (the table `satisfies Record<ErrorCode, ...>`, which also refuses rows for
 * codes no list declares); chain/lib/error-codes.test.ts checks the lists are disjoint.
 */

export const ERROR_CODES = {
  // chain/lib
  foundry: [
    'FOUNDRY_NOT_INSTALLED',
    'FOUNDRY_UNSUPPORTED_PLATFORM',
    'ANVIL_START_TIMEOUT',
    'ANVIL_EXITED',
  ],
  keyFile: [
    'KEY_FILE_INVALID',
    'KEY_FILE_WRONG_PASSWORD',
    'KEY_FILE_INSECURE',
    'KEY_FILE_EXISTS',
    'KEY_PASSWORD_MISSING',
  ],
  // chain/lib/signer.ts: remote signers (Web3Signer HTTP API)
  signer: [
    'SIGNER_URL_INVALID',
    'SIGNER_KEY_NOT_HELD',
    'SIGNER_UNAVAILABLE',
    'SIGNER_BAD_RESPONSE',
  ],
  // chain/lib/poll.ts (callers with their own timeout code pass it)
  poll: ['POLL_TIMEOUT'],
  // chain/crypto
  crypto: ['CRYPTO_BAD_SIGNATURE', 'CRYPTO_HIGH_S'],
  // chain/codec
  codec: ['BLOCK_MALFORMED'],
  // chain/consensus: block rules (rules.ts, extra-data.ts) and commit seals (seals.ts)
  consensus: [
    'CONSENSUS_WRONG_PROPOSER',
    'CONSENSUS_BAD_PARENT_SEALS',
    'CONSENSUS_BAD_SEALS',
    'CONSENSUS_BAD_VALIDATOR_LIST',
    'CONSENSUS_BAD_VOTE',
    'CONSENSUS_BAD_EXTRA_DATA',
    'SEAL_INVALID_SIGNATURE',
    'SEAL_NOT_VALIDATOR',
    'SEAL_DUPLICATE_SIGNER',
    'SEAL_INSUFFICIENT',
  ],
  // chain/consensus/qbft: message verdicts (each has a gossip action in qbft/errors.ts)
  qbft: [
    'QBFT_MALFORMED',
    'QBFT_TOO_LARGE',
    'QBFT_BAD_SIGNATURE',
    'QBFT_NOT_VALIDATOR',
    'QBFT_WRONG_PROPOSER',
    'QBFT_BAD_JUSTIFICATION',
    'QBFT_BAD_ROUND_CHANGE',
    'QBFT_BAD_COMMIT_SEAL',
    'QBFT_BAD_BLOCK',
    'QBFT_BLOCK_UNVERIFIABLE',
    'QBFT_PAST_HEIGHT',
    'QBFT_FUTURE_HEIGHT',
    'QBFT_OLD_ROUND',
    'QBFT_FUTURE_ROUND',
    'QBFT_DUPLICATE',
    'QBFT_EQUIVOCATION',
    'QBFT_BUFFER_FULL',
    'QBFT_HEIGHT_DECIDED',
    'QBFT_NOT_RUNNING',
    'QBFT_UNKNOWN_AUTHOR',
  ],
  // chain/consensus/qbft: misuse of the engine by the code embedding it
  qbftUsage: [
    'QBFT_BAD_OPTIONS',
    'QBFT_BAD_VALIDATOR_SET',
    'QBFT_BAD_HEIGHT',
    'QBFT_NOT_STARTED',
    'QBFT_RESTORE_TOO_LATE',
  ],
  // chain/validator/consensus-record.ts: the validator's write-ahead log of what it signed
  consensusRecord: [
    'CONSENSUS_RECORD_WRONG_KEY',
    'CONSENSUS_RECORD_CORRUPT',
    'CONSENSUS_RECORD_IO',
    'CONSENSUS_RECORD_CLOSED',
  ],
  // chain/execution/simulation: eth_call, eth_estimateGas, traces (their JSON-RPC errors are
  // mapped in chain/rpc/errors.ts, which needs the revert data, not only the code)
  simulation: [
    'SIM_BUSY',
    'SIM_INVALID_REQUEST',
    'SIM_TIMEOUT',
    'SIM_REJECTED',
    'SIM_INTRINSIC_GAS_TOO_LOW',
    'SIM_REVERTED',
    'SIM_HALTED',
    'SIM_GAS_ALLOWANCE_EXCEEDED',
    'SIM_REPLAY_FAILED',
  ],
  // chain/metrics
  metrics: ['METRICS_OPTIONS_INVALID'],
  // chain/validator (speculation.ts: block previews)
  preview: [
    'PREVIEW_MALFORMED',
    'PREVIEW_BAD_SIGNATURE',
    'PREVIEW_WRONG_PROPOSER',
    'PREVIEW_NOT_NEXT_HEIGHT',
    'PREVIEW_PROPOSER_UNKNOWN',
    'PREVIEW_OTHER_PARENT',
    'PREVIEW_OWN',
    'PREVIEW_NOT_EXTENDING',
  ],
  // chain/execution
  execution: [
    'EXEC_STATE_ROOT_MISMATCH',
    'EXEC_RECEIPTS_ROOT_MISMATCH',
    'EXEC_GAS_USED_MISMATCH',
    'EXEC_BLOOM_MISMATCH',
    'EXEC_TX_ROOT_MISMATCH',
    'EXEC_INVALID_TX',
    'EXEC_PARENT_STATE_MISSING',
    'EXEC_BUILD_CLOSED',
    'EXEC_NOT_THE_EXECUTED_BLOCK',
    'EXEC_EXECUTION_CLOSED',
  ],
  // chain/storage
  storage: [
    'STORAGE_OPEN_FAILED',
    'STORAGE_CORRUPT',
    'STORAGE_CLOSED',
    'STORAGE_SCHEMA_UNSUPPORTED',
    'STORAGE_WRITE_FAILED',
  ],
  // chain/ledger
  ledger: [
    'LEDGER_GENESIS_MISMATCH',
    'LEDGER_NOT_NEXT_BLOCK',
    'LEDGER_KNOWN_BLOCK',
    'LEDGER_INVALID_HEADER',
    'LEDGER_INVALID_BODY',
    'LEDGER_FUTURE_TIMESTAMP',
    'LEDGER_CLOSED',
    'LEDGER_BUILD_ABANDONED',
    'LEDGER_SPECULATION_ENDED',
    'LEDGER_NEXT_BLOCK_VALIDATED',
    'LEDGER_BUILDING',
  ],
  // chain/txpool: refused transactions (each has a gossip action in gossip-validation.ts)
  txpool: [
    'TX_INVALID_ENCODING',
    'TX_OVERSIZED',
    'TX_UNSUPPORTED_TYPE',
    'TX_WRONG_CHAIN_ID',
    'TX_UNPROTECTED',
    'TX_HIGH_S',
    'TX_INVALID_SIGNATURE',
    'TX_NONCE_TOO_LOW',
    'TX_NONCE_TOO_HIGH',
    'TX_INSUFFICIENT_FUNDS',
    'TX_INTRINSIC_GAS_TOO_LOW',
    'TX_GAS_LIMIT_EXCEEDED',
    'TX_FEE_CAP_TOO_LOW',
    'TX_TIP_ABOVE_FEE_CAP',
    'TX_ALREADY_KNOWN',
    'TX_REPLACEMENT_UNDERPRICED',
    'TX_POOL_FULL',
    'TX_SENDER_LIMIT',
  ],
  // chain/txpool: a gossiped transaction the pool failed on for a reason of its own
  txGossip: ['TX_UNEXPECTED'],
  // chain/p2p
  p2p: [
    'P2P_BAD_OPTIONS',
    'P2P_TOPIC_EXISTS',
    'P2P_TOPIC_BAD_OPTIONS',
    'P2P_NODE_KEY_INVALID',
    'P2P_NOT_STARTED',
    'P2P_BAD_MULTIADDR',
    'P2P_TOO_MANY_FRAMES',
    'P2P_REQUEST_TOO_LARGE',
    'P2P_FRAME_TOO_LARGE',
    'P2P_FRAME_BAD_LENGTH',
    'P2P_FRAME_TRUNCATED',
    'P2P_BAD_MESSAGE',
    'P2P_RATE_LIMITED',
    'P2P_PEER_REFUSED_REQUEST',
    'P2P_PEER_SERVER_ERROR',
    'P2P_BAD_RESPONSE',
    'P2P_NO_TOPIC_PEERS',
  ],
  // chain/sync: gossiped finalized blocks (BLOCK_MALFORMED is the codec's)
  sync: [
    'BLOCK_KNOWN',
    'BLOCK_CONFLICT',
    'BLOCK_FUTURE',
    'BLOCK_FUTURE_TIMESTAMP',
    'BLOCK_UNKNOWN_PARENT',
    'BLOCK_INVALID',
    'BLOCK_BAD_SEALS',
    'BLOCK_NOT_DECIDABLE',
  ],
  // chain/rpc
  rpc: ['RPC_OPTIONS_INVALID', 'RPC_LISTEN_FAILED'],
  // chain/node.ts
  node: ['NODE_NO_CONSENSUS_TRANSPORT', 'NODE_OPTIONS_INVALID', 'NODE_TEST_HOOKS_REFUSED'],
  // genesis
  genesis: ['GENESIS_INVALID', 'GENESIS_UNREADABLE', 'GENESIS_EXISTS'],
  // contracts (build.ts)
  contracts: [
    'CONTRACTS_COMPILER_VERSION',
    'CONTRACTS_COMPILE_FAILED',
    'CONTRACTS_NO_SOURCES',
    'CONTRACTS_DUPLICATE_NAME',
  ],
  // chain/devnet: the one-command devnet
  devnet: [
    'DEVNET_ABORTED',
    'DEVNET_BUSY',
    'DEVNET_DEPLOY_FAILED',
    'DEVNET_FLAGS_INVALID',
    'DEVNET_PORT_IN_USE',
    'DEVNET_PROCESS_EXITED',
    'DEVNET_START_TIMEOUT',
    'DEVNET_STATE_INVALID',
    'DEVNET_STATE_LOST',
    'DEVNET_NOT_RUNNING',
    'DEVNET_UNKNOWN_PROCESS',
    'DEVNET_CONTROL_FAILED',
  ],
  // chain/devnet: networks of validators on several hosts (network-setup.ts)
  network: ['NETWORK_FLAGS_INVALID', 'NETWORK_STATE_INVALID', 'NETWORK_KEY_INVALID'],
  // bridge/relayer, bridge/journal, bridge/core
  relayer: [
    'RELAYER_CONFIG_INVALID',
    'RELAYER_CHAIN_MISMATCH',
    'RELAYER_SPEND_CAP',
    'RELAYER_PAYLOAD_CONFLICT',
    'RELAYER_TX_REVERTED',
    'RELAYER_OUT_OF_GAS',
    'RELAYER_TX_LOST',
    'RELAYER_INCONSISTENT_VIEW',
    'RELAYER_DEEP_REORG',
    'RELAYER_STOPPED',
    'RELAYER_GAS_CAP',
    // bridge/light-client and the withdrawal proof: what the relayer refuses to sign on
    'RELAYER_UNTRUSTED_CHECKPOINT',
    'RELAYER_HEADER_MISMATCH',
    'RELAYER_HEADER_UNSEALED',
    'RELAYER_PROOF_INVALID',
    'RELAYER_WITHDRAWAL_UNPROVEN',
    'RELAYER_L1_SOURCES_DISAGREE',
  ],
  // bridge/cli: the user commands
  bridge: [
    'BRIDGE_ARGUMENT_INVALID',
    'BRIDGE_KEY_INVALID',
    'BRIDGE_NETWORK_INVALID',
    'BRIDGE_INSUFFICIENT_BALANCE',
    'BRIDGE_PAUSED',
    'BRIDGE_UNKNOWN_TOKEN',
    'BRIDGE_BELOW_MINIMUM',
    'BRIDGE_OVER_LIMIT',
    'BRIDGE_NOT_FOUND',
    'BRIDGE_TIMEOUT',
    'BRIDGE_TX_REVERTED',
    'BRIDGE_TX_DROPPED',
    'BRIDGE_INSUFFICIENT_SIGNATURES',
    'BRIDGE_AUDIT_MISMATCH',
    'BRIDGE_RPC_UNAVAILABLE',
    'BRIDGE_VAULT_UNDERFUNDED',
  ],
  // bridge/deploy
  bridgeDeploy: [
    'BRIDGE_INVALID_ADDRESS',
    'BRIDGE_DUPLICATE_ADDRESS',
    'BRIDGE_INVALID_THRESHOLD',
    'BRIDGE_SET_TOO_LARGE',
    'BRIDGE_INVALID_LIMIT',
    'BRIDGE_INVALID_PARAMETER',
    'BRIDGE_NO_ACCOUNT',
    'BRIDGE_DEPLOY_FAILED',
    'BRIDGE_DUPLICATE_SIGNER',
  ],
  // chain/cli/status-command.ts: `sidechain status`
  status: ['STATUS_FLAGS_INVALID', 'STATUS_NODE_UNREACHABLE'],
  // chain/explorer
  explorer: [
    'EXPLORER_OPTIONS_INVALID',
    'EXPLORER_RPC_UNAVAILABLE',
    'EXPLORER_CHAIN_MISMATCH',
    'EXPLORER_INDEX_CONFLICT',
    'EXPLORER_LISTEN_FAILED',
    'EXPLORER_REQUEST_TOO_LARGE',
  ],
  // chain/explorer/verify.ts: source verification refusals
  verify: [
    'VERIFY_INPUT_INVALID',
    'VERIFY_COMPILER_MISSING',
    'VERIFY_COMPILE_FAILED',
    'VERIFY_CONTRACT_NOT_FOUND',
    'VERIFY_NO_CODE',
    'VERIFY_BYTECODE_MISMATCH',
  ],
  // chain/faucet
  faucet: [
    'FAUCET_OPTIONS_INVALID',
    'FAUCET_BAD_REQUEST',
    'FAUCET_RATE_LIMITED',
    'FAUCET_EMPTY',
    'FAUCET_SEND_FAILED',
  ],
} as const

export type ErrorArea = keyof typeof ERROR_CODES

/** The codes one area owns. */
export type ErrorCodeOf<Area extends ErrorArea> = (typeof ERROR_CODES)[Area][number]

/** Every code a SidechainError may carry. */
export type ErrorCode = ErrorCodeOf<ErrorArea>

/**
 * Whose fault an error is, which decides how the edges report it:
 * - `input`: what the operator gave (flags, config, key or genesis files) is wrong; fixing
 *   it and running again is the remedy. CLI exit code 2.
 * - `peer`: a remote party (a p2p peer, a JSON-RPC client, a node we query) sent something
 *   invalid or refused us. CLI exit code 1.
 * - `runtime`: the environment or this process failed (ports, files, timeouts, a stopped
 *   component, a misuse of one component by another). CLI exit code 1.
 * - `datadir`: the node's data folder is refused (corrupt, or a storage schema this build
 *   does not read). Restarting cannot help: an operator restores a backup or resyncs into an
 *   empty datadir, so supervisors should not restart on it. CLI exit code 3.
 */
export type ErrorKind = 'input' | 'peer' | 'runtime' | 'datadir'

/** geth's generic JSON-RPC server error, which wallets and tools match by message. */
export const JSON_RPC_SERVER_ERROR = -32000

export interface ErrorTraits {
  readonly kind: ErrorKind
  /**
   * JSON-RPC error code when the error reaches an RPC client, with the error's message.
   * Absent: the client sees -32603 "internal error" and the node logs the error.
   */
  readonly rpc?: typeof JSON_RPC_SERVER_ERROR
}

const INPUT = { kind: 'input' } as const
const PEER = { kind: 'peer' } as const
const RUNTIME = { kind: 'runtime' } as const
const DATADIR = { kind: 'datadir' } as const
/** Refused with the domain message as -32000 ("nonce too low", "already known", ...). */
const PEER_RPC = { kind: 'peer', rpc: JSON_RPC_SERVER_ERROR } as const
const RUNTIME_RPC = { kind: 'runtime', rpc: JSON_RPC_SERVER_ERROR } as const

/** The one table from code to what the edges make of it. */
export const ERROR_TABLE = {
  QBFT_RESTORE_TOO_LATE: RUNTIME,
  CONSENSUS_RECORD_WRONG_KEY: INPUT,
  CONSENSUS_RECORD_CORRUPT: INPUT,
  CONSENSUS_RECORD_IO: RUNTIME,
  CONSENSUS_RECORD_CLOSED: RUNTIME,
  SIM_BUSY: RUNTIME,
  SIM_INVALID_REQUEST: RUNTIME,
  SIM_TIMEOUT: RUNTIME,
  SIM_REJECTED: RUNTIME,
  SIM_INTRINSIC_GAS_TOO_LOW: RUNTIME,
  SIM_REVERTED: RUNTIME,
  SIM_HALTED: RUNTIME,
  SIM_GAS_ALLOWANCE_EXCEEDED: RUNTIME,
  SIM_REPLAY_FAILED: RUNTIME,
  METRICS_OPTIONS_INVALID: INPUT,
  FOUNDRY_NOT_INSTALLED: RUNTIME,
  FOUNDRY_UNSUPPORTED_PLATFORM: RUNTIME,
  ANVIL_START_TIMEOUT: RUNTIME,
  ANVIL_EXITED: RUNTIME,
  KEY_FILE_INVALID: INPUT,
  /** The keystore's MAC does not match: a wrong password (or a damaged file). */
  KEY_FILE_WRONG_PASSWORD: INPUT,
  /** A plain-text key without --insecure-key (or the relayer's insecureKey). */
  KEY_FILE_INSECURE: INPUT,
  KEY_FILE_EXISTS: INPUT,
  KEY_PASSWORD_MISSING: INPUT,
  SIGNER_URL_INVALID: INPUT,
  /** The remote signer does not hold the key of the expected address: wrong signer or flags. */
  SIGNER_KEY_NOT_HELD: INPUT,
  /** The remote signer did not answer (down, timed out): a validator misses its rounds meanwhile. */
  SIGNER_UNAVAILABLE: RUNTIME,
  /** An answer that is not a signature by the expected key. */
  SIGNER_BAD_RESPONSE: PEER,
  POLL_TIMEOUT: RUNTIME,

  CRYPTO_BAD_SIGNATURE: PEER,
  CRYPTO_HIGH_S: PEER,
  BLOCK_MALFORMED: PEER,

  CONSENSUS_WRONG_PROPOSER: PEER,
  CONSENSUS_BAD_PARENT_SEALS: PEER,
  CONSENSUS_BAD_SEALS: PEER,
  CONSENSUS_BAD_VALIDATOR_LIST: PEER,
  CONSENSUS_BAD_VOTE: PEER,
  CONSENSUS_BAD_EXTRA_DATA: PEER,
  SEAL_INVALID_SIGNATURE: PEER,
  SEAL_NOT_VALIDATOR: PEER,
  SEAL_DUPLICATE_SIGNER: PEER,
  SEAL_INSUFFICIENT: PEER,

  QBFT_MALFORMED: PEER,
  QBFT_TOO_LARGE: PEER,
  QBFT_BAD_SIGNATURE: PEER,
  QBFT_NOT_VALIDATOR: PEER,
  QBFT_WRONG_PROPOSER: PEER,
  QBFT_BAD_JUSTIFICATION: PEER,
  QBFT_BAD_ROUND_CHANGE: PEER,
  QBFT_BAD_COMMIT_SEAL: PEER,
  QBFT_BAD_BLOCK: PEER,
  QBFT_BLOCK_UNVERIFIABLE: PEER,
  QBFT_PAST_HEIGHT: PEER,
  QBFT_FUTURE_HEIGHT: PEER,
  QBFT_OLD_ROUND: PEER,
  QBFT_FUTURE_ROUND: PEER,
  QBFT_DUPLICATE: PEER,
  QBFT_EQUIVOCATION: PEER,
  QBFT_BUFFER_FULL: PEER,
  QBFT_HEIGHT_DECIDED: PEER,
  QBFT_NOT_RUNNING: PEER,
  QBFT_UNKNOWN_AUTHOR: PEER,
  QBFT_BAD_OPTIONS: RUNTIME,
  QBFT_BAD_VALIDATOR_SET: RUNTIME,
  QBFT_BAD_HEIGHT: RUNTIME,
  QBFT_NOT_STARTED: RUNTIME,

  PREVIEW_MALFORMED: PEER,
  PREVIEW_BAD_SIGNATURE: PEER,
  PREVIEW_WRONG_PROPOSER: PEER,
  PREVIEW_NOT_NEXT_HEIGHT: PEER,
  PREVIEW_PROPOSER_UNKNOWN: PEER,
  PREVIEW_OTHER_PARENT: PEER,
  PREVIEW_OWN: PEER,
  PREVIEW_NOT_EXTENDING: PEER,

  EXEC_STATE_ROOT_MISMATCH: PEER,
  EXEC_RECEIPTS_ROOT_MISMATCH: PEER,
  EXEC_GAS_USED_MISMATCH: PEER,
  EXEC_BLOOM_MISMATCH: PEER,
  EXEC_TX_ROOT_MISMATCH: PEER,
  EXEC_INVALID_TX: PEER,
  EXEC_PARENT_STATE_MISSING: RUNTIME,
  EXEC_BUILD_CLOSED: RUNTIME,
  EXEC_NOT_THE_EXECUTED_BLOCK: RUNTIME,
  EXEC_EXECUTION_CLOSED: RUNTIME,

  STORAGE_OPEN_FAILED: RUNTIME,
  STORAGE_CORRUPT: DATADIR,
  STORAGE_CLOSED: RUNTIME,
  STORAGE_SCHEMA_UNSUPPORTED: DATADIR,
  STORAGE_WRITE_FAILED: RUNTIME,

  /** The datadir was initialized with another genesis: the flags are wrong. */
  LEDGER_GENESIS_MISMATCH: INPUT,
  LEDGER_NOT_NEXT_BLOCK: PEER_RPC,
  LEDGER_KNOWN_BLOCK: PEER,
  LEDGER_INVALID_HEADER: PEER,
  LEDGER_INVALID_BODY: PEER,
  /** Ahead of our clock by more than the allowance: the block may be fine and our clock late. */
  // Our clock may be behind: never the sending peer's fault.
  LEDGER_FUTURE_TIMESTAMP: RUNTIME,
  /** Shutting down: the client may retry against another node. */
  LEDGER_CLOSED: RUNTIME_RPC,
  LEDGER_BUILD_ABANDONED: RUNTIME,
  LEDGER_SPECULATION_ENDED: RUNTIME,
  LEDGER_NEXT_BLOCK_VALIDATED: RUNTIME,
  LEDGER_BUILDING: RUNTIME,

  TX_INVALID_ENCODING: PEER_RPC,
  TX_OVERSIZED: PEER_RPC,
  TX_UNSUPPORTED_TYPE: PEER_RPC,
  TX_WRONG_CHAIN_ID: PEER_RPC,
  TX_UNPROTECTED: PEER_RPC,
  TX_HIGH_S: PEER_RPC,
  TX_INVALID_SIGNATURE: PEER_RPC,
  TX_NONCE_TOO_LOW: PEER_RPC,
  TX_NONCE_TOO_HIGH: PEER_RPC,
  TX_INSUFFICIENT_FUNDS: PEER_RPC,
  TX_INTRINSIC_GAS_TOO_LOW: PEER_RPC,
  TX_GAS_LIMIT_EXCEEDED: PEER_RPC,
  TX_FEE_CAP_TOO_LOW: PEER_RPC,
  TX_TIP_ABOVE_FEE_CAP: PEER_RPC,
  TX_ALREADY_KNOWN: PEER_RPC,
  TX_REPLACEMENT_UNDERPRICED: PEER_RPC,
  TX_POOL_FULL: RUNTIME_RPC,
  TX_SENDER_LIMIT: PEER_RPC,
  /** Wraps a pool failure of our own on a gossiped transaction; never an RPC answer. */
  TX_UNEXPECTED: RUNTIME,

  P2P_BAD_OPTIONS: RUNTIME,
  P2P_TOPIC_EXISTS: RUNTIME,
  P2P_TOPIC_BAD_OPTIONS: RUNTIME,
  P2P_NODE_KEY_INVALID: INPUT,
  P2P_NOT_STARTED: RUNTIME,
  P2P_BAD_MULTIADDR: INPUT,
  P2P_TOO_MANY_FRAMES: PEER,
  P2P_REQUEST_TOO_LARGE: PEER,
  P2P_FRAME_TOO_LARGE: PEER,
  P2P_FRAME_BAD_LENGTH: PEER,
  P2P_FRAME_TRUNCATED: PEER,
  P2P_BAD_MESSAGE: PEER,
  P2P_RATE_LIMITED: PEER,
  P2P_PEER_REFUSED_REQUEST: PEER,
  P2P_PEER_SERVER_ERROR: PEER,
  P2P_BAD_RESPONSE: PEER,
  P2P_NO_TOPIC_PEERS: RUNTIME,

  BLOCK_KNOWN: PEER,
  BLOCK_CONFLICT: PEER,
  BLOCK_FUTURE: PEER,
  BLOCK_FUTURE_TIMESTAMP: PEER,
  BLOCK_UNKNOWN_PARENT: PEER,
  BLOCK_INVALID: PEER,
  BLOCK_BAD_SEALS: PEER,
  BLOCK_NOT_DECIDABLE: PEER,

  RPC_OPTIONS_INVALID: INPUT,
  RPC_LISTEN_FAILED: RUNTIME,
  /** A validator of a multi-validator network started without p2p flags. */
  NODE_NO_CONSENSUS_TRANSPORT: INPUT,
  NODE_OPTIONS_INVALID: INPUT,
  NODE_TEST_HOOKS_REFUSED: INPUT,

  GENESIS_INVALID: INPUT,
  GENESIS_UNREADABLE: INPUT,
  /** `sidechain genesis` refuses to overwrite an existing network. */
  GENESIS_EXISTS: INPUT,

  CONTRACTS_COMPILER_VERSION: RUNTIME,
  CONTRACTS_COMPILE_FAILED: RUNTIME,
  CONTRACTS_NO_SOURCES: RUNTIME,
  CONTRACTS_DUPLICATE_NAME: RUNTIME,

  DEVNET_ABORTED: RUNTIME,
  DEVNET_BUSY: RUNTIME,
  DEVNET_DEPLOY_FAILED: RUNTIME,
  DEVNET_FLAGS_INVALID: INPUT,
  DEVNET_PORT_IN_USE: RUNTIME,
  DEVNET_PROCESS_EXITED: RUNTIME,
  DEVNET_START_TIMEOUT: RUNTIME,
  /** The state file of the devnet folder does not match the flags or does not parse. */
  DEVNET_STATE_INVALID: INPUT,
  DEVNET_STATE_LOST: RUNTIME,
  DEVNET_NOT_RUNNING: RUNTIME,
  DEVNET_UNKNOWN_PROCESS: INPUT,
  DEVNET_CONTROL_FAILED: RUNTIME,
  NETWORK_FLAGS_INVALID: INPUT,
  NETWORK_STATE_INVALID: INPUT,
  NETWORK_KEY_INVALID: INPUT,

  RELAYER_CONFIG_INVALID: INPUT,
  /** The config's RPC endpoints serve other chains than the config names. */
  RELAYER_CHAIN_MISMATCH: INPUT,
  RELAYER_SPEND_CAP: RUNTIME,
  RELAYER_PAYLOAD_CONFLICT: PEER,
  RELAYER_TX_REVERTED: RUNTIME,
  RELAYER_OUT_OF_GAS: RUNTIME,
  RELAYER_TX_LOST: RUNTIME,
  RELAYER_INCONSISTENT_VIEW: PEER,
  RELAYER_DEEP_REORG: RUNTIME,
  RELAYER_STOPPED: RUNTIME,
  /** A transaction would need more gas than the configured per-transaction cap (a release to a gas burner). */
  RELAYER_GAS_CAP: RUNTIME,
  /** The sidechain endpoint's header at the trusted checkpoint has another hash than the config's. */
  RELAYER_UNTRUSTED_CHECKPOINT: PEER,
  /** A header's fields do not hash to its hash, or it does not link to the last verified header. */
  RELAYER_HEADER_MISMATCH: PEER,
  /** A header lacks a quorum of commit seals of the validator set at its height (or breaks the chain's rules). */
  RELAYER_HEADER_UNSEALED: PEER,
  /** An eth_getProof answer does not verify against the verified header's state root. */
  RELAYER_PROOF_INVALID: PEER,
  /** The proven withdrawal record differs from the payload the endpoint presents (or does not exist). */
  RELAYER_WITHDRAWAL_UNPROVEN: PEER,
  /** The second L1 source reports another receipt for a deposit than the first. */
  RELAYER_L1_SOURCES_DISAGREE: PEER,

  BRIDGE_ARGUMENT_INVALID: INPUT,
  BRIDGE_KEY_INVALID: INPUT,
  BRIDGE_NETWORK_INVALID: INPUT,
  BRIDGE_INSUFFICIENT_BALANCE: RUNTIME,
  BRIDGE_PAUSED: RUNTIME,
  BRIDGE_UNKNOWN_TOKEN: RUNTIME,
  BRIDGE_BELOW_MINIMUM: RUNTIME,
  BRIDGE_OVER_LIMIT: RUNTIME,
  BRIDGE_NOT_FOUND: RUNTIME,
  BRIDGE_TIMEOUT: RUNTIME,
  BRIDGE_TX_REVERTED: RUNTIME,
  BRIDGE_TX_DROPPED: RUNTIME,
  BRIDGE_INSUFFICIENT_SIGNATURES: RUNTIME,
  BRIDGE_AUDIT_MISMATCH: RUNTIME,
  BRIDGE_RPC_UNAVAILABLE: RUNTIME,
  /** The vault holds less of the token (beyond what it owes claimants) than the release moves. */
  BRIDGE_VAULT_UNDERFUNDED: RUNTIME,

  BRIDGE_INVALID_ADDRESS: INPUT,
  BRIDGE_DUPLICATE_ADDRESS: INPUT,
  BRIDGE_INVALID_THRESHOLD: INPUT,
  BRIDGE_SET_TOO_LARGE: INPUT,
  BRIDGE_INVALID_LIMIT: INPUT,
  BRIDGE_INVALID_PARAMETER: INPUT,
  BRIDGE_NO_ACCOUNT: RUNTIME,
  BRIDGE_DEPLOY_FAILED: RUNTIME,
  BRIDGE_DUPLICATE_SIGNER: INPUT,

  /** Bad flags or an unreadable network file. */
  STATUS_FLAGS_INVALID: INPUT,
  STATUS_NODE_UNREACHABLE: RUNTIME,
  EXPLORER_OPTIONS_INVALID: INPUT,
  EXPLORER_RPC_UNAVAILABLE: RUNTIME,
  EXPLORER_CHAIN_MISMATCH: INPUT,
  EXPLORER_INDEX_CONFLICT: DATADIR,
  EXPLORER_LISTEN_FAILED: RUNTIME,
  EXPLORER_REQUEST_TOO_LARGE: PEER,
  VERIFY_INPUT_INVALID: INPUT,
  VERIFY_COMPILER_MISSING: INPUT,
  VERIFY_COMPILE_FAILED: INPUT,
  VERIFY_CONTRACT_NOT_FOUND: INPUT,
  VERIFY_NO_CODE: INPUT,
  VERIFY_BYTECODE_MISMATCH: INPUT,
  FAUCET_OPTIONS_INVALID: INPUT,
  FAUCET_BAD_REQUEST: INPUT,
  FAUCET_RATE_LIMITED: PEER,
  FAUCET_EMPTY: RUNTIME,
  FAUCET_SEND_FAILED: RUNTIME,
} as const satisfies Record<ErrorCode, ErrorTraits>

/** CLI exit code of each kind (0 is success, which no error has). */
export const EXIT_CODES = { input: 2, peer: 1, runtime: 1, datadir: 3 } as const satisfies Record<
  ErrorKind,
  1 | 2 | 3
>
