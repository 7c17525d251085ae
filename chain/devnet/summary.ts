/** The text `sidechain devnet` prints once everything runs (the same facts as devnet.json, for people). */
import path from 'node:path'
import { formatEther } from 'viem'
import { TOKEN_MINT } from './contracts.ts'
import { type Devnet, displayPath } from './devnet.ts'
import { L1_BLOCK_TIME_S } from './layout.ts'
import { DEV_ACCOUNT_BALANCE } from './network.ts'

function amount(wei: bigint): string {
  return Number(formatEther(wei)).toLocaleString('en-US')
}

export function formatSummary(devnet: Devnet): string {
  const { info, topology, layout } = devnet
  const pad = (s: string, n: number) => s.padEnd(n)
  const lines: string[] = []
  const [tokenSymbol, tokenAddress] = Object.entries(info.l1.tokens)[0] ?? ['?', '?']
  lines.push(
    '',
    `Devnet ${devnet.resumed ? 'resumed' : 'started'}: data in ${displayPath(layout.root)}/, logs in ${displayPath(layout.logsDir)}/<name>.log`,
    '',
    `L1 (anvil)  chain ${info.l1.chainId}, ${L1_BLOCK_TIME_S} s blocks`,
    `  RPC              ${info.l1.rpcUrl}   WebSocket ${info.l1.wsUrl}`,
    `  BridgeVault      ${info.l1.vault}   (deposits wait ${info.l1.confirmations} L1 blocks)`,
    `  ${pad(`${tokenSymbol} (ERC-20)`, 17)}${tokenAddress}   (test token, allow-listed; anyone can mint)`,
    '',
    `Sidechain  chain ${info.l2.chainId}, ${topology.blockTimeMs} ms blocks, ${topology.validators} validator${topology.validators > 1 ? 's' : ''} (QBFT)`,
  )
  info.validators.forEach((v, i) => {
    lines.push(`  ${pad(`validator-${i}`, 17)}${v.rpcUrl}   ${info.l2.wsUrls[i]}   ${v.address}`)
    if (v.metricsUrl !== null) lines.push(`  ${pad('', 17)}metrics ${v.metricsUrl}`)
  })
  lines.push(
    `  SidechainBridge  ${info.l2.bridge}`,
    `  Multicall3       ${info.l2.multicall3}`,
    `  CREATE2 deployer ${info.l2.create2Deployer}`,
    '',
    `Relayers  ${topology.relayers}, threshold ${topology.threshold}`,
  )
  info.relayers.forEach((r, i) => {
    lines.push(`  ${pad(`relayer-${i}`, 17)}${r.address}   metrics ${r.metricsUrl}`)
  })
  if (info.explorer !== undefined)
    lines.push(
      '',
      `Explorer   ${info.explorer.url}`,
      `  verify contracts: forge verify-contract --verifier custom --verifier-url ${info.explorer.apiUrl} --verifier-api-key any ...`,
    )
  if (info.faucet !== undefined)
    lines.push(
      `Faucet     ${info.faucet.url}   (pays from dev account #${info.accounts.findIndex((a) => a.address === info.faucet?.account)})`,
    )
  lines.push(
    '',
    `Dev accounts  ${amount(DEV_ACCOUNT_BALANCE)} ETH on each chain, ${amount(TOKEN_MINT)} ${tokenSymbol} on L1; #0 owns and guards the bridge contracts`,
    '  (the public Foundry/Hardhat test keys: never use them on a real network)',
  )
  info.accounts.forEach((a, i) => {
    lines.push(`  ${pad(`#${i}`, 4)}${a.address}  ${a.privateKey}`)
  })
  const network = displayPath(layout.devnetJson)
  lines.push(
    '',
    ...(info.ui !== undefined
      ? [`Bridge web app: ${info.ui}  (wallet, deposit, withdraw, live tracker, claim)`]
      : []),
    `Endpoints and addresses as JSON: ${network}`,
    'Try:',
    `  npx cast block-number --rpc-url ${info.l2.rpcUrls[0]}`,
    `  npx sidechain bridge deposit --network ${network} --amount 1 --private-key ${info.accounts[1]?.privateKey}`,
    `  npx sidechain devnet status${layout.root === path.resolve('.devnet') ? '' : ` --datadir ${displayPath(layout.root)}`}      (stop|start|pause|resume <name>: one process by name)`,
    '',
    'A process that dies is restarted; Ctrl-C stops everything; `npm start` again resumes, `npm start -- --fresh` starts over.',
    '',
  )
  return lines.join('\n')
}
