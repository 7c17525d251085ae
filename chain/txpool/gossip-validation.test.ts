import t from 'tap'
import { TxPoolError, type TxPoolErrorCode } from './errors.ts'
import { TX_GOSSIP_ACTIONS, validateGossipTransaction } from './gossip-validation.ts'
import type { PoolTx } from './txpool.ts'

const failing = (err: unknown) => ({
  addRaw: async (): Promise<PoolTx> => {
    throw err
  },
})

t.test('pool verdicts become gossip actions', async (t) => {
  const expected: Partial<Record<TxPoolErrorCode, 'IGNORE' | 'REJECT'>> = {
    TX_ALREADY_KNOWN: 'IGNORE',
    TX_NONCE_TOO_LOW: 'IGNORE',
    TX_INSUFFICIENT_FUNDS: 'IGNORE',
    TX_POOL_FULL: 'IGNORE',
    TX_INVALID_SIGNATURE: 'REJECT',
    TX_HIGH_S: 'REJECT',
    TX_WRONG_CHAIN_ID: 'REJECT',
    TX_INVALID_ENCODING: 'REJECT',
    TX_OVERSIZED: 'REJECT',
  }
  for (const [code, action] of Object.entries(expected)) {
    await t.rejects(
      validateGossipTransaction(
        failing(new TxPoolError(code as TxPoolErrorCode, 'x')),
        Uint8Array.of(1),
      ),
      { code, action },
      code,
    )
  }
  const rejects = Object.entries(TX_GOSSIP_ACTIONS)
    .filter(([, a]) => a === 'REJECT')
    .map(([c]) => c)
    .sort()
  t.same(
    rejects,
    [
      'TX_HIGH_S',
      'TX_INVALID_ENCODING',
      'TX_INVALID_SIGNATURE',
      'TX_OVERSIZED',
      'TX_WRONG_CHAIN_ID',
    ],
    'only stateless, provable faults are penalized',
  )
  await t.rejects(
    validateGossipTransaction(failing(new Error('db closed')), Uint8Array.of(1)),
    { code: 'TX_UNEXPECTED', action: 'IGNORE' },
    'our own failures are not the peer’s fault',
  )
  const ok = { addRaw: async () => ({ hash: '0x01' }) as PoolTx }
  t.equal((await validateGossipTransaction(ok, Uint8Array.of(1))).hash, '0x01', 'accepted')
})
