import path from 'node:path'
import t from 'tap'
import { type Address, type Hash, pad, zeroAddress } from 'viem'
import { tempDir } from '../../test/support/chain.ts'
import { RelayerJournal } from './journal.ts'

const RECIPIENT = '0x3333333333333333333333333333333333333333' as Address
const DIGEST = pad('0xd1', { size: 32 }) as Hash

t.test('signOnce persists before returning and never signs two payloads for one id', async (t) => {
  const dir = tempDir('journal-')
  t.teardown(dir.remove)
  const file = path.join(dir.path, 'j')
  let journal = new RelayerJournal(file)
  await journal.open()
  let signed = 0
  const sign = async () => {
    signed++
    return `0x${'ab'.repeat(65)}` as const
  }
  const payload = { token: zeroAddress, recipient: RECIPIENT, amount: 5n }
  const first = await journal.signOnce(7n, payload, 0n, DIGEST, sign)
  t.equal(first.fresh, true)
  const again = await journal.signOnce(7n, payload, 0n, DIGEST, sign)
  t.equal(again.fresh, false, 'the stored signature is reused')
  t.equal(signed, 1)

  await t.rejects(journal.signOnce(7n, { ...payload, amount: 6n }, 0n, DIGEST, sign), {
    code: 'RELAYER_PAYLOAD_CONFLICT',
  })
  await t.rejects(journal.signOnce(7n, { ...payload, recipient: zeroAddress }, 1n, DIGEST, sign), {
    code: 'RELAYER_PAYLOAD_CONFLICT',
  })
  await t.rejects(journal.signOnce(7n, payload, 0n, pad('0xd2', { size: 32 }) as Hash, sign), {
    code: 'RELAYER_PAYLOAD_CONFLICT',
  })
  t.equal(signed, 1, 'nothing was signed for a conflicting request')

  // Same payload, later signer epoch (rotation): allowed, both kept.
  const rotated = await journal.signOnce(7n, payload, 1n, pad('0xd3', { size: 32 }) as Hash, sign)
  t.equal(rotated.fresh, true)

  // Concurrent callers for one id: one signature.
  const results = await Promise.all([
    journal.signOnce(8n, payload, 0n, DIGEST, sign),
    journal.signOnce(8n, payload, 0n, DIGEST, sign),
  ])
  t.same(results.map((r) => r.fresh).sort(), [false, true])

  await journal.close()
  journal = new RelayerJournal(file)
  await journal.open()
  t.teardown(() => journal.close())
  const record = await journal.getSignature(7n)
  t.same(Object.keys(record?.byEpoch ?? {}).sort(), ['0', '1'], 'signatures survive a reopen')
  await t.rejects(journal.signOnce(7n, { ...payload, amount: 1n }, 2n, DIGEST, sign), {
    code: 'RELAYER_PAYLOAD_CONFLICT',
  })
})

t.test('deposits, withdrawals and cursors are written together and survive a reopen', async (t) => {
  const dir = tempDir('journal-')
  t.teardown(dir.remove)
  const file = path.join(dir.path, 'j')
  let journal = new RelayerJournal(file)
  await journal.open()
  t.equal(await journal.getCursor('l1'), undefined)
  const deposit = (id: bigint) => ({
    depositId: id,
    token: zeroAddress,
    from: RECIPIENT,
    to: RECIPIENT,
    amount: 10n ** 18n + id,
    blockNumber: 10n,
    blockHash: DIGEST,
    transactionHash: DIGEST,
    logIndex: 0,
    state: 'pending' as const,
  })
  // Ids beyond 255 check the key order (hex padded).
  await journal.recordDeposits([deposit(1n), deposit(300n)], {
    nextBlock: 11n,
    nextId: 301n,
    lastBlockHash: DIGEST,
  })
  await journal.recordWithdrawals(
    [{ withdrawalId: 4n, token: zeroAddress, recipient: RECIPIENT, amount: 3n, seenAtBlock: 2n }],
    { nextBlock: 3n, nextId: 5n },
  )
  await journal.updateDeposit({ ...deposit(1n), state: 'voted' })
  await journal.completeDeposit(300n)
  await journal.recordL1Spend(1234n)
  await journal.putInflightL1Tx({
    nonce: 3,
    label: 'release(1)',
    to: RECIPIENT,
    data: '0x',
    gas: 100_000n,
    maxFeePerGas: 5n,
    maxPriorityFeePerGas: 1n,
    hashes: [DIGEST],
    raw: '0x01',
    reservedWei: 500_000n,
  })
  await journal.close()

  journal = new RelayerJournal(file)
  await journal.open()
  t.teardown(() => journal.close())
  t.same(await journal.getCursor('l1'), { nextBlock: 11n, nextId: 301n, lastBlockHash: DIGEST })
  t.same(await journal.getCursor('sidechain'), {
    nextBlock: 3n,
    nextId: 5n,
    lastBlockHash: undefined,
  })
  const deposits = await journal.pendingDeposits()
  t.same(
    deposits.map((d) => [d.depositId, d.state, d.amount]),
    [[1n, 'voted', 10n ** 18n + 1n]],
  )
  t.same(
    (await journal.pendingWithdrawals()).map((w) => w.withdrawalId),
    [4n],
  )
  t.equal(await journal.getSpentWei(), 1234n)
  const inflight = await journal.inflightL1Txs()
  t.match(inflight, [{ nonce: 3, gas: 100_000n, reservedWei: 500_000n, hashes: [DIGEST] }])
  await journal.recordL1Spend(2000n, 3)
  t.same(await journal.inflightL1Txs(), [])
})

t.test('a second process cannot open the same datadir', async (t) => {
  const dir = tempDir('journal-')
  t.teardown(dir.remove)
  const file = path.join(dir.path, 'j')
  const a = new RelayerJournal(file)
  await a.open()
  t.teardown(() => a.close())
  // classic-level locks per process; another handle in the same process is refused too.
  const b = new RelayerJournal(file)
  await t.rejects(b.open(), { code: 'RELAYER_CONFIG_INVALID', message: /in use/ })
})
