import path from 'node:path'
import t from 'tap'
import { createTestClient, createWalletClient, http, parseEther, zeroAddress } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { DEV_MNEMONIC } from '../../chain/devnet/accounts.ts'
import { startAnvil } from '../../chain/lib/foundry.ts'
import { silentLogger } from '../../chain/lib/logger.ts'
import { tempDir, waitFor } from '../../test/support/chain.ts'
import { classifyError, isKnownTransaction } from '../core/classify.ts'
import { makePublicClient } from '../core/clients.ts'
import { bridgeVaultAbi, deployTestToken, deployVault, testTokenAbi } from '../deploy/index.ts'
import { RelayerJournal } from '../journal/journal.ts'
import { TxSender } from './tx-sender.ts'

t.test('TxSender on anvil', async (t) => {
  const anvil = await startAnvil({ chainId: 31337, extraArgs: ['--no-mining'] })
  t.teardown(() => anvil.stop())
  const dir = tempDir('tx-sender-')
  t.teardown(dir.remove)
  const client = makePublicClient({ url: anvil.url, chainId: 31337, pollingIntervalMs: 50 })
  const testClient = createTestClient({ transport: http(anvil.url), mode: 'anvil' })
  const deployer = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 0 })
  const sender = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 5 })
  const wallet = createWalletClient({
    chain: client.chain,
    transport: http(anvil.url),
    account: deployer,
  })

  // Mine in the background while deploying.
  const miner = setInterval(() => void testClient.mine({ blocks: 1 }).catch(() => {}), 50)
  const token = await deployTestToken(wallet, client, { name: 'T', symbol: 'T' })
  const vault = await deployVault(wallet, client, {
    owner: deployer.address,
    guardian: deployer.address,
    signers: [deployer.address],
    threshold: 1,
    tokens: [{ token: zeroAddress, depositsEnabled: true, maxPerTransaction: 1n, windowLimit: 1n }],
  })
  clearInterval(miner)

  const journal = new RelayerJournal(path.join(dir.path, 'journal'))
  await journal.open()
  t.teardown(() => journal.close())
  const abort = new AbortController()
  t.teardown(() => abort.abort())
  let replaced = 0
  const spent: bigint[] = []
  const makeSender = (spendCapWei: bigint) =>
    new TxSender(
      {
        chain: 'l1',
        chainId: 31337,
        stuckAfterMs: 300,
        bumpPercent: 25,
        receiptPollMs: 50,
        spendCapWei,
      },
      {
        client,
        account: sender,
        logger: silentLogger(),
        signal: abort.signal,
        journal,
        metrics: { replaced: () => replaced++, spent: (_c, total) => spent.push(total) },
      },
    )
  const mint = (amount: bigint) => ({
    address: token.address,
    abi: testTokenAbi,
    functionName: 'mint',
    args: [sender.address, amount],
    label: `mint(${amount})`,
  })

  await t.test('concurrent sends get consecutive nonces and are all mined', async (t) => {
    const s = makeSender(parseEther('1'))
    await s.init()
    const sends = [1n, 2n, 3n].map((n) => s.send(mint(n)))
    await waitFor(
      async () =>
        (await client.getTransactionCount({ address: sender.address, blockTag: 'pending' })) === 3,
      {
        what: 'three pending transactions',
      },
    )
    await testClient.mine({ blocks: 1 })
    const receipts = await Promise.all(sends)
    t.same(
      receipts.map((r) => r.status),
      ['success', 'success', 'success'],
    )
    const balance = await client.readContract({
      address: token.address,
      abi: testTokenAbi,
      functionName: 'balanceOf',
      args: [sender.address],
    })
    t.equal(balance, 6n)
    const total = receipts.reduce((sum, r) => sum + r.gasUsed * r.effectiveGasPrice, 0n)
    t.equal(
      await journal.getSpentWei(),
      total,
      'the journal holds the real cost of the mined receipts',
    )
    t.equal(s.totalSpentWei, total)
    t.same(await journal.inflightL1Txs(), [])
  })

  await t.test('a stuck transaction is replaced with higher fees', async (t) => {
    const s = makeSender(parseEther('1'))
    await s.init()
    const before = replaced
    const sending = s.send(mint(10n))
    await waitFor(() => replaced > before, { what: 'a replacement', timeoutMs: 5_000 })
    const inflight = await journal.inflightL1Txs()
    t.equal(inflight.length, 1)
    t.equal(inflight[0]!.hashes.length, 2, 'both versions are journaled')
    await testClient.mine({ blocks: 1 })
    const receipt = await sending
    t.equal(receipt.status, 'success')
    t.equal(receipt.transactionHash, inflight[0]!.hashes[1], 'the replacement was mined')
    const tx = await client.getTransaction({ hash: receipt.transactionHash })
    t.equal(
      tx.maxFeePerGas,
      inflight[0]!.maxFeePerGas,
      'the journal holds the fees of the newest version',
    )
    t.equal(tx.nonce, inflight[0]!.nonce)
  })

  await t.test('the spend cap refuses before broadcasting', async (t) => {
    const already = await journal.getSpentWei()
    const s = makeSender(already + 1000n)
    await s.init()
    const err = await s.send(mint(1n)).catch((e: unknown) => e)
    t.match(err, { code: 'RELAYER_SPEND_CAP' })
    t.match(classifyError(err), { disposition: 'retryable', kind: 'spend-cap' })
    t.equal(
      await client.getTransactionCount({ address: sender.address, blockTag: 'pending' }),
      await client.getTransactionCount({ address: sender.address, blockTag: 'latest' }),
      'nothing was sent',
    )
  })

  await t.test(
    'a call that would revert fails before a nonce is used, with its custom error',
    async (t) => {
      const s = makeSender(parseEther('1'))
      await s.init()
      const nonce = await client.getTransactionCount({
        address: sender.address,
        blockTag: 'pending',
      })
      const err = await s
        .send({
          address: vault.address,
          abi: bridgeVaultAbi,
          functionName: 'release',
          args: [
            {
              sourceChainId: 1337n,
              sourceBridge: vault.address,
              withdrawalId: 1n,
              token: zeroAddress,
              recipient: sender.address,
              amount: 1n,
              epoch: 0n,
            },
            [],
          ],
          label: 'release(1)',
        })
        .catch((e: unknown) => e)
      t.match(classifyError(err), { disposition: 'retryable', detail: 'InsufficientSignatures' })
      t.equal(
        await client.getTransactionCount({ address: sender.address, blockTag: 'pending' }),
        nonce,
      )
    },
  )

  await t.test(
    'a restarted sender resumes and bumps an in-flight transaction of the previous run',
    async (t) => {
      const firstRun = new AbortController()
      const s1 = new TxSender(
        {
          chain: 'l1',
          chainId: 31337,
          stuckAfterMs: 60_000,
          bumpPercent: 25,
          receiptPollMs: 50,
          spendCapWei: parseEther('1'),
        },
        { client, account: sender, logger: silentLogger(), signal: firstRun.signal, journal },
      )
      await s1.init()
      const abandoned = s1.send(mint(100n)).catch((e: unknown) => e)
      await waitFor(async () => (await journal.inflightL1Txs()).length === 1, {
        what: 'journaled tx',
      })
      firstRun.abort() // the process "dies" with the transaction in the pool
      t.match(await abandoned, { code: 'RELAYER_STOPPED' })
      const spentBefore = await journal.getSpentWei()

      const before = replaced
      const s2 = makeSender(parseEther('1'))
      await s2.init()
      await waitFor(() => replaced > before, {
        what: 'the resumed transaction to be bumped',
        timeoutMs: 5_000,
      })
      await testClient.mine({ blocks: 1 })
      await waitFor(async () => (await journal.inflightL1Txs()).length === 0, {
        what: 'resumed tx mined',
      })
      t.ok((await journal.getSpentWei()) > spentBefore, 'its cost is counted')
    },
  )

  await t.test(
    'the max fee cap stops bumping (the transaction is re-broadcast as is)',
    async (t) => {
      const fees = await client.estimateFeesPerGas()
      const s = new TxSender(
        {
          chain: 'l1',
          chainId: 31337,
          stuckAfterMs: 100,
          bumpPercent: 25,
          receiptPollMs: 50,
          maxFeePerGas: fees.maxFeePerGas,
        },
        { client, account: sender, logger: silentLogger(), signal: abort.signal },
      )
      await s.init()
      const before = replaced
      const sending = s.send(mint(5n))
      await new Promise((r) => setTimeout(r, 500))
      t.equal(replaced, before, 'no replacement above the cap')
      await testClient.mine({ blocks: 1 })
      t.equal((await sending).status, 'success')
    },
  )

  await t.test(
    "anvil's answers to a re-broadcast and to a used nonce are told apart",
    async (t) => {
      const other = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 7 })
      const fees = await client.estimateFeesPerGas()
      const nonce = await client.getTransactionCount({
        address: other.address,
        blockTag: 'latest',
      })
      // Two transactions with one nonce, told apart by their value.
      const raw = (value: bigint) =>
        other.signTransaction({
          type: 'eip1559',
          chainId: 31337,
          nonce,
          to: zeroAddress,
          value,
          gas: 21_000n,
          ...fees,
        })
      const first = await raw(1n)
      const send = (tx: `0x${string}`) =>
        client.request({ method: 'eth_sendRawTransaction', params: [tx] }).then(
          () => undefined,
          (err: unknown) => err,
        )
      t.equal(await send(first), undefined, 'first broadcast accepted')
      const again = await send(first)
      t.ok(again !== undefined, 'the node refuses the same bytes again')
      t.ok(isKnownTransaction(again), 'and the refusal reads as "already known" (success)')
      await testClient.mine({ blocks: 1 })
      const late = await send(await raw(2n))
      t.ok(late !== undefined, 'another transaction with the mined nonce is refused')
      t.notOk(isKnownTransaction(late), 'which is not success')
      t.match(classifyError(late), { disposition: 'retryable', kind: 'nonce' })
    },
  )

  await t.test(
    'the spend cap is per sliding window: spend older than the window no longer counts, across restarts',
    async (t) => {
      const cap = parseEther('1')
      const windowMs = 60_000
      let clock = 5_000_000
      const windowed = () =>
        new TxSender(
          {
            chain: 'l1',
            chainId: 31337,
            stuckAfterMs: 10_000,
            bumpPercent: 25,
            receiptPollMs: 50,
            spendCapWei: cap,
            spendWindowMs: windowMs,
          },
          {
            client,
            account: sender,
            logger: silentLogger(),
            signal: abort.signal,
            journal,
            now: () => clock,
          },
        )
      // Earlier releases used all but 1 wei of the cap, 10 s ago (as journaled by a previous run).
      const total = await journal.getSpentWei()
      await journal.recordL1Spend(total + cap - 1n, undefined, {
        atMs: clock - 10_000,
        wei: cap - 1n,
      })
      const first = windowed()
      await first.init()
      t.equal(first.spentInWindow(), cap - 1n, 'the journaled spend counts in the window')
      const refused = await first.send(mint(1n)).catch((e: unknown) => e)
      t.match(refused, { code: 'RELAYER_SPEND_CAP' }, 'refused while the spend is in the window')

      clock += windowMs // the earlier spend is now 70 s old
      const restarted = windowed()
      await restarted.init()
      t.equal(
        restarted.spentInWindow(),
        0n,
        'a restarted sender loads only the spend within the window',
      )
      const miner = setInterval(() => void testClient.mine({ blocks: 1 }).catch(() => {}), 50)
      t.teardown(() => clearInterval(miner))
      const receipt = await restarted.send(mint(1n))
      t.equal(receipt.status, 'success', 'the cap applies per window, not per lifetime')
      t.ok(restarted.spentInWindow() > 0n, 'and the new spend counts in the new window')
      clearInterval(miner)
    },
  )

  await t.test('a call estimated above its gas cap is refused before it is signed', async (t) => {
    const s = makeSender(parseEther('100'))
    await s.init()
    const before = await client.getTransactionCount({
      address: sender.address,
      blockTag: 'pending',
    })
    const err = await s.send({ ...mint(1n), maxGas: 30_000n }).catch((e: unknown) => e)
    t.match(err, { code: 'RELAYER_GAS_CAP' })
    t.match(classifyError(err), { disposition: 'permanent', kind: 'gas-cap' })
    t.equal(
      await client.getTransactionCount({ address: sender.address, blockTag: 'pending' }),
      before,
      'nothing was sent',
    )
  })
})
