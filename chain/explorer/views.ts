/**
 * What each page shows, as plain data (served as JSON under /api/v1) and as HTML. Reads come
 * from the index; live values (balances, nonces, code, traces, validator status) from the
 * followed node.
 */
import {
  type Abi,
  type Address,
  BaseError,
  decodeErrorResult,
  encodeFunctionData,
  formatEther,
  formatUnits,
  type Hex,
  isAddress,
  isHash,
  type PublicClient,
  parseAbi,
} from 'viem'
import { bridgeStep, decodeCall, decodeLog } from './decode.ts'
import { esc, html, type Raw, raw } from './html.ts'
import type { Indexer } from './indexer.ts'
import type { ExplorerOptions } from './options.ts'
import type { IndexedBlock, IndexedTransaction, IndexStore, TokenTransfer } from './store.ts'

const BALANCE_OF = parseAbi(['function balanceOf(address) view returns (uint256)'])

export interface ViewModules {
  client: PublicClient
  store: IndexStore
  indexer: Indexer
  options: ExplorerOptions
}

export interface CallFrame {
  type: string
  from: string
  to?: string
  value?: string
  gasUsed?: string
  input?: string
  output?: string
  error?: string
  revertReason?: string
  calls?: CallFrame[]
}

export interface ValidatorRow {
  address: Hex
  lastSeenHeight: number | null
  proposalsInIndex: number
  missing: boolean
  qbft: {
    lastSeenAt: number | null
    proposalsMade: number
    proposalsMissed: number
    commitsIncluded: number
    equivocations: number
  } | null
}

const short = (h: string) => `${h.slice(0, 10)}…${h.slice(-6)}`
const link = {
  block: (n: number) => html`<a href="/block/${n}">${n}</a>`,
  tx: (h: string, full = false) => html`<a class="mono" href="/tx/${h}">${full ? h : short(h)}</a>`,
  address: (a: string | null) =>
    a === null
      ? html`<span class="muted">contract creation</span>`
      : html`<a class="mono" href="/address/${a}">${a}</a>`,
}

function age(timestamp: number, now: number): string {
  const s = Math.max(0, Math.round(now / 1000 - timestamp))
  return s < 90
    ? `${s}s ago`
    : s < 5400
      ? `${Math.round(s / 60)}m ago`
      : `${Math.round(s / 3600)}h ago`
}

export class Views {
  readonly #m: ViewModules

  constructor(modules: ViewModules) {
    this.#m = modules
  }

  // ---------- data ----------

  async homeData() {
    const status = this.#m.indexer.status()
    const blocks = await this.#m.store.recentBlocks(12)
    const transactions: IndexedTransaction[] = []
    for (const block of blocks) {
      for (const hash of [...block.transactions].reverse()) {
        if (transactions.length >= 12) break
        const tx = await this.#m.store.transaction(hash)
        if (tx !== undefined) transactions.push(tx)
      }
    }
    const times = blocks.map((b) => b.timestamp)
    const blockTime = times.length > 1 ? (times[0]! - times.at(-1)!) / (times.length - 1) : null
    return { status, blocks, transactions, blockTime, validators: await this.validatorsData() }
  }

  async validatorsData(): Promise<{ head: number | null; validators: ValidatorRow[] }> {
    const recent = await this.#m.store.recentBlocks(
      Math.max(64, this.#m.options.missingAfterBlocks * 4),
    )
    const head = recent[0]?.number ?? null
    const set = await this.#validatorSet(recent)
    let qbft: Array<{
      address: string
      lastSeenAt: number | null
      proposalsMade: number
      proposalsMissed: number
      commitsIncluded: number
      equivocations: number
    }> = []
    try {
      const status = (await this.#m.client.request({
        method: 'qbft_status' as 'eth_chainId',
      })) as unknown as { validators: typeof qbft }
      qbft = status.validators
    } catch {
      // The node may not expose the qbft namespace: the index alone decides then.
    }
    const validators = set.map((address) => {
      let lastSeenHeight: number | null = null
      let proposalsInIndex = 0
      for (const block of recent) {
        if (block.proposer === address) {
          proposalsInIndex++
          lastSeenHeight = Math.max(lastSeenHeight ?? 0, block.number)
        }
        // Seals in block N are the commits for block N-1.
        if (block.parentSealers.includes(address))
          lastSeenHeight = Math.max(lastSeenHeight ?? 0, block.number - 1)
      }
      const q = qbft.find((v) => v.address.toLowerCase() === address)
      return {
        address,
        lastSeenHeight,
        proposalsInIndex,
        missing:
          head !== null &&
          head >= this.#m.options.missingAfterBlocks &&
          (lastSeenHeight === null || head - lastSeenHeight >= this.#m.options.missingAfterBlocks),
        qbft:
          q === undefined
            ? null
            : {
                lastSeenAt: q.lastSeenAt,
                proposalsMade: q.proposalsMade,
                proposalsMissed: q.proposalsMissed,
                commitsIncluded: q.commitsIncluded,
                equivocations: q.equivocations,
              },
      }
    })
    return { head, validators }
  }

  /**
   * The validator set at the head: from the node (`qbft_getValidatorsByBlockNumber`), else
   * from the newest header that lists it, else everyone seen proposing or sealing lately.
   */
  async #validatorSet(recent: IndexedBlock[]): Promise<Hex[]> {
    try {
      const set = (await this.#m.client.request({
        method: 'qbft_getValidatorsByBlockNumber' as 'eth_chainId',
        params: ['latest'] as unknown as undefined,
      })) as unknown as string[]
      if (Array.isArray(set) && set.length > 0) return set.map((a) => a.toLowerCase() as Hex)
    } catch {
      // the qbft namespace may be off on the followed node
    }
    const listed = recent.find((b) => b.validators.length > 0)
    if (listed !== undefined) return listed.validators
    return [...new Set(recent.flatMap((b) => [b.proposer, ...b.parentSealers]))].sort()
  }

  async blockData(number: number) {
    const block = await this.#m.store.block(number)
    if (block === undefined) return undefined
    const child = await this.#m.store.block(number + 1)
    const transactions: IndexedTransaction[] = []
    for (const hash of block.transactions) {
      const tx = await this.#m.store.transaction(hash)
      if (tx !== undefined) transactions.push(tx)
    }
    return {
      block,
      /** Commit seals for this block travel in the next header. */
      commitSeals:
        child === undefined
          ? null
          : { round: child.parentCommitRound, signers: child.parentSealers },
      transactions,
    }
  }

  async txData(hash: string) {
    const tx = await this.#m.store.transaction(hash)
    if (tx === undefined) return undefined
    const abiOf = async (address: string | null) =>
      address === null
        ? undefined
        : ((await this.#m.store.verified(address))?.abi as Abi | undefined)
    const call = decodeCall(tx.input, await abiOf(tx.to))
    const logs = []
    for (const log of tx.logs)
      logs.push({ ...log, decoded: decodeLog(log, await abiOf(log.address)) ?? null })
    let trace: CallFrame | null = null
    try {
      trace = (await this.#m.client.request({
        method: 'debug_traceTransaction' as 'eth_chainId',
        params: [tx.hash, { tracer: 'callTracer' }] as unknown as undefined,
      })) as unknown as CallFrame
    } catch {
      // debug_ may be disabled on the followed node; the page says so.
    }
    const block = await this.#m.store.block(tx.blockNumber)
    const fee = BigInt(tx.gasUsed) * BigInt(tx.effectiveGasPrice)
    return {
      tx,
      timestamp: block?.timestamp ?? null,
      fee: fee.toString(),
      call: call ?? null,
      logs,
      revertReason:
        tx.status !== 'reverted'
          ? null
          : (trace?.revertReason ??
            trace?.error ??
            (await this.#replayRevert(tx, await abiOf(tx.to)))),
      trace,
      bridge: bridgeStep(call),
    }
  }

  /**
   * Without `debug_` on the followed node: the reason from replaying the call on the parent
   * block's state (the same answer unless an earlier transaction of the block changed it).
   */
  async #replayRevert(tx: IndexedTransaction, abi: Abi | undefined): Promise<string | null> {
    try {
      await this.#m.client.call({
        account: tx.from,
        to: tx.to,
        data: tx.input,
        value: BigInt(tx.value),
        gas: BigInt(tx.gas),
        blockNumber: BigInt(Math.max(0, tx.blockNumber - 1)),
      })
      return null
    } catch (err) {
      const data = revertData(err)
      if (data === undefined || data === '0x') return 'execution reverted'
      try {
        const decoded = decodeErrorResult({ abi: abi ?? [], data })
        return decoded.errorName === 'Error'
          ? String(decoded.args?.[0])
          : `${decoded.errorName}(${(decoded.args ?? []).map(String).join(', ')})`
      } catch {
        return `execution reverted (${data.slice(0, 10)})`
      }
    }
  }

  async addressData(address: Address, before?: string, transfersBefore?: string) {
    const [balance, nonce, code] = await Promise.all([
      this.#m.client.getBalance({ address }),
      this.#m.client.getTransactionCount({ address }),
      this.#m.client.getCode({ address }),
    ])
    const txs = await this.#m.store.addressTransactions(address, 25, before)
    const transfers = await this.#m.store.addressTransfers(address, 25, transfersBefore)
    const tokens = []
    for (const token of await this.#m.store.heldTokens(address)) {
      const info = await this.#m.store.token(token)
      if (info === undefined) continue
      let balanceOf: bigint | null = null
      try {
        balanceOf = await this.#m.client.readContract({
          address: token,
          abi: BALANCE_OF,
          functionName: 'balanceOf',
          args: [address],
        })
      } catch {
        // a token without balanceOf shows no balance
      }
      tokens.push({ ...info, balance: balanceOf?.toString() ?? null })
    }
    return {
      address: address.toLowerCase() as Hex,
      balance: balance.toString(),
      nonce,
      code: code ?? '0x',
      creation: (await this.#m.store.creation(address)) ?? null,
      verified: (await this.#m.store.verified(address)) ?? null,
      token: (await this.#m.store.token(address)) ?? null,
      transactions: txs.transactions,
      next: txs.next,
      transfers: transfers.transfers,
      transfersNext: transfers.next,
      tokens,
    }
  }

  /** Read-only call of a verified contract's function (the page's read tab). */
  async read(address: Address, functionName: string, args: unknown[]): Promise<string> {
    const verified = await this.#m.store.verified(address)
    if (verified === undefined) throw new Error('the contract is not verified')
    const result = await this.#m.client.readContract({
      address,
      abi: verified.abi as Abi,
      functionName,
      args,
    })
    return JSON.stringify(result, (_, v) => (typeof v === 'bigint' ? v.toString() : v))
  }

  /** Calldata for a write through the connected wallet (the page's write tab). */
  async encode(address: Address, functionName: string, args: unknown[]): Promise<Hex> {
    const verified = await this.#m.store.verified(address)
    if (verified === undefined) throw new Error('the contract is not verified')
    return encodeFunctionData({ abi: verified.abi as Abi, functionName, args })
  }

  /** Where a search goes: a path, or undefined when nothing matches. */
  async search(query: string): Promise<string | undefined> {
    const q = query.trim()
    if (/^\d+$/.test(q)) return `/block/${Number(q)}`
    if (isHash(q)) {
      if ((await this.#m.store.transaction(q)) !== undefined) return `/tx/${q.toLowerCase()}`
      for (const block of await this.#m.store.recentBlocks(1)) {
        for (let n = block.number; n >= 0 && n > block.number - 1000; n--) {
          const b = await this.#m.store.block(n)
          if (b?.hash === q.toLowerCase()) return `/block/${n}`
        }
      }
      return undefined
    }
    if (isAddress(q)) return `/address/${q.toLowerCase()}`
    const tokens = await this.#m.store.tokensBySymbol(q)
    if (tokens.length > 0) return `/address/${tokens[0]}`
    return undefined
  }

  // ---------- HTML ----------

  async homePage(): Promise<Raw> {
    const d = await this.homeData()
    const now = Date.now()
    const head = d.blocks[0]
    return html`<h1>Overview</h1>
<div class="card" data-testid="head">Head <b>${head === undefined ? '–' : link.block(head.number)}</b>
 · <span class="ok">final</span> (every imported block is final)
 · block time ${d.blockTime === null ? '–' : `${d.blockTime.toFixed(1)} s`}
 · indexed ${d.status.indexed ?? '–'} of ${d.status.head ?? '–'}
 ${d.status.failure === null ? '' : html`<div class="bad">indexing stopped: ${d.status.failure}</div>`}</div>
${this.#validatorTable(d.validators.validators, now)}
<h2>Recent blocks</h2>
<table><tr><th>Block</th><th>Age</th><th>Proposer</th><th>Round</th><th>Txs</th></tr>
${d.blocks.map((b) => html`<tr><td>${link.block(b.number)}</td><td>${age(b.timestamp, now)}</td><td>${link.address(b.proposer)}</td><td>${b.round}</td><td>${b.transactions.length}</td></tr>`)}</table>
<h2>Recent transactions</h2>
<table><tr><th>Hash</th><th>Block</th><th>From</th><th>To</th><th>Status</th></tr>
${d.transactions.map((t) => html`<tr><td>${link.tx(t.hash)}</td><td>${link.block(t.blockNumber)}</td><td>${link.address(t.from)}</td><td>${link.address(t.to ?? t.contractAddress)}</td><td class="${t.status === 'success' ? 'ok' : 'bad'}">${t.status}</td></tr>`)}</table>`
  }

  #validatorTable(rows: ValidatorRow[], now: number): Raw {
    return html`<h2>Validators</h2>
<table data-testid="validators"><tr><th>Validator</th><th>State</th><th>Last seen</th><th>Proposals made</th><th>Proposals missed</th><th>Commits</th></tr>
${rows.map(
  (v) => html`<tr data-validator="${v.address}"><td>${link.address(v.address)}</td>
<td class="${v.missing ? 'bad' : 'ok'}" data-testid="validator-state">${v.missing ? 'missing' : 'active'}</td>
<td>${v.lastSeenHeight === null ? 'never' : html`block ${link.block(v.lastSeenHeight)}`}${
    v.qbft?.lastSeenAt ? ` (${age(Math.floor(v.qbft.lastSeenAt / 1000), now)})` : ''
  }</td>
<td>${v.qbft?.proposalsMade ?? v.proposalsInIndex}</td><td>${v.qbft?.proposalsMissed ?? '–'}</td><td>${v.qbft?.commitsIncluded ?? '–'}</td></tr>`,
)}</table>`
  }

  async validatorsPage(): Promise<Raw> {
    const d = await this.validatorsData()
    return html`<h1>Validators at block ${d.head ?? '–'}</h1>${this.#validatorTable(d.validators, Date.now())}
<p class="muted">A validator is missing when it neither proposed nor signed a commit seal in the last ${this.#m.options.missingAfterBlocks} blocks.</p>`
  }

  async blockPage(number: number): Promise<Raw | undefined> {
    const d = await this.blockData(number)
    if (d === undefined) return undefined
    const b: IndexedBlock = d.block
    return html`<h1>Block ${b.number}</h1>
<table><tr><th>Hash</th><td class="mono">${b.hash}</td></tr>
<tr><th>Parent</th><td>${b.number > 0 ? link.block(b.number - 1) : '–'} <span class="mono muted">${b.parentHash}</span></td></tr>
<tr><th>Time</th><td>${new Date(b.timestamp * 1000).toISOString()}</td></tr>
<tr><th>Proposer</th><td>${link.address(b.proposer)}</td></tr>
<tr><th>Round</th><td>${b.round}</td></tr>
<tr><th>Gas used</th><td>${b.gasUsed} of ${b.gasLimit}</td></tr>
<tr><th>Base fee</th><td>${b.baseFeePerGas ?? '–'} wei</td></tr>
<tr><th>Commit seals</th><td data-testid="commit-seals">${
      d.commitSeals === null
        ? html`<span class="muted">carried in block ${b.number + 1}, not indexed yet</span>`
        : html`${d.commitSeals.signers.length} at round ${d.commitSeals.round}: ${d.commitSeals.signers.map((s) => html`<div>${link.address(s)}</div>`)}`
    }</td></tr></table>
<h2>${d.transactions.length} transactions</h2>${this.#txTable(d.transactions)}`
  }

  #txTable(txs: IndexedTransaction[]): Raw {
    return html`<table data-testid="transactions"><tr><th>Hash</th><th>Block</th><th>From</th><th>To</th><th>Value</th><th>Status</th></tr>
${txs.map((t) => html`<tr><td>${link.tx(t.hash)}</td><td>${link.block(t.blockNumber)}</td><td>${link.address(t.from)}</td><td>${link.address(t.to ?? t.contractAddress)}</td><td>${formatEther(BigInt(t.value))}</td><td class="${t.status === 'success' ? 'ok' : 'bad'}">${t.status}</td></tr>`)}</table>`
  }

  async txPage(hash: string): Promise<Raw | undefined> {
    const d = await this.txData(hash)
    if (d === undefined) return undefined
    const t = d.tx
    const bridgeLink =
      d.bridge !== undefined && this.#m.options.bridgeUiUrl !== undefined
        ? html`<tr><th>Bridge</th><td><a data-testid="bridge-link" href="${this.#m.options.bridgeUiUrl}#/tx/${t.hash}">track this ${d.bridge} in the bridge page</a></td></tr>`
        : ''
    return html`<h1>Transaction <span class="mono">${t.hash}</span></h1>
<table><tr><th>Status</th><td data-testid="tx-status" class="${t.status === 'success' ? 'ok' : 'bad'}">${t.status}</td></tr>
${d.revertReason === null ? '' : html`<tr><th>Revert reason</th><td data-testid="revert-reason" class="bad">${d.revertReason}</td></tr>`}
<tr><th>Block</th><td>${link.block(t.blockNumber)}${d.timestamp === null ? '' : ` · ${new Date(d.timestamp * 1000).toISOString()}`}</td></tr>
<tr><th>From</th><td>${link.address(t.from)}</td></tr>
<tr><th>To</th><td>${t.to === null ? html`created ${link.address(t.contractAddress)}` : link.address(t.to)}</td></tr>
<tr><th>Value</th><td>${formatEther(BigInt(t.value))} ETH</td></tr>
<tr><th>Gas used</th><td data-testid="gas-used">${t.gasUsed}</td></tr>
<tr><th>Gas limit</th><td>${t.gas}</td></tr>
<tr><th>Gas price</th><td>${t.effectiveGasPrice} wei</td></tr>
<tr><th>Fee</th><td>${formatEther(BigInt(d.fee))} ETH</td></tr>
<tr><th>Nonce</th><td>${t.nonce}</td></tr>
${bridgeLink}
<tr><th>Input</th><td>${
      d.call === null
        ? html`<span class="mono">${t.input.length > 2000 ? `${t.input.slice(0, 2000)}…` : t.input}</span>`
        : html`<div data-testid="decoded-call"><b>${d.call.name}</b>(${d.call.args.map((a, i) => html`${i > 0 ? ', ' : ''}${a.type} ${a.name} = <span class="mono">${a.value}</span>`)}) <span class="muted">${d.call.source === 'verified' ? 'verified ABI' : 'known signature'}</span></div>`
    }</td></tr></table>
<h2>Logs (${d.logs.length})</h2>
${d.logs.map(
  (log) =>
    html`<div class="card" data-testid="log"><div>${link.address(log.address)} #${log.logIndex}</div>${
      log.decoded === null
        ? html`<div class="mono">${log.topics.join(' ')}<br>${log.data}</div>`
        : html`<div><b data-testid="log-name">${log.decoded.name}</b>(${log.decoded.args.map((a, i) => html`${i > 0 ? ', ' : ''}${a.name}: <span class="mono">${a.value}</span>`)})</div>`
    }</div>`,
)}
<h2>Internal calls</h2>${
      d.trace === null
        ? html`<p class="muted">The followed node does not serve debug_traceTransaction.</p>`
        : html`<pre data-testid="trace">${renderTrace(d.trace, 0)}</pre>`
    }`
  }

  async addressPage(address: Address, before?: string, transfersBefore?: string): Promise<Raw> {
    const d = await this.addressData(address, before, transfersBefore)
    const isContract = d.code !== '0x'
    const tokenBalances = d.tokens.map(
      (t) =>
        html`<tr><td>${link.address(t.address)}</td><td>${t.symbol ?? '?'}</td><td>${
          t.balance === null
            ? '–'
            : t.kind === 'erc20'
              ? formatUnits(BigInt(t.balance), t.decimals ?? 0)
              : t.balance
        }</td></tr>`,
    )
    return html`<h1>${isContract ? 'Contract' : 'Address'} <span class="mono">${d.address}</span></h1>
<table><tr><th>Balance</th><td data-testid="balance">${formatEther(BigInt(d.balance))} ETH</td></tr>
<tr><th>Nonce</th><td>${d.nonce}</td></tr>
${d.token === null ? '' : html`<tr><th>Token</th><td>${d.token.name ?? '?'} (${d.token.symbol ?? '?'}) · ${d.token.kind}${d.token.decimals === null ? '' : ` · ${d.token.decimals} decimals`}</td></tr>`}
${d.creation === null ? '' : html`<tr><th>Created</th><td>by ${link.address(d.creation.creator)} in ${link.tx(d.creation.txHash)}</td></tr>`}
${isContract ? html`<tr><th>Source</th><td data-testid="verified">${d.verified === null ? 'not verified' : `${d.verified.match} match · ${d.verified.contractPath}:${d.verified.contractName} · ${d.verified.compilerVersion}`}</td></tr>` : ''}
</table>
${tokenBalances.length === 0 ? '' : html`<h2>Token balances</h2><table><tr><th>Token</th><th>Symbol</th><th>Balance</th></tr>${tokenBalances}</table>`}
<h2>Transactions</h2>${this.#txTable(d.transactions)}
${d.next === null ? '' : html`<p><a href="/address/${d.address}?before=${d.next}">older transactions</a></p>`}
<h2>Token transfers</h2>${transferTable(d.transfers)}
${d.transfersNext === null ? '' : html`<p><a href="/address/${d.address}?transfersBefore=${d.transfersNext}">older transfers</a></p>`}
${d.verified === null ? '' : contractTabs(d.address, d.verified.abi as Abi, d.verified.input.sources)}
${isContract && d.verified === null ? html`<h2>Code</h2><pre class="mono">${d.code.length > 20000 ? `${d.code.slice(0, 20000)}…` : d.code}</pre>` : ''}`
  }

  async tokensPage(): Promise<Raw> {
    const tokens = await this.#m.store.tokens()
    return html`<h1>Tokens</h1>
<table data-testid="tokens"><tr><th>Token</th><th>Name</th><th>Symbol</th><th>Kind</th><th>Decimals</th></tr>
${tokens.map((t) => html`<tr><td>${link.address(t.address)}</td><td>${t.name ?? '?'}</td><td>${t.symbol ?? '?'}</td><td>${t.kind}</td><td>${t.decimals ?? '–'}</td></tr>`)}</table>
<p class="muted">Tokens appear here once one of their transfers is indexed.</p>`
  }
}

/** The revert data inside a viem call error, wherever it sits in the cause chain. */
function revertData(err: unknown): Hex | undefined {
  let current: unknown = err
  while (current instanceof BaseError) {
    const data = (current as { data?: unknown }).data
    if (typeof data === 'string' && data.startsWith('0x')) return data as Hex
    current = current.cause
  }
  return undefined
}

function transferTable(transfers: TokenTransfer[]): Raw {
  return html`<table data-testid="transfers"><tr><th>Tx</th><th>Token</th><th>From</th><th>To</th><th>Value</th></tr>
${transfers.map((t) => html`<tr><td>${link.tx(t.txHash)}</td><td>${link.address(t.token)}</td><td>${link.address(t.from)}</td><td>${link.address(t.to)}</td><td>${t.value}</td></tr>`)}</table>`
}

function renderTrace(frame: CallFrame, depth: number): string {
  const pad = '  '.repeat(depth)
  const line = `${pad}${frame.type} ${frame.from} → ${frame.to ?? '?'}${
    frame.value !== undefined && frame.value !== '0x0' ? ` value ${BigInt(frame.value)}` : ''
  }${frame.gasUsed === undefined ? '' : ` gas ${BigInt(frame.gasUsed)}`}${
    frame.error === undefined ? '' : ` ✗ ${frame.revertReason ?? frame.error}`
  }`
  return [esc(line), ...(frame.calls ?? []).map((c) => renderTrace(c, depth + 1))].join('\n')
}

function contractTabs(
  address: string,
  abi: Abi,
  sources: Record<string, { content: string }>,
): Raw {
  const fns = abi.filter((i) => i.type === 'function') as unknown as Array<{
    name: string
    stateMutability: string
    inputs: Array<{ name?: string; type: string }>
  }>
  const form = (fn: (typeof fns)[number], kind: 'read' | 'write') =>
    html`<form class="call" data-kind="${kind}" data-fn="${fn.name}"><b>${fn.name}</b>(${fn.inputs.map(
      (input, i) => html`<input name="arg${i}" placeholder="${input.type} ${input.name ?? ''}">`,
    )}) <button>${kind === 'read' ? 'Query' : 'Write'}</button> <span class="result mono" data-testid="result-${fn.name}"></span></form>`
  const reads = fns.filter((f) => f.stateMutability === 'view' || f.stateMutability === 'pure')
  const writes = fns.filter((f) => f.stateMutability !== 'view' && f.stateMutability !== 'pure')
  return html`<h2>Contract</h2>
<div class="tabs"><button data-tab="source">Source</button><button data-tab="read">Read</button><button data-tab="write">Write</button></div>
<div data-panel="source">${Object.entries(sources).map(([name, s]) => html`<h3 class="mono">${name}</h3><pre data-testid="source">${s.content}</pre>`)}</div>
<div data-panel="read" hidden>${reads.map((f) => form(f, 'read'))}</div>
<div data-panel="write" hidden><p class="muted">Writes are sent by your wallet (window.ethereum).</p>${writes.map((f) => form(f, 'write'))}</div>
<script>${raw(contractScript(address))}</script>`
}

/** The only script of the explorer: tab switching and the read/write forms. */
function contractScript(address: string): string {
  return `(() => {
const address = ${JSON.stringify(address)};
for (const b of document.querySelectorAll('[data-tab]')) b.onclick = () => {
  for (const p of document.querySelectorAll('[data-panel]')) p.hidden = p.dataset.panel !== b.dataset.tab;
};
const parseArg = (v) => { const t = v.trim(); if (t.startsWith('[')) return JSON.parse(t); return t; };
for (const f of document.querySelectorAll('form.call')) f.onsubmit = async (e) => {
  e.preventDefault();
  const out = f.querySelector('.result');
  const args = [...f.querySelectorAll('input')].map((i) => parseArg(i.value));
  out.textContent = '…';
  try {
    const r = await fetch('/api/v1/' + (f.dataset.kind === 'read' ? 'read' : 'encode'), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ address, function: f.dataset.fn, args }) });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error);
    if (f.dataset.kind === 'read') { out.textContent = body.result; return; }
    if (!window.ethereum) throw new Error('no wallet: install or unlock one');
    const [from] = await window.ethereum.request({ method: 'eth_requestAccounts' });
    out.textContent = await window.ethereum.request({ method: 'eth_sendTransaction', params: [{ from, to: address, data: body.data }] });
  } catch (err) { out.textContent = 'error: ' + err.message; }
};
})();`
}
