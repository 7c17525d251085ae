import { existsSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { createGenesis } from '../../genesis/create.ts'
import { addP2POptions, addRpcOptions, runNode } from './node-command.ts'

/** Well-known dev accounts (the Foundry/Hardhat test mnemonic), funded on the devnet. */
export const DEV_ACCOUNTS = [
  {
    address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  },
  {
    address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    privateKey: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  },
  {
    address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    privateKey: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  },
] as const

export function registerDevnetCommand(program: Command): void {
  const command = program
    .command('devnet')
    .description('run a local single-validator devnet under --datadir (resumes unless --fresh)')
    .option('--datadir <dir>', 'devnet folder', '.devnet')
    .option('--fresh', 'delete the devnet folder first')
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'info')
  // A local devnet serves browser dapps too (like anvil): any origin unless --rpc-cors says otherwise.
  addP2POptions(addRpcOptions(command, { cors: ['*'] })).action(
    async (opts: {
      datadir: string
      fresh?: boolean
      logLevel: string
      rpc?: boolean
      rpcPort?: number
      rpcHost?: string
      rpcCors?: string[]
      p2pPort?: number
      p2pHost?: string
      bootnodes?: string[]
    }) => {
      const root = path.resolve(opts.datadir)
      if (opts.fresh === true) rmSync(root, { recursive: true, force: true })
      const genesisPath = path.join(root, 'genesis.json')
      if (!existsSync(genesisPath)) {
        createGenesis({
          outDir: root,
          chainId: 1337,
          newValidators: 1,
          fund: DEV_ACCOUNTS.map((a) => ({ address: a.address, balanceWei: 10_000n * 10n ** 18n })),
        })
      }
      process.stdout.write(`devnet genesis: ${genesisPath}\nfunded dev accounts:\n`)
      for (const a of DEV_ACCOUNTS) process.stdout.write(`  ${a.address}  key ${a.privateKey}\n`)
      await runNode({
        genesis: genesisPath,
        datadir: path.join(root, 'node-0'),
        validatorKey: path.join(root, 'validator-0.key'),
        logLevel: opts.logLevel,
        rpc: opts.rpc,
        rpcPort: opts.rpcPort,
        rpcHost: opts.rpcHost,
        rpcCors: opts.rpcCors,
        p2pPort: opts.p2pPort,
        p2pHost: opts.p2pHost,
        bootnodes: opts.bootnodes,
      })
    },
  )
}
