/**
 * Block import throughput through the real path: RLP decode, sender recovery, execution,
 * state root, one LevelDB batch per block. The same transfers are then mined by anvil in
 * the same run (raw transactions over JSON-RPC, one block per batch) for a ratio.
 * Two workloads: ETH transfers, or ERC-20 transfers of the network bench's token (deployed
 * in a first block that is imported before the clock starts).
 */
import { createBlockFromRLP } from '@ethereumjs/block'
import { createTx, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { encodeDeployData, encodeFunctionData, getContractAddress } from 'viem'
import type { Ledger } from '../../chain/ledger/ledger.ts'
import { startAnvil } from '../../chain/lib/foundry.ts'
import {
  buildSealedBlock,
  makeGenesis,
  openStaticLedger,
  tempDir,
  transfer,
} from '../support/chain.ts'
import { compileBenchToken } from './bench-token.ts'

export type ImportWorkload = 'eth' | 'erc20'

export interface ImportBenchResult {
  workload: ImportWorkload
  blocks: number
  txPerBlock: number
  ours: { transfersPerSec: number; mgasPerSec: number; msPerBlock: number }
  anvil: { transfersPerSec: number; mgasPerSec: number; msPerBlock: number } | undefined
}

export async function runImportBench(params: {
  blocks: number
  txPerBlock: number
  /** Default 'eth'. */
  workload?: ImportWorkload
  withAnvil?: boolean
  log?: (s: string) => void
  /** Wraps the measured import phase (profiling). */
  around?: <T>(fn: () => Promise<T>) => Promise<T>
}): Promise<ImportBenchResult> {
  const { blocks, txPerBlock } = params
  const workload = params.workload ?? 'eth'
  const log = params.log ?? (() => {})
  const senders = txPerBlock
  const chainId = 31337
  // One more account deploys the token; an ERC-20 transfer costs ~35k gas with the call.
  const gasPerTx = workload === 'eth' ? 21_000 : 80_000
  const setup = makeGenesis({
    accounts: senders + 1,
    chainId,
    config: { gasLimit: 30_000_000 + txPerBlock * gasPerTx },
  })
  const holders = setup.accounts.slice(0, senders)
  const deployer = setup.accounts[senders]!
  const [validator] = setup.validators
  const producerDir = tempDir('bench-producer-')
  const importerDir = tempDir('bench-importer-')
  try {
    // Setup (not measured): sign transfers and build the blocks once.
    const producer = await openStaticLedger(setup, producerDir.path)
    const common = producer.ledger.common
    let timestamp = 1_700_000_001_000
    const fees = { maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 1n }
    const signedCall = (
      from: (typeof holders)[number],
      nonce: bigint,
      to: Uint8Array | undefined,
      data: Uint8Array,
      gasLimit: bigint,
    ) =>
      createTx(
        { type: 2, chainId: BigInt(chainId), nonce, to, data, gasLimit, ...fees },
        { common },
      ).sign(from.privateKey)
    // The ERC-20 workload first deploys the token (imported before the clock starts).
    const setupBlocks: Array<{ rlp: Uint8Array; seal: Uint8Array }> = []
    const setupTxs: string[] = []
    let transferTx: (from: number, to: number, nonce: bigint) => TypedTransaction = (
      from,
      to,
      nonce,
    ) => transfer(common, holders[from]!, holders[to]!.address, nonce, 1_000n + nonce, fees)
    if (workload === 'erc20') {
      const token = compileBenchToken()
      // Deploy, then mint in chunks: one transaction may not use more than 2^24 gas.
      const chunk = 300
      const setupCalls: Uint8Array[] = [
        hexToBytes(encodeDeployData({ abi: token.abi, bytecode: token.bytecode, args: [[], 0n] })),
      ]
      for (let from = 0; from < senders; from += chunk) {
        const batch = holders.slice(from, from + chunk).map((h) => h.addressHex as `0x${string}`)
        setupCalls.push(
          hexToBytes(
            encodeFunctionData({ abi: token.abi, functionName: 'mint', args: [batch, 10n ** 24n] }),
          ),
        )
      }
      const tokenAddress = hexToBytes(
        getContractAddress({ from: deployer.addressHex as `0x${string}`, nonce: 0n }),
      )
      const setupSigned = setupCalls.map((data, nonce) =>
        signedCall(
          deployer,
          BigInt(nonce),
          nonce === 0 ? undefined : tokenAddress,
          data,
          16_000_000n,
        ),
      )
      timestamp += 1000
      const built = await buildSealedBlock(producer.ledger, validator!, setupSigned, timestamp)
      if (built.block.transactions.length !== setupSigned.length)
        throw new Error('token setup not included')
      await requireSuccess(producer.ledger, built.block.hash(), 'token setup')
      setupBlocks.push({ rlp: built.block.serialize(), seal: built.seal })
      setupTxs.push(...setupSigned.map((tx) => bytesToHex(tx.serialize())))
      transferTx = (from, to, nonce) =>
        signedCall(
          holders[from]!,
          nonce,
          tokenAddress,
          hexToBytes(
            encodeFunctionData({
              abi: token.abi,
              functionName: 'transfer',
              args: [holders[to]!.addressHex, 1n + nonce],
            }),
          ),
          80_000n,
        )
    }
    const encoded: Array<{ rlp: Uint8Array; seal: Uint8Array }> = []
    const rawTxs: string[][] = []
    for (let b = 0; b < blocks; b++) {
      const txs = holders.map((_, i) => transferTx(i, (i + 1) % senders, BigInt(b)))
      rawTxs.push(txs.map((tx) => bytesToHex(tx.serialize())))
      timestamp += 1000
      const built = await buildSealedBlock(producer.ledger, validator!, txs, timestamp)
      if (built.block.transactions.length !== txPerBlock)
        throw new Error(`block ${b} has ${built.block.transactions.length} txs`)
      await requireSuccess(producer.ledger, built.block.hash(), `block ${b}`)
      const { seal } = built
      encoded.push({ rlp: built.block.serialize(), seal })
      log(`built block ${b + 1}/${blocks}`)
    }
    await producer.db.close()

    // Measured: a fresh node imports the encoded blocks (after the setup blocks).
    const importer = await openStaticLedger(setup, importerDir.path)
    const importEncoded = async ({ rlp, seal }: { rlp: Uint8Array; seal: Uint8Array }) => {
      const block = createBlockFromRLP(rlp, {
        common: importer.ledger.common,
        skipConsensusFormatValidation: true,
      })
      await importer.ledger.importBlock(block, { seals: [seal] })
      return block.header.gasUsed
    }
    for (const setupBlock of setupBlocks) await importEncoded(setupBlock)
    let gas = 0n
    const around = params.around ?? ((fn) => fn())
    const started = performance.now()
    await around(async () => {
      for (const block of encoded) gas += await importEncoded(block)
    })
    const seconds = (performance.now() - started) / 1000
    await importer.db.close()
    const total = blocks * txPerBlock
    const ours = {
      transfersPerSec: total / seconds,
      mgasPerSec: Number(gas) / 1e6 / seconds,
      msPerBlock: (seconds * 1000) / blocks,
    }

    let anvil: ImportBenchResult['anvil']
    if (params.withAnvil !== false) anvil = await anvilFigures(setup, setupTxs, rawTxs, log)
    return { workload, blocks, txPerBlock, ours, anvil }
  } finally {
    producerDir.remove()
    importerDir.remove()
  }
}

/** Reverted transfers would be cheap and flatter the figures: every one must succeed. */
async function requireSuccess(ledger: Ledger, blockHash: Uint8Array, what: string) {
  const receipts = (await ledger.getReceipts(blockHash)) ?? []
  const failed = receipts.filter((r) => r.status !== 1).length
  if (failed > 0) throw new Error(`${what}: ${failed} transactions failed`)
}

async function anvilFigures(
  setup: ReturnType<typeof makeGenesis>,
  setupTxs: string[],
  rawTxs: string[][],
  log: (s: string) => void,
) {
  const anvil = await startAnvil({
    chainId: 31337,
    extraArgs: [
      '--no-mining',
      '--gas-limit',
      String(setup.genesis.config.gasLimit),
      '--base-fee',
      '100000000',
    ],
  })
  let id = 0
  const rpc = async (body: unknown) => {
    const res = await fetch(anvil.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return res.json() as Promise<unknown>
  }
  try {
    const balance = `0x${(10n ** 24n).toString(16)}`
    await rpc(
      setup.accounts.map((a) => ({
        jsonrpc: '2.0',
        id: id++,
        method: 'anvil_setBalance',
        params: [a.addressHex, balance],
      })),
    )
    await rpc({ jsonrpc: '2.0', id: id++, method: 'evm_mine', params: [] })
    const sendRaw = async (batch: string[]) => {
      const results = (await rpc(
        batch.map((raw) => ({
          jsonrpc: '2.0',
          id: id++,
          method: 'eth_sendRawTransaction',
          params: [raw],
        })),
      )) as Array<{ error?: unknown }>
      const failed = results.filter((r) => r.error !== undefined)
      if (failed.length > 0)
        throw new Error(`anvil refused ${failed.length} txs: ${JSON.stringify(failed[0])}`)
      await rpc({ jsonrpc: '2.0', id: id++, method: 'evm_mine', params: [] })
    }
    if (setupTxs.length > 0) {
      await sendRaw(setupTxs)
      await requireAnvilSuccess(rpc, 'latest', 'token setup')
    }
    const started = performance.now()
    for (const batch of rawTxs) await sendRaw(batch)
    const seconds = (performance.now() - started) / 1000
    // After the clock: every measured block must hold its whole batch, each tx succeeded.
    const head = (await rpc({ jsonrpc: '2.0', id: id++, method: 'eth_blockNumber' })) as {
      result: string
    }
    let gas = 0n
    for (let k = 0; k < rawTxs.length; k++) {
      const number = `0x${(BigInt(head.result) - BigInt(k)).toString(16)}`
      const block = (await rpc({
        jsonrpc: '2.0',
        id: id++,
        method: 'eth_getBlockByNumber',
        params: [number, false],
      })) as { result: { transactions: unknown[]; gasUsed: string } }
      if (block.result.transactions.length !== rawTxs[rawTxs.length - 1 - k]!.length)
        throw new Error('anvil did not mine every transaction')
      await requireAnvilSuccess(rpc, number, `anvil block ${number}`)
      gas += BigInt(block.result.gasUsed)
    }
    const total = rawTxs.length * rawTxs[0]!.length
    log('anvil done')
    return {
      transfersPerSec: total / seconds,
      mgasPerSec: Number(gas) / 1e6 / seconds,
      msPerBlock: (seconds * 1000) / rawTxs.length,
    }
  } finally {
    await anvil.stop()
  }
}

async function requireAnvilSuccess(
  rpc: (body: unknown) => Promise<unknown>,
  block: string,
  what: string,
) {
  const { result } = (await rpc({
    jsonrpc: '2.0',
    id: 0,
    method: 'eth_getBlockReceipts',
    params: [block],
  })) as { result: Array<{ status: string }> | null }
  const failed = (result ?? []).filter((r) => r.status !== '0x1').length
  if (result === null || failed > 0) throw new Error(`${what}: ${failed} transactions failed`)
}
