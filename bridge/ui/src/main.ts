/// <reference lib="dom" />
/**
 * The bridge web app. Reads go straight to the chains' RPC endpoints from /config.json; transactions go through
 * the connected wallet. The checks before sending, the status of a transfer and the claim reuse the user
 * commands' code (bridge/core/preflight.ts, bridge/cli/track.ts, status.ts, claim.ts), so the page refuses what
 * the CLI refuses, with the same codes.
 *
 * Routes (the hash, so deep links and reloads need nothing from the server):
 *   #/deposit  #/withdraw  #/history  #/lookup   forms and lists
 *   #/deposit/N  #/withdrawal/N  #/tx/0xHASH     the live tracker of one transfer
 */
import {
  type Address,
  type Chain,
  createPublicClient,
  defineChain,
  erc20Abi,
  formatEther,
  formatUnits,
  type Hash,
  http,
  isAddress,
  type PublicClient,
  parseEventLogs,
  parseUnits,
  zeroAddress,
  zeroHash,
} from 'viem'
import { releaseArguments } from '../../cli/claim.ts'
import { fromTx } from '../../cli/status.ts'
import {
  type DepositStatus,
  depositStatusById,
  depositStatusByTx,
  describeGasDropRefusal,
  type TrackContext,
  type WithdrawalStatus,
  withdrawalStatus,
} from '../../cli/track.ts'
import { gasDropOutlook } from '../../core/gas-drop.ts'
import { checkDeposit, checkWithdrawal, type PreflightResult } from '../../core/preflight.ts'
import { bridgeVaultAbi, sidechainBridgeAbi } from '../../deploy/index.ts'
import type { UiConfig } from '../config.ts'
import { h, mount, short } from './dom.ts'
import { discoverProviders, type Wallet, walletOptions } from './wallet.ts'

interface TokenRow {
  symbol: string
  l1: Address
  decimals: number
}

const config = (await (await fetch('/config.json')).json()) as UiConfig
const chainOf = (c: { chainId: number; name: string; rpcUrl: string }): Chain =>
  defineChain({
    id: c.chainId,
    name: c.name,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [c.rpcUrl] } },
  })
const l1Chain = chainOf(config.l1)
const l2Chain = chainOf(config.l2)
const l1 = createPublicClient({
  chain: l1Chain,
  transport: http(),
  pollingInterval: 500,
}) as PublicClient
const l2 = createPublicClient({
  chain: l2Chain,
  transport: http(),
  pollingInterval: 300,
}) as PublicClient
const track: TrackContext = {
  l1,
  sidechain: l2,
  vault: config.l1.vault,
  bridge: config.l2.bridge,
  l1ChainId: config.l1.chainId,
  sidechainChainId: config.l2.chainId,
  confirmations: config.l1.confirmations,
  l1FromBlock: BigInt(config.l1.fromBlock),
  sidechainFromBlock: BigInt(config.l2.fromBlock),
}
const tokens: TokenRow[] = [
  { symbol: 'ETH', l1: zeroAddress, decimals: 18 },
  ...(await Promise.all(
    config.l1.tokens.map(async (t) => ({
      symbol: t.symbol,
      l1: t.address,
      decimals: await l1.readContract({
        address: t.address,
        abi: erc20Abi,
        functionName: 'decimals',
      }),
    })),
  )),
]

let wallet: Wallet | undefined
/** The wallet option last connected, reconnected after a reload (the page keeps nothing else). */
const SAVED_WALLET = 'sidechain-bridge.wallet'
let reconnecting = false
/** Bumped on every route change: a render of an older route stops. */
let generation = 0

const announced = discoverProviders(() => renderWallet())

// ---------------------------------------------------------------------------------------------------- helpers

const bridgeRead = <T>(functionName: string, args: readonly unknown[] = []) =>
  l2.readContract({
    address: config.l2.bridge,
    abi: sidechainBridgeAbi,
    functionName,
    args,
  } as never) as Promise<T>
const vaultRead = <T>(functionName: string, args: readonly unknown[] = []) =>
  l1.readContract({
    address: config.l1.vault,
    abi: bridgeVaultAbi,
    functionName,
    args,
  } as never) as Promise<T>
const wrappedOf = (l1Token: Address) => bridgeRead<Address>('wrappedTokenOf', [l1Token])
const amountText = (amount: bigint, t: { symbol: string; decimals: number }) =>
  `${formatUnits(amount, t.decimals)} ${t.symbol}`
const tokenByL1 = (l1Token: Address) =>
  tokens.find((t) => t.l1.toLowerCase() === l1Token.toLowerCase()) ?? {
    symbol: short(l1Token),
    l1: l1Token,
    decimals: 18,
  }

async function balanceOf(client: PublicClient, token: Address, owner: Address): Promise<bigint> {
  if (token === zeroAddress) return 0n
  return client.readContract({
    address: token,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [owner],
  })
}

function parseUserAmount(text: string, decimals: number): bigint | undefined {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) return undefined
  if ((text.split('.')[1] ?? '').length > decimals) return undefined
  return parseUnits(text.trim(), decimals)
}

function errorText(err: unknown): string {
  const e = err as { code?: string; shortMessage?: string; message?: string }
  const message = e.shortMessage ?? e.message ?? String(err)
  return typeof e.code === 'string' ? `${e.code}: ${message}` : message
}

function setStatus(id: string, text: string, kind: 'info' | 'error' = 'info') {
  mount(id, h('p', { class: kind, role: kind === 'error' ? 'alert' : 'status' }, text))
}

// ----------------------------------------------------------------------------------------------- wallet, banner

function renderWallet(): void {
  if (wallet !== undefined) {
    const w = wallet
    mount(
      'wallet',
      h('span', { id: 'account', 'data-address': w.address }, w.label),
      w.addChain !== undefined &&
        h(
          'button',
          { id: 'add-chain', type: 'button', onclick: () => void w.addChain?.(l2Chain) },
          'Add sidechain to wallet',
        ),
      w.watchToken !== undefined &&
        h(
          'button',
          {
            id: 'add-token',
            type: 'button',
            onclick: async () => {
              const token = await wrappedOf(zeroAddress)
              if (token !== zeroAddress)
                await w.watchToken?.({ address: token, symbol: 'bETH', decimals: 18 })
            },
          },
          'Add wrapped ETH to wallet',
        ),
      h(
        'button',
        { id: 'disconnect', type: 'button', onclick: () => connect(undefined, undefined) },
        'Disconnect',
      ),
    )
    return
  }
  const options = walletOptions(announced, config.devAccounts, { l1: l1Chain, l2: l2Chain })
  const saved = options.find((o) => o.id === localStorage.getItem(SAVED_WALLET))
  if (saved !== undefined && !reconnecting) {
    reconnecting = true
    saved.connect().then(
      (w) => connect(w, saved.id),
      () => localStorage.removeItem(SAVED_WALLET),
    )
  }
  mount(
    'wallet',
    options.length === 0
      ? h('p', {}, 'No wallet found: install a browser wallet to bridge.')
      : h(
          'div',
          { class: 'wallet-picker' },
          h('span', {}, 'Connect: '),
          options.map((o) =>
            h(
              'button',
              {
                type: 'button',
                'data-wallet': o.id,
                onclick: async () => {
                  try {
                    connect(await o.connect(), o.id)
                  } catch (err) {
                    setStatus('wallet-error', errorText(err), 'error')
                  }
                },
              },
              o.name,
            ),
          ),
          h('div', { id: 'wallet-error' }),
        ),
  )
}

function connect(w: Wallet | undefined, optionId: string | undefined): void {
  wallet = w
  if (optionId === undefined) localStorage.removeItem(SAVED_WALLET)
  else localStorage.setItem(SAVED_WALLET, optionId)
  renderWallet()
  void route()
}

async function renderBanner(): Promise<void> {
  const [vaultPaused, bridgePaused] = await Promise.all([
    vaultRead<boolean>('paused'),
    bridgeRead<boolean>('paused'),
  ])
  const lines = [
    vaultPaused &&
      'The L1 vault is paused: deposits and releases wait until the guardian unpauses it.',
    bridgePaused &&
      'The sidechain bridge is paused: mints, withdrawals and signatures wait until it is unpaused.',
  ].filter((l): l is string => typeof l === 'string')
  mount(
    'banner',
    lines.length > 0 &&
      h(
        'div',
        { id: 'paused-banner', role: 'alert' },
        lines.map((l) => h('p', {}, l)),
      ),
  )
}

async function renderBalances(): Promise<void> {
  if (wallet === undefined) {
    mount('balances')
    return
  }
  const me = wallet.address
  const rows = await Promise.all(
    tokens.map(async (t) => {
      const wrapped = await wrappedOf(t.l1)
      const onL1 =
        t.l1 === zeroAddress ? await l1.getBalance({ address: me }) : await balanceOf(l1, t.l1, me)
      return h(
        'tr',
        { 'data-token': t.symbol },
        h('td', {}, t.symbol),
        h('td', { class: 'l1' }, formatUnits(onL1, t.decimals)),
        h(
          'td',
          { class: 'l2' },
          wrapped === zeroAddress ? '0' : formatUnits(await balanceOf(l2, wrapped, me), t.decimals),
        ),
      )
    }),
  )
  const gas = await l2.getBalance({ address: me })
  mount(
    'balances',
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'Token'), h('th', {}, 'L1'), h('th', {}, 'Sidechain (wrapped)')),
      ),
      h('tbody', {}, rows),
    ),
    h(
      'p',
      { id: 'gas-balance', 'data-wei': gas.toString() },
      `Sidechain coin for gas: ${formatEther(gas)}`,
    ),
  )
}

// ------------------------------------------------------------------------------------------------------ forms

function tokenSelect(id: string): HTMLSelectElement {
  return h(
    'select',
    { id, name: id },
    tokens.map((t) => h('option', { value: t.l1 }, t.symbol)),
  )
}

function checksView(result: PreflightResult, lines: string[]): HTMLElement {
  return h(
    'div',
    {},
    h(
      'ul',
      { class: 'facts' },
      lines.map((l) => h('li', {}, l)),
    ),
    result.warnings.map((w) => h('p', { class: 'warning' }, w)),
    result.refusal !== undefined &&
      h(
        'p',
        { class: 'refusal', role: 'alert', 'data-code': result.refusal.code },
        `${result.refusal.code}: ${result.refusal.message}`,
      ),
  )
}

function debounce(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  return () => {
    clearTimeout(timer)
    timer = setTimeout(fn, ms)
  }
}

function depositView(): HTMLElement {
  const token = tokenSelect('deposit-token')
  const amount = h('input', {
    id: 'deposit-amount',
    inputmode: 'decimal',
    placeholder: '0.0',
    autocomplete: 'off',
  })
  const to = h('input', {
    id: 'deposit-to',
    placeholder: 'recipient on the sidechain (default: you)',
    autocomplete: 'off',
  })
  const send = h('button', { id: 'deposit-send', type: 'submit', disabled: true }, 'Deposit')
  let ready: (() => Promise<void>) | undefined
  const check = debounce(async () => {
    ready = undefined
    send.disabled = true
    const row = tokens.find((t) => t.l1 === token.value)!
    const value = parseUserAmount(amount.value, row.decimals)
    if (wallet === undefined || value === undefined) {
      mount(
        'deposit-checks',
        h('p', {}, wallet === undefined ? 'Connect a wallet to deposit.' : 'Enter an amount.'),
      )
      return
    }
    const me = wallet.address
    const recipient = to.value.trim() === '' ? me : to.value.trim()
    if (!isAddress(recipient, { strict: false })) {
      mount(
        'deposit-checks',
        h(
          'p',
          { class: 'refusal', 'data-code': 'BRIDGE_ARGUMENT_INVALID' },
          'BRIDGE_ARGUMENT_INVALID: the recipient is not an address',
        ),
      )
      return
    }
    const [vaultPaused, bridgePaused, tokenConfig, [, windowLeft], balance, gas] =
      await Promise.all([
        vaultRead<boolean>('paused'),
        bridgeRead<boolean>('paused'),
        vaultRead<{ depositsEnabled: boolean; maxPerTransaction: bigint }>('tokenConfig', [row.l1]),
        vaultRead<readonly [bigint, bigint]>('releaseWindow', [row.l1]),
        row.l1 === zeroAddress ? l1.getBalance({ address: me }) : balanceOf(l1, row.l1, me),
        gasDropOutlook(l2, config.l2.bridge, recipient as Address).catch(() => undefined),
      ])
    const result = checkDeposit({
      token: row.l1,
      unit: row,
      amount: value,
      vaultPaused,
      bridgePaused,
      depositsEnabled: tokenConfig.depositsEnabled,
      maxPerTransaction: tokenConfig.maxPerTransaction,
      balance,
    })
    const gasLine =
      gas === undefined || gas.kind === 'disabled'
        ? 'Gas on arrival: not offered by this bridge'
        : gas.kind === 'will-drop'
          ? `Gas on arrival: the recipient holds too little sidechain coin and gets ${formatEther(gas.amount)} with the mint`
          : gas.kind === 'refused'
            ? `Gas on arrival: none, ${describeGasDropRefusal(gas.reason)}`
            : gas.reason === 'already-dropped'
              ? 'Gas on arrival: already received once by this recipient'
              : 'Gas on arrival: not needed, the recipient has sidechain coin'
    mount(
      'deposit-checks',
      checksView(result, [
        `Per-transaction limit (what one withdrawal can bring back): ${amountText(tokenConfig.maxPerTransaction, row)}`,
        `Left in the vault's 24 h release window: ${amountText(windowLeft, row)}`,
        `Minimum: ${formatUnits(1n, row.decimals)} ${row.symbol}`,
        `Relayers wait for ${config.l1.confirmations} L1 confirmations`,
        gasLine,
      ]),
    )
    if (result.refusal !== undefined) return
    send.disabled = false
    ready = () => sendDeposit(row, value, recipient as Address)
  }, 150)
  const form = h(
    'form',
    {
      id: 'deposit-form',
      onsubmit: async (e: Event) => {
        e.preventDefault()
        if (ready === undefined) return
        send.disabled = true
        try {
          await ready()
        } catch (err) {
          setStatus('deposit-progress', errorText(err), 'error')
          send.disabled = false
        }
      },
    },
    h('h2', {}, 'Deposit: L1 → sidechain'),
    h('label', {}, 'Token ', token),
    h('label', {}, 'Amount ', amount),
    h('label', {}, 'Recipient ', to),
    h('div', { id: 'deposit-checks', 'aria-live': 'polite' }),
    send,
    h('div', { id: 'deposit-progress' }),
  )
  for (const el of [token, amount, to]) el.addEventListener('input', check)
  check()
  return form
}

async function sendDeposit(row: TokenRow, amount: bigint, to: Address): Promise<void> {
  const w = wallet!
  if (row.l1 !== zeroAddress) {
    const allowance = await l1.readContract({
      address: row.l1,
      abi: erc20Abi,
      functionName: 'allowance',
      args: [w.address, config.l1.vault],
    })
    if (allowance < amount) {
      setStatus('deposit-progress', `Approving the vault to take ${amountText(amount, row)}…`)
      const hash = await w.send(l1Chain, {
        address: row.l1,
        abi: erc20Abi,
        functionName: 'approve',
        args: [config.l1.vault, amount],
      })
      const receipt = await l1.waitForTransactionReceipt({ hash })
      if (receipt.status !== 'success') throw new Error(`the approval ${hash} reverted`)
    }
  }
  setStatus('deposit-progress', 'Sending the deposit on L1…')
  const hash = await w.send(
    l1Chain,
    row.l1 === zeroAddress
      ? {
          address: config.l1.vault,
          abi: bridgeVaultAbi,
          functionName: 'depositETH',
          args: [to],
          value: amount,
        }
      : {
          address: config.l1.vault,
          abi: bridgeVaultAbi,
          functionName: 'depositERC20',
          args: [row.l1, amount, to],
        },
  )
  setStatus('deposit-progress', `Deposit sent: ${hash}, waiting for it to be mined…`)
  const receipt = await l1.waitForTransactionReceipt({ hash })
  const log = parseEventLogs({ abi: bridgeVaultAbi, eventName: 'Deposited', logs: receipt.logs })[0]
  if (receipt.status !== 'success' || log === undefined)
    throw new Error(`the deposit ${hash} reverted`)
  location.hash = `#/deposit/${log.args.depositId}`
}

function withdrawView(): HTMLElement {
  const token = tokenSelect('withdraw-token')
  const amount = h('input', {
    id: 'withdraw-amount',
    inputmode: 'decimal',
    placeholder: '0.0',
    autocomplete: 'off',
  })
  const to = h('input', {
    id: 'withdraw-to',
    placeholder: 'recipient on L1 (default: you)',
    autocomplete: 'off',
  })
  const send = h('button', { id: 'withdraw-send', type: 'submit', disabled: true }, 'Withdraw')
  let ready: (() => Promise<void>) | undefined
  const refuse = (code: string, message: string) =>
    mount(
      'withdraw-checks',
      h('p', { class: 'refusal', role: 'alert', 'data-code': code }, `${code}: ${message}`),
    )
  const check = debounce(async () => {
    ready = undefined
    send.disabled = true
    const row = tokens.find((t) => t.l1 === token.value)!
    const value = parseUserAmount(amount.value, row.decimals)
    if (wallet === undefined || value === undefined) {
      mount(
        'withdraw-checks',
        h('p', {}, wallet === undefined ? 'Connect a wallet to withdraw.' : 'Enter an amount.'),
      )
      return
    }
    const me = wallet.address
    const recipient = to.value.trim() === '' ? me : to.value.trim()
    if (!isAddress(recipient, { strict: false })) {
      refuse('BRIDGE_ARGUMENT_INVALID', 'the recipient is not an address')
      return
    }
    const wrapped = await wrappedOf(row.l1)
    if (wrapped === zeroAddress) {
      refuse(
        'BRIDGE_UNKNOWN_TOKEN',
        `the bridge has no wrapped token for ${row.symbol} (nothing was ever deposited)`,
      )
      return
    }
    const [bridgePaused, vaultPaused, tokenConfig, [, windowLeft], balance, limits, gas] =
      await Promise.all([
        bridgeRead<boolean>('paused'),
        vaultRead<boolean>('paused'),
        vaultRead<{ maxPerTransaction: bigint }>('tokenConfig', [row.l1]),
        vaultRead<readonly [bigint, bigint]>('releaseWindow', [row.l1]),
        balanceOf(l2, wrapped, me),
        bridgeRead<{ minAmount: bigint; maxAmount: bigint }>('withdrawalLimits', [wrapped]),
        l2.getBalance({ address: me }),
      ])
    const result = checkWithdrawal({
      unit: row,
      amount: value,
      bridgePaused,
      vaultPaused,
      maxPerTransaction: tokenConfig.maxPerTransaction,
      windowAvailable: windowLeft,
      minAmount: limits.minAmount,
      maxAmount: limits.maxAmount,
      balance,
    })
    mount(
      'withdraw-checks',
      checksView(result, [
        `Per-transaction limit: ${amountText(limits.maxAmount !== 0n && limits.maxAmount < tokenConfig.maxPerTransaction ? limits.maxAmount : tokenConfig.maxPerTransaction, row)}`,
        `Left in the vault's 24 h release window: ${amountText(windowLeft, row)}`,
        `Minimum: ${amountText(limits.minAmount > 1n ? limits.minAmount : 1n, row)}`,
        `Sidechain coin for gas: ${formatEther(gas)}`,
      ]),
    )
    if (result.refusal !== undefined) return
    if (gas === 0n) {
      refuse('BRIDGE_INSUFFICIENT_BALANCE', 'no sidechain coin to pay the gas of the withdrawal')
      return
    }
    send.disabled = false
    ready = () => sendWithdrawal(wrapped, value, recipient as Address)
  }, 150)
  const form = h(
    'form',
    {
      id: 'withdraw-form',
      onsubmit: async (e: Event) => {
        e.preventDefault()
        if (ready === undefined) return
        send.disabled = true
        try {
          await ready()
        } catch (err) {
          setStatus('withdraw-progress', errorText(err), 'error')
          send.disabled = false
        }
      },
    },
    h('h2', {}, 'Withdraw: sidechain → L1'),
    h('label', {}, 'Token ', token),
    h('label', {}, 'Amount ', amount),
    h('label', {}, 'Recipient ', to),
    h('div', { id: 'withdraw-checks', 'aria-live': 'polite' }),
    send,
    h('div', { id: 'withdraw-progress' }),
  )
  for (const el of [token, amount, to]) el.addEventListener('input', check)
  check()
  return form
}

async function sendWithdrawal(wrapped: Address, amount: bigint, to: Address): Promise<void> {
  setStatus('withdraw-progress', 'Burning on the sidechain…')
  const hash = await wallet!.send(l2Chain, {
    address: config.l2.bridge,
    abi: sidechainBridgeAbi,
    functionName: 'withdraw',
    args: [wrapped, amount, to],
  })
  const receipt = await l2.waitForTransactionReceipt({ hash })
  const log = parseEventLogs({
    abi: sidechainBridgeAbi,
    eventName: 'WithdrawalInitiated',
    logs: receipt.logs,
  })[0]
  if (receipt.status !== 'success' || log === undefined)
    throw new Error(`the withdrawal ${hash} reverted`)
  location.hash = `#/withdrawal/${log.args.withdrawalId}`
}

// ---------------------------------------------------------------------------------------------------- tracker

type StageState = 'done' | 'active' | 'waiting'

function stage(
  key: string,
  state: StageState,
  title: string,
  ...detail: Array<HTMLElement | string | false>
) {
  return h(
    'li',
    { 'data-stage': key, 'data-state': state },
    h('strong', {}, title),
    ...detail.filter((d) => d !== false).map((d) => (typeof d === 'string' ? h('div', {}, d) : d)),
  )
}

async function depositTracker(s: DepositStatus): Promise<HTMLElement> {
  const t = tokenByL1(s.token)
  const relayers = await bridgeRead<Address[]>('relayers')
  const payload = s.minted
    ? undefined
    : await Promise.all(relayers.map((r) => bridgeRead<Hash>('voteOf', [s.depositId, r])))
  const confirmationsText =
    s.requiredConfirmations === 'finalized'
      ? s.confirmed
        ? 'finalized'
        : 'waiting for L1 finality'
      : `${Math.min(s.confirmations, s.requiredConfirmations)}/${s.requiredConfirmations}`
  const wait = s.minted
    ? 'Done: the wrapped tokens are on the sidechain.'
    : !s.confirmed
      ? `Waiting for L1 confirmations (${confirmationsText}): the relayers vote only once the deposit is ${s.requiredConfirmations} blocks deep, so a reorg cannot undo a mint.`
      : s.votes === 0n
        ? 'Confirmed on L1; waiting for the first relayer vote. If no vote comes within a minute, the relayers are offline or behind.'
        : `Waiting for ${s.threshold - s.votes} more relayer vote(s): the mint happens at ${s.threshold}.`
  return h(
    'section',
    {
      id: 'tracker',
      'data-kind': 'deposit',
      'data-id': String(s.depositId),
      'data-stage': s.stage,
    },
    h('h2', {}, `Deposit #${s.depositId}: ${amountText(s.amount, t)} to ${short(s.to)}`),
    h('p', { id: 'wait' }, wait),
    h(
      'ol',
      { id: 'stages' },
      stage('l1tx', 'done', 'L1 transaction', `${s.l1Tx} (block ${s.l1Block})`),
      stage(
        'confirmations',
        s.confirmed ? 'done' : 'active',
        `L1 confirmations ${confirmationsText}`,
      ),
      stage(
        'votes',
        s.minted ? 'done' : s.confirmed ? 'active' : 'waiting',
        `Relayer votes ${s.votes}/${s.threshold}`,
        payload !== undefined &&
          h(
            'ul',
            { class: 'relayers' },
            relayers.map((r, i) =>
              h(
                'li',
                { 'data-relayer': r },
                `${short(r)}: ${payload[i] === zeroHash ? 'not yet' : 'voted'}`,
              ),
            ),
          ),
      ),
      stage('minted', s.minted ? 'done' : 'waiting', 'Minted on the sidechain', s.mintTx ?? false),
      s.gasDrop !== undefined &&
        stage(
          'gas',
          'done',
          'Gas on arrival',
          'dropped' in s.gasDrop
            ? `${formatEther(s.gasDrop.dropped)} sidechain coin sent with the mint`
            : `none: ${describeGasDropRefusal(s.gasDrop.refused)}`,
        ),
    ),
  )
}

async function withdrawalTracker(s: WithdrawalStatus): Promise<HTMLElement> {
  const t = tokenByL1(s.l1Token)
  const [relayers, epoch, [, windowLeft], vaultPaused] = await Promise.all([
    bridgeRead<Address[]>('relayers'),
    bridgeRead<bigint>('l1SignerEpoch'),
    vaultRead<readonly [bigint, bigint]>('releaseWindow', [s.l1Token]),
    vaultRead<boolean>('paused'),
  ])
  const signed = await Promise.all(
    relayers.map((r) => bridgeRead<boolean>('hasSigned', [s.withdrawalId, epoch, r])),
  )
  const turn = Number(s.withdrawalId % BigInt(relayers.length))
  const enough = BigInt(s.signatures) >= s.threshold
  const wait = s.released
    ? 'Done: released on L1.'
    : vaultPaused
      ? 'The L1 vault is paused: the release waits until it is unpaused.'
      : !enough
        ? s.signatures === 0
          ? 'Waiting for the relayers to sign. If no signature comes within a minute, the relayers are offline.'
          : `Waiting for ${s.threshold - BigInt(s.signatures)} more relayer signature(s).`
        : s.amount > windowLeft
          ? `Signed, but the vault's 24 h release window has only ${amountText(windowLeft, t)} left: the release waits until the window frees up.`
          : `Signed: relayer number ${turn} (in the operators' order) has the first turn to release; if it does not, the next one steps in after the turn timeout. You can also claim it yourself now.`
  const canClaim = enough && !s.released
  return h(
    'section',
    {
      id: 'tracker',
      'data-kind': 'withdrawal',
      'data-id': String(s.withdrawalId),
      'data-stage': s.stage,
    },
    h(
      'h2',
      {},
      `Withdrawal #${s.withdrawalId}: ${amountText(s.amount, t)} to ${short(s.recipient)} on L1`,
    ),
    h('p', { id: 'wait' }, wait),
    h(
      'ol',
      { id: 'stages' },
      stage('burn', 'done', 'Burned on the sidechain', s.sidechainTx ?? ''),
      stage(
        'signatures',
        enough ? 'done' : 'active',
        `Relayer signatures ${s.signatures}/${s.threshold}`,
        h(
          'ul',
          { class: 'relayers' },
          relayers.map((r, i) =>
            h('li', { 'data-relayer': r }, `${short(r)}: ${signed[i] ? 'signed' : 'not yet'}`),
          ),
        ),
      ),
      stage(
        'released',
        s.released ? 'done' : enough ? 'active' : 'waiting',
        'Released on L1',
        s.releaseTx ?? false,
      ),
    ),
    canClaim &&
      h(
        'div',
        { class: 'claim' },
        h(
          'button',
          { id: 'claim', type: 'button', onclick: () => void claim(s.withdrawalId) },
          'Claim on L1 now',
        ),
        h('div', { id: 'claim-progress' }),
      ),
  )
}

async function claim(id: bigint): Promise<void> {
  if (wallet === undefined) {
    setStatus('claim-progress', 'Connect a wallet first: the claim is an L1 transaction.', 'error')
    return
  }
  try {
    const { withdrawal, signatures } = await releaseArguments(track, id)
    setStatus('claim-progress', 'Sending the release on L1…')
    const hash = await wallet.send(l1Chain, {
      address: config.l1.vault,
      abi: bridgeVaultAbi,
      functionName: 'release',
      args: [withdrawal, signatures],
    })
    const receipt = await l1.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new Error(`the release ${hash} reverted`)
    setStatus('claim-progress', `Released: ${hash}`)
  } catch (err) {
    setStatus('claim-progress', errorText(err), 'error')
  }
}

/** Re-renders the tracker every second until the transfer is done or the route changes. */
async function follow(load: () => Promise<HTMLElement>): Promise<void> {
  const mine = generation
  for (;;) {
    let view: HTMLElement
    try {
      view = await load()
    } catch (err) {
      if (mine !== generation) return
      setStatus('main', errorText(err), 'error')
      return
    }
    if (mine !== generation) return
    // Keep the claim progress text across re-renders.
    const progress = document.getElementById('claim-progress')?.cloneNode(true)
    mount('main', view)
    if (progress !== undefined) document.getElementById('claim-progress')?.replaceWith(progress)
    void renderBalances()
    if (view.dataset.stage === 'minted' || view.dataset.stage === 'released') return
    await new Promise((resolve) => setTimeout(resolve, 1000))
    if (mine !== generation) return
  }
}

// ---------------------------------------------------------------------------------------------------- history

async function historyView(): Promise<HTMLElement> {
  if (wallet === undefined) return h('p', {}, 'Connect a wallet to see its transfers.')
  const me = wallet.address.toLowerCase()
  const [deposits, withdrawals] = await Promise.all([
    l1.getContractEvents({
      address: config.l1.vault,
      abi: bridgeVaultAbi,
      eventName: 'Deposited',
      fromBlock: track.l1FromBlock,
      toBlock: 'latest',
    }),
    l2.getContractEvents({
      address: config.l2.bridge,
      abi: sidechainBridgeAbi,
      eventName: 'WithdrawalInitiated',
      fromBlock: track.sidechainFromBlock,
      toBlock: 'latest',
    }),
  ])
  const items = [
    ...deposits
      .filter((d) => d.args.from?.toLowerCase() === me || d.args.to?.toLowerCase() === me)
      .map((d) => ({
        key: `deposit:${d.args.depositId}`,
        href: `#/deposit/${d.args.depositId}`,
        text: `Deposit #${d.args.depositId}: ${amountText(d.args.amount!, tokenByL1(d.args.token!))} to ${short(d.args.to!)}`,
      })),
    ...withdrawals
      .filter((w) => w.args.from?.toLowerCase() === me || w.args.l1Recipient?.toLowerCase() === me)
      .map((w) => ({
        key: `withdrawal:${w.args.withdrawalId}`,
        href: `#/withdrawal/${w.args.withdrawalId}`,
        text: `Withdrawal #${w.args.withdrawalId}: ${amountText(w.args.amount!, tokenByL1(w.args.l1Token!))} to ${short(w.args.l1Recipient!)}`,
      })),
  ].reverse()
  return h(
    'section',
    { id: 'history' },
    h('h2', {}, 'Your transfers'),
    items.length === 0
      ? h('p', {}, 'No transfers yet.')
      : h(
          'ul',
          {},
          items.map((i) => h('li', { 'data-transfer': i.key }, h('a', { href: i.href }, i.text))),
        ),
  )
}

function lookupView(): HTMLElement {
  const input = h('input', {
    id: 'lookup-input',
    placeholder: '0x… transaction hash, deposit:N or withdrawal:N',
    autocomplete: 'off',
  })
  return h(
    'form',
    {
      id: 'lookup-form',
      onsubmit: (e: Event) => {
        e.preventDefault()
        const text = input.value.trim()
        if (/^0x[0-9a-fA-F]{64}$/.test(text)) location.hash = `#/tx/${text}`
        else if (/^(deposit|withdrawal):\d+$/.test(text))
          location.hash = `#/${text.replace(':', '/')}`
        else
          setStatus(
            'lookup-error',
            'BRIDGE_ARGUMENT_INVALID: give a transaction hash, deposit:N or withdrawal:N',
            'error',
          )
      },
    },
    h('h2', {}, 'Find a transfer'),
    input,
    h('button', { type: 'submit' }, 'Look up'),
    h('div', { id: 'lookup-error' }),
  )
}

// ------------------------------------------------------------------------------------------------------ routes

async function route(): Promise<void> {
  const mine = ++generation
  const path = location.hash.replace(/^#\/?/, '')
  const [section = 'deposit', arg] = path.split('/')
  mount(
    'nav',
    (['deposit', 'withdraw', 'history', 'lookup'] as const).map((name) =>
      h(
        'a',
        {
          href: `#/${name}`,
          'aria-current': section === name && arg === undefined ? 'page' : undefined,
        },
        name[0]!.toUpperCase() + name.slice(1),
      ),
    ),
  )
  void renderBanner()
  void renderBalances()
  if (section === 'deposit' && arg !== undefined) {
    return follow(async () => depositTracker(await depositStatusById(track, BigInt(arg))))
  }
  if (section === 'withdrawal' && arg !== undefined) {
    return follow(async () => withdrawalTracker(await withdrawalStatus(track, BigInt(arg))))
  }
  if (section === 'tx' && arg !== undefined) {
    try {
      if (!/^0x[0-9a-fA-F]{64}$/.test(arg))
        throw new Error(`BRIDGE_ARGUMENT_INVALID: ${arg} is not a transaction hash`)
      const target = await fromTx(track, arg as Hash)
      if (mine !== generation) return
      if ('tx' in target)
        return follow(async () => depositTracker(await depositStatusByTx(track, target.tx)))
      location.hash = `#/${target.kind === 'deposit' ? 'deposit' : 'withdrawal'}/${target.id}`
    } catch (err) {
      setStatus('main', errorText(err), 'error')
    }
    return
  }
  if (section === 'withdraw') mount('main', withdrawView())
  else if (section === 'history') mount('main', await historyView())
  else if (section === 'lookup') mount('main', lookupView())
  else mount('main', depositView())
}

window.addEventListener('hashchange', () => void route())
renderWallet()
void route()
