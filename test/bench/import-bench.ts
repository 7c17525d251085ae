/**
 * Block import throughput through the real path: RLP decode, sender recovery, execution,
 * state root, one LevelDB batch per block. The same transfers are then mined by anvil in
 * the same run (raw transactions over JSON-RPC, one block per batch) for a ratio.
 */
import { createBlockFromRLP } from '@ethereumjs/block'
import { bytesToHex } from '@ethereumjs/util'
import { startAnvil } from '../../chain/util/foundry.ts'
import {
  buildSealedBlock,
  makeGenesis,
  openStaticLedger,
  tempDir,
  transfer,
} from '../helpers/chain.ts'

export interface ImportBenchResult {
  blocks: number
  txPerBlock: number
  ours: { transfersPerSec: number; mgasPerSec: number; msPerBlock: number }
  anvil: { transfersPerSec: number; mgasPerSec: number; msPerBlock: number } | undefined
}

export async function runImportBench(params: {
  blocks: number
  txPerBlock: number
  withAnvil?: boolean
  log?: (s: string) => void
  /** Wraps the measured import phase (profiling). */
  around?: <T>(fn: () => Promise<T>) => Promise<T>
}): Promise<ImportBenchResult> {
  const { blocks, txPerBlock } = params
  const log = params.log ?? (() => {})
  const senders = txPerBlock
  const chainId = 31337
  const setup = makeGenesis({
    accounts: senders,
    chainId,
    config: { gasLimit: 30_000_000 + txPerBlock * 21_000 },
  })
  const [validator] = setup.validators
  const producerDir = tempDir('bench-producer-')
  const importerDir = tempDir('bench-importer-')
  try {
    // Setup (not measured): sign transfers and build the blocks once.
    const producer = await openStaticLedger(setup, producerDir.path)
    const encoded: Array<{ rlp: Uint8Array; seal: Uint8Array }> = []
    const rawTxs: string[][] = []
    let timestamp = 1_700_000_001_000
    for (let b = 0; b < blocks; b++) {
      const txs = setup.accounts.map((from, i) =>
        transfer(
          producer.ledger.common,
          from,
          setup.accounts[(i + 1) % senders]!.address,
          BigInt(b),
          1_000n + BigInt(b),
          {
            maxFeePerGas: 10n ** 11n,
            maxPriorityFeePerGas: 1n,
          },
        ),
      )
      rawTxs.push(txs.map((tx) => bytesToHex(tx.serialize())))
      timestamp += 1000
      const built = await buildSealedBlock(producer.ledger, validator!, txs, timestamp)
      if (built.block.transactions.length !== txPerBlock)
        throw new Error(`block ${b} has ${built.block.transactions.length} txs`)
      const { seal } = built
      encoded.push({ rlp: built.block.serialize(), seal })
      log(`built block ${b + 1}/${blocks}`)
    }
    await producer.db.close()

    // Measured: a fresh node imports the encoded blocks.
    const importer = await openStaticLedger(setup, importerDir.path)
    let gas = 0n
    const around = params.around ?? ((fn) => fn())
    const started = performance.now()
    await around(async () => {
      for (const { rlp, seal } of encoded) {
        const block = createBlockFromRLP(rlp, {
          common: importer.ledger.common,
          skipConsensusFormatValidation: true,
        })
        await importer.ledger.importBlock(block, { seals: [seal] })
        gas += block.header.gasUsed
      }
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
    if (params.withAnvil !== false) anvil = await anvilFigures(setup, rawTxs, log)
    return { blocks, txPerBlock, ours, anvil }
  } finally {
    producerDir.remove()
    importerDir.remove()
  }
}

async function anvilFigures(
  setup: ReturnType<typeof makeGenesis>,
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
    let gas = 0n
    const started = performance.now()
    for (const batch of rawTxs) {
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
      gas += 21_000n * BigInt(batch.length)
    }
    const seconds = (performance.now() - started) / 1000
    const block = (await rpc({
      jsonrpc: '2.0',
      id: id++,
      method: 'eth_getBlockByNumber',
      params: ['latest', false],
    })) as { result: { transactions: unknown[] } }
    if (block.result.transactions.length !== rawTxs.at(-1)!.length)
      throw new Error('anvil did not mine every transaction')
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
