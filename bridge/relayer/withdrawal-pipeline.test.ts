/**
 * The sidechain scan against a scripted RPC: new withdrawals are journaled, and the age of the oldest pending one
 * (what the WithdrawalPendingTooLong alert reads) grows with the relayer's clock and restarts with the process.
 */
import path from 'node:path'
import t from 'tap'
import type { Address, LocalAccount, PublicClient } from 'viem'
import { silentLogger } from '../../chain/lib/logger.ts'
import { tempDir } from '../../test/support/chain.ts'
import { RelayerJournal } from '../journal/journal.ts'
import { RelayerMetrics } from './metrics.ts'
import type { TxSender } from './tx-sender.ts'
import { WithdrawalPipeline } from './withdrawal-pipeline.ts'

const RECIPIENT = '0x3333333333333333333333333333333333333333' as Address

function fakeSidechain(state: { head: bigint; withdrawals: number }) {
  return {
    getBlockNumber: async () => state.head,
    // The withdrawal count's storage slot: only a hint that a proof is worth asking for.
    getStorageAt: async () => `0x${state.withdrawals.toString(16)}`,
    readContract: async ({ functionName, args }: { functionName: string; args?: [bigint] }) => {
      if (functionName === 'withdrawalCount') return BigInt(state.withdrawals)
      if (functionName === 'getWithdrawal') {
        return { l1Token: RECIPIENT, l1Recipient: RECIPIENT, amount: 1000n + args![0] }
      }
      throw new Error(`unexpected ${functionName}`)
    },
  } as unknown as PublicClient
}

t.test('the oldest pending withdrawal ages with the clock', async (t) => {
  const dir = tempDir('withdrawal-pipeline-')
  const journal = new RelayerJournal(path.join(dir.path, 'journal'))
  await journal.open()
  t.teardown(async () => {
    await journal.close()
    dir.remove()
  })
  const state = { head: 10n, withdrawals: 0 }
  let now = 1_000_000
  const pipeline = (metrics: RelayerMetrics) =>
    new WithdrawalPipeline(
      {
        vault: RECIPIENT,
        bridge: '0x2222222222222222222222222222222222222222',
        l1ChainId: 31337,
        sidechainChainId: 1337,
        index: 0,
        count: 1,
        releaseTurnTimeoutMs: 60_000,
      },
      {
        l1: {} as PublicClient,
        sidechain: fakeSidechain(state),
        // The light client and the proofs are tested on their own (withdrawal-proof.test.ts,
        // light-client.test.ts); here the proven state is the scripted one.
        prover: {
          follow: async () => ({ number: state.head }) as never,
          prove: async (ids: readonly bigint[]) =>
            ({
              header: { number: state.head },
              withdrawalCount: BigInt(state.withdrawals),
              withdrawals: ids
                .filter((id) => id < BigInt(state.withdrawals))
                .map((id) => ({
                  withdrawalId: id,
                  token: RECIPIENT,
                  recipient: RECIPIENT,
                  amount: 1000n + id,
                })),
            }) as never,
          proveWithdrawal: async () => {
            throw new Error('not signing in this test')
          },
        },
        account: {} as LocalAccount,
        sidechainSender: {} as TxSender,
        l1Sender: {} as TxSender,
        journal,
        metrics,
        logger: silentLogger(),
        crash: () => {},
        now: () => now,
      },
    )
  const value = async (metrics: RelayerMetrics, name: 'oldestPendingWithdrawalSeconds') =>
    (await metrics[name].get()).values[0]?.value
  const metrics = new RelayerMetrics({ defaultMetrics: false })
  const first = pipeline(metrics)
  await first.load()
  await first.scan()
  t.equal(await value(metrics, 'oldestPendingWithdrawalSeconds'), 0, 'nothing pending: 0')
  state.withdrawals = 2
  await first.scan()
  t.equal(first.pendingCount, 2)
  now += 90_000
  state.head = 20n
  await first.scan()
  t.equal(await value(metrics, 'oldestPendingWithdrawalSeconds'), 90, 'seen 90 s ago')
  state.withdrawals = 3
  now += 10_000
  await first.scan()
  t.equal(await value(metrics, 'oldestPendingWithdrawalSeconds'), 100, 'the oldest one counts')
  const scanned = (await metrics.lastScannedBlock.get()).values[0]
  const target = (await metrics.scanTargetBlock.get()).values[0]
  t.same([scanned?.labels.chain, scanned?.value, target?.value], ['sidechain', 20, 20])

  // A restarted relayer counts from when it loaded the journal: the alert may fire later, never falsely.
  const restarted = new RelayerMetrics({ defaultMetrics: false })
  const second = pipeline(restarted)
  await second.load()
  t.equal(second.pendingCount, 3, 'pending withdrawals come back from the journal')
  now += 5_000
  await second.scan()
  t.equal(await value(restarted, 'oldestPendingWithdrawalSeconds'), 5)
})
