/**
 * The registry and its table: every code has exactly one owner and one row (tsc checks the
 * rows through `satisfies Record<ErrorCode, ...>`; this checks the lists at run time too),
 * and the edges derived from a row are the ones the CLI and RPC tests rely on.
 */
import t from 'tap'
import { ERROR_CODES, ERROR_TABLE, type ErrorCode, EXIT_CODES } from './error-codes.ts'
import { describeError, SidechainError } from './errors.ts'

const listed: string[] = Object.values(ERROR_CODES).flat()
const codes = Object.keys(ERROR_TABLE) as ErrorCode[]

t.test('every listed code has one owner and one row, and every row a listed code', (t) => {
  t.same(
    listed.filter((code, i) => listed.indexOf(code) !== i),
    [],
    'no code in two lists',
  )
  t.same([...codes].sort(), [...listed].sort(), 'the table rows are exactly the listed codes')
  for (const code of codes) t.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/, code)
  t.end()
})

/** Bad input: exit code 2. Everything else exits 1. */
const INPUT_CODES = [
  'KEY_FILE_INVALID',
  'GENESIS_INVALID',
  'GENESIS_UNREADABLE',
  'GENESIS_EXISTS',
  'RPC_OPTIONS_INVALID',
  'P2P_NODE_KEY_INVALID',
  'P2P_BAD_MULTIADDR',
  'NODE_NO_CONSENSUS_TRANSPORT',
  'NODE_OPTIONS_INVALID',
  'NODE_TEST_HOOKS_REFUSED',
  'LEDGER_GENESIS_MISMATCH',
  'DEVNET_FLAGS_INVALID',
  'DEVNET_STATE_INVALID',
  'DEVNET_UNKNOWN_PROCESS',
  'NETWORK_FLAGS_INVALID',
  'NETWORK_STATE_INVALID',
  'NETWORK_KEY_INVALID',
  'RELAYER_CONFIG_INVALID',
  'RELAYER_CHAIN_MISMATCH',
  'BRIDGE_ARGUMENT_INVALID',
  'BRIDGE_KEY_INVALID',
  'BRIDGE_NETWORK_INVALID',
  'BRIDGE_INVALID_ADDRESS',
  'BRIDGE_DUPLICATE_ADDRESS',
  'BRIDGE_INVALID_THRESHOLD',
  'BRIDGE_SET_TOO_LARGE',
  'BRIDGE_INVALID_LIMIT',
  'BRIDGE_INVALID_PARAMETER',
  'BRIDGE_DUPLICATE_SIGNER',
  'CONSENSUS_RECORD_WRONG_KEY',
  'CONSENSUS_RECORD_CORRUPT',
  'METRICS_OPTIONS_INVALID',
  'STATUS_FLAGS_INVALID',
  'EXPLORER_OPTIONS_INVALID',
  'EXPLORER_CHAIN_MISMATCH',
  'VERIFY_INPUT_INVALID',
  'VERIFY_COMPILER_MISSING',
  'VERIFY_COMPILE_FAILED',
  'VERIFY_CONTRACT_NOT_FOUND',
  'VERIFY_NO_CODE',
  'VERIFY_BYTECODE_MISMATCH',
  'FAUCET_OPTIONS_INVALID',
  'FAUCET_BAD_REQUEST',
  'KEY_FILE_WRONG_PASSWORD',
  'KEY_FILE_INSECURE',
  'KEY_FILE_EXISTS',
  'KEY_PASSWORD_MISSING',
  'SIGNER_URL_INVALID',
  'SIGNER_KEY_NOT_HELD',
] as const satisfies readonly ErrorCode[]

/** The datadir is refused (corrupt, unreadable schema): exit code 3, a supervisor must not restart. */
const DATADIR_CODES = [
  'STORAGE_CORRUPT',
  'STORAGE_SCHEMA_UNSUPPORTED',
  'EXPLORER_INDEX_CONFLICT',
] as const satisfies readonly ErrorCode[]

t.test('CLI exit codes: 2 for bad input, 3 for a refused datadir, 1 for everything else', (t) => {
  for (const code of codes) {
    const { exitCode, kind } = describeError(new SidechainError(code, 'm'))
    const expected = (INPUT_CODES as readonly string[]).includes(code)
      ? 2
      : (DATADIR_CODES as readonly string[]).includes(code)
        ? 3
        : 1
    t.equal(exitCode, expected, code)
    t.equal(exitCode, EXIT_CODES[ERROR_TABLE[code].kind], `${code}: from its kind`)
    t.equal(kind, ERROR_TABLE[code].kind)
  }
  t.end()
})

t.test('JSON-RPC: refused transactions and two ledger states are -32000, the rest -32603', (t) => {
  const exposed = new Set<string>([...ERROR_CODES.txpool, 'LEDGER_NOT_NEXT_BLOCK', 'LEDGER_CLOSED'])
  for (const code of codes) {
    const described = describeError(new SidechainError(code, 'm'))
    if (exposed.has(code)) {
      t.match(described, { rpcCode: -32000, rpcExposed: true }, code)
    } else {
      t.match(described, { rpcCode: -32603, rpcExposed: false }, code)
    }
  }
  t.end()
})

t.test('metric labels are the code and its kind (bounded)', (t) => {
  t.match(describeError(new SidechainError('P2P_BAD_RESPONSE', 'm')), {
    code: 'P2P_BAD_RESPONSE',
    kind: 'peer',
  })
  t.match(describeError(new SidechainError('GENESIS_INVALID', 'm')), {
    code: 'GENESIS_INVALID',
    kind: 'input',
  })
  t.match(describeError(new TypeError('x')), { code: 'UNEXPECTED', kind: 'unexpected' })
  t.end()
})
