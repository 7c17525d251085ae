/**
 * Seeded random sequences of deposits, confirmations (including a faulty relayer's forged ones), withdrawals,
 * signatures, releases and forged releases against the real contracts, both on one anvil. After every step, per
 * token: vault balance = deposited - released, wrapped supply = minted - burned, minted <= deposited and
 * released <= burned; forged releases (never-burned ids, inflated amounts) always fail.
 */
import fc from 'fast-check'
import t from 'tap'
import {
  type Address,
  getContract,
  type Hex,
  type LocalAccount,
  parseEventLogs,
  type TransactionReceipt,
  zeroAddress,
} from 'viem'
import {
  deployFeeOnTransferToken,
  deploySidechainBridge,
  deployTestToken,
  deployVault,
  signWithdrawal,
  sortSignaturesBySigner,
  type WithdrawalMessage,
} from '../bridge/deploy/index.ts'
import { revertOf, sortAccounts, startTestChain } from '../test/support/contracts.ts'
import {
  bridgeVaultAbi,
  sidechainBridgeAbi,
  testTokenAbi,
  wrappedTokenAbi,
} from './generated/index.ts'

const SEED = 20_240_601
const RUNS = 15
const FEE_BPS = 100n

const c = await startTestChain()
t.teardown(() => c.stop())

const [owner, guardian, a2, a3, a4, alice, bob, submitter] = c.accounts as [
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
]
const relayers = sortAccounts([a2, a3, a4])
/** Index into `relayers` of the relayer that also sends forged messages. */
const FAULTY = 2
const users = [alice, bob]
const ownerWallet = c.wallet(owner)
const big = 10n ** 30n

const testToken = (await deployTestToken(ownerWallet, c.publicClient, { name: 'T', symbol: 'T' }))
  .address
const feeToken = (
  await deployFeeOnTransferToken(ownerWallet, c.publicClient, {
    name: 'F',
    symbol: 'F',
    feeBps: Number(FEE_BPS),
  })
).address
const l1Tokens: Address[] = [zeroAddress, testToken, feeToken]
const vaultAddress = (
  await deployVault(ownerWallet, c.publicClient, {
    owner: owner.address,
    guardian: guardian.address,
    signers: relayers.map((r) => r.address),
    threshold: 2,
    tokens: l1Tokens.map((token) => ({
      token,
      depositsEnabled: true,
      maxPerTransaction: big,
      windowLimit: big,
    })),
  })
).address
const bridgeAddress = (
  await deploySidechainBridge(ownerWallet, c.publicClient, {
    owner: owner.address,
    guardian: guardian.address,
    relayers: relayers.map((r) => r.address),
    threshold: 2,
    l1ChainId: c.chain.id,
    l1Vault: vaultAddress,
  })
).address
const l1Domain = { chainId: c.chain.id, verifyingContract: vaultAddress }

const vaultAs = (a: LocalAccount) =>
  getContract({ address: vaultAddress, abi: bridgeVaultAbi, client: c.wallet(a) })
const bridgeAs = (a: LocalAccount) =>
  getContract({ address: bridgeAddress, abi: sidechainBridgeAbi, client: c.wallet(a) })
const erc20 = (address: Address, a: LocalAccount = submitter) =>
  getContract({ address, abi: testTokenAbi, client: c.wallet(a) })
const bridge = bridgeAs(submitter)

for (const user of users) {
  for (const token of [testToken, feeToken]) {
    await c.mined(erc20(token, user).write.mint([user.address, big]))
    await c.mined(erc20(token, user).write.approve([vaultAddress, 2n ** 256n - 1n]))
  }
}
const restore = await c.checkpoint()

type Action =
  | { kind: 'deposit'; token: number; user: number; to: number; amount: bigint }
  | { kind: 'confirm'; pick: number; relayers: number[] }
  | { kind: 'forgeDeposit'; pick: number; delta: bigint; future: boolean }
  | { kind: 'withdraw'; pick: number; to: number; percent: number }
  | { kind: 'sign'; pick: number; relayers: number[] }
  | { kind: 'release'; pick: number }
  | {
      kind: 'forgeRelease'
      pick: number
      variant: 'neverBurned' | 'inflated' | 'signUnknown'
      extra: bigint
    }

const relayerSubset = fc.oneof(
  { weight: 2, arbitrary: fc.subarray([0, 1, 2], { minLength: 2 }) },
  { weight: 1, arbitrary: fc.subarray([0, 1, 2], { minLength: 1, maxLength: 1 }) },
)
/**
 * Picks an index of `length` items: three times out of four among the `preferred` ones (those the action can make
 * progress on: unminted deposits, unsigned or releasable withdrawals), otherwise among all.
 */
function choose(length: number, preferred: number[], pick: number): number | undefined {
  if (length === 0) return undefined
  const pool = pick % 4 !== 3 && preferred.length > 0 ? preferred : [...Array(length).keys()]
  return pool[Math.floor(pick / 4) % pool.length]
}
const deposit = fc.record({
  kind: fc.constant('deposit' as const),
  token: fc.integer({ min: 0, max: 2 }),
  user: fc.integer({ min: 0, max: 1 }),
  to: fc.integer({ min: 0, max: 1 }),
  amount: fc.bigInt({ min: 1n, max: 1_000_000n }),
})
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: deposit },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('confirm' as const),
      pick: fc.nat(),
      relayers: relayerSubset,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('forgeDeposit' as const),
      pick: fc.nat(),
      delta: fc.bigInt({ min: 1n, max: 1_000_000n }),
      future: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('withdraw' as const),
      pick: fc.nat(),
      to: fc.integer({ min: 0, max: 1 }),
      percent: fc.integer({ min: 1, max: 100 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('sign' as const),
      pick: fc.nat(),
      relayers: relayerSubset,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('forgeRelease' as const),
      pick: fc.nat(),
      variant: fc.constantFrom('neverBurned' as const, 'inflated' as const, 'signUnknown' as const),
      extra: fc.bigInt({ min: 1n, max: 1_000_000n }),
    }),
  },
)

interface ModelDeposit {
  l1Token: Address
  to: Address
  credited: bigint
  minted: boolean
}
interface ModelWithdrawal {
  message: WithdrawalMessage
  signers: Set<number>
  released: boolean
}
interface Totals {
  deposited: bigint
  minted: bigint
  burned: bigint
  released: bigint
}

class Model {
  readonly deposits: ModelDeposit[] = []
  /** depositId -> relayer index -> whether its (single) vote was the honest payload. */
  readonly votes = new Map<number, Map<number, boolean>>()
  readonly withdrawals: ModelWithdrawal[] = []
  readonly totals = l1Tokens.map(
    (): Totals => ({ deposited: 0n, minted: 0n, burned: 0n, released: 0n }),
  )
  /** `${tokenIndex}:${userIndex}` -> wrapped balance. */
  readonly balances = new Map<string, bigint>()

  votesOf(id: number): Map<number, boolean> {
    let v = this.votes.get(id)
    if (v === undefined) {
      v = new Map()
      this.votes.set(id, v)
    }
    return v
  }

  balance(token: number, user: number): bigint {
    return this.balances.get(`${token}:${user}`) ?? 0n
  }

  addBalance(token: number, user: number, delta: bigint): void {
    this.balances.set(`${token}:${user}`, this.balance(token, user) + delta)
  }
}

const userIndex = (address: Address) => users.findIndex((u) => u.address === address)
const tokenIndex = (l1Token: Address) => l1Tokens.indexOf(l1Token)

function eventsOf(receipt: TransactionReceipt, eventName: 'DepositMinted' | 'DepositConfirmed') {
  return parseEventLogs({ abi: sidechainBridgeAbi, logs: receipt.logs, eventName })
}

async function run(m: Model, a: Action): Promise<void> {
  switch (a.kind) {
    case 'deposit': {
      const user = users[a.user]!
      const to = users[a.to]!.address
      const l1Token = l1Tokens[a.token]!
      const vault = vaultAs(user)
      const receipt = await c.mined(
        l1Token === zeroAddress
          ? vault.write.depositETH([to], { value: a.amount })
          : vault.write.depositERC20([l1Token, a.amount, to]),
      )
      const [event] = parseEventLogs({
        abi: bridgeVaultAbi,
        logs: receipt.logs,
        eventName: 'Deposited',
      })
      const expected = l1Token === feeToken ? a.amount - (a.amount * FEE_BPS) / 10_000n : a.amount
      if (event === undefined) throw new Error('no Deposited event')
      if (event.args.depositId !== BigInt(m.deposits.length)) {
        throw new Error(
          `depositId ${event.args.depositId}, expected ${m.deposits.length}: not contiguous`,
        )
      }
      if (event.args.amount !== expected)
        throw new Error(`credited ${event.args.amount}, expected ${expected}`)
      m.deposits.push({ l1Token, to, credited: expected, minted: false })
      m.totals[a.token]!.deposited += expected
      return
    }
    case 'confirm': {
      const unminted = [...m.deposits.keys()].filter((i) => !m.deposits[i]!.minted)
      const id = choose(m.deposits.length, unminted, a.pick)
      if (id === undefined) return
      const d = m.deposits[id]!
      for (const r of a.relayers) {
        const receipt = await c.mined(
          bridgeAs(relayers[r]!).write.confirmDeposit([BigInt(id), d.l1Token, d.to, d.credited]),
        )
        const votes = m.votesOf(id)
        let mintsNow = false
        if (!d.minted && !votes.has(r)) {
          votes.set(r, true)
          mintsNow = [...votes.values()].filter(Boolean).length >= 2
        }
        const minted = eventsOf(receipt, 'DepositMinted')
        if (minted.length !== (mintsNow ? 1 : 0)) {
          throw new Error(
            `deposit ${id}: ${minted.length} mints, model expected ${mintsNow ? 1 : 0}`,
          )
        }
        if (mintsNow) {
          d.minted = true
          const ti = tokenIndex(d.l1Token)
          m.totals[ti]!.minted += d.credited
          m.addBalance(ti, userIndex(d.to), d.credited)
        }
      }
      return
    }
    case 'forgeDeposit': {
      // The faulty relayer reports a payload that differs from the vault's event (or a deposit never made).
      const id =
        a.future || m.deposits.length === 0
          ? m.deposits.length + (a.pick % 3)
          : a.pick % m.deposits.length
      const real = m.deposits[id]
      // Amounts of real deposits stay below 10^6, so a forged future payload can never equal a real one.
      const payload = real ?? {
        l1Token: testToken,
        to: users[a.pick % 2]!.address,
        credited: 10n ** 12n,
        minted: false,
      }
      const receipt = await c.mined(
        bridgeAs(relayers[FAULTY]!).write.confirmDeposit([
          BigInt(id),
          payload.l1Token,
          payload.to,
          payload.credited + a.delta,
        ]),
      )
      if (eventsOf(receipt, 'DepositMinted').length !== 0)
        throw new Error('a forged payload minted')
      const votes = m.votesOf(id)
      if (!(real?.minted ?? false) && !votes.has(FAULTY)) votes.set(FAULTY, false)
      return
    }
    case 'withdraw': {
      // Some holder of some wrapped token withdraws part of its balance.
      const holders = [...m.balances].filter(([, b]) => b > 0n).sort(([x], [y]) => (x < y ? -1 : 1))
      if (holders.length === 0) return
      const [key, balance] = holders[a.pick % holders.length]!
      const [tokenIdx, userIdx] = key.split(':').map(Number) as [number, number]
      const w = { token: tokenIdx, user: userIdx }
      const amount = (balance * BigInt(a.percent)) / 100n || 1n
      const l1Token = l1Tokens[w.token]!
      const token = await bridge.read.wrappedTokenOf([l1Token])
      const recipient = users[a.to]!.address
      const receipt = await c.mined(
        bridgeAs(users[w.user]!).write.withdraw([token, amount, recipient]),
      )
      const [event] = parseEventLogs({
        abi: sidechainBridgeAbi,
        logs: receipt.logs,
        eventName: 'WithdrawalInitiated',
      })
      if (event?.args.withdrawalId !== BigInt(m.withdrawals.length))
        throw new Error('withdrawal ids not contiguous')
      m.withdrawals.push({
        message: {
          sourceChainId: BigInt(c.chain.id),
          sourceBridge: bridgeAddress,
          withdrawalId: event.args.withdrawalId,
          token: l1Token,
          recipient,
          amount,
          epoch: 0n,
        },
        signers: new Set(),
        released: false,
      })
      m.totals[w.token]!.burned += amount
      m.addBalance(w.token, w.user, -amount)
      return
    }
    case 'sign': {
      if (m.withdrawals.length === 0) return
      const unsigned = [...m.withdrawals.keys()].filter((i) => m.withdrawals[i]!.signers.size < 2)
      const index = choose(m.withdrawals.length, unsigned, a.pick)
      if (index === undefined) return
      const w = m.withdrawals[index]!
      for (const r of a.relayers) {
        const signature = await signWithdrawal(relayers[r]!, l1Domain, w.message)
        await c.mined(
          bridgeAs(relayers[r]!).write.submitSignature([w.message.withdrawalId, signature]),
        )
        w.signers.add(r)
      }
      return
    }
    case 'release': {
      if (m.withdrawals.length === 0) return
      const ready = [...m.withdrawals.keys()].filter(
        (i) => m.withdrawals[i]!.signers.size >= 2 && !m.withdrawals[i]!.released,
      )
      const index = choose(m.withdrawals.length, ready, a.pick)
      if (index === undefined) return
      const w = m.withdrawals[index]!
      const message = await bridge.read.l1Withdrawal([w.message.withdrawalId])
      const [, signatures] = await bridge.read.getSignatures([w.message.withdrawalId])
      if (signatures.length !== w.signers.size)
        throw new Error('stored signatures differ from the model')
      const vault = vaultAs(submitter)
      if (w.released) {
        const err = await revertOf(vault.simulate.release([message, [...signatures]]))
        if (err.name !== 'WithdrawalAlreadyProcessed')
          throw new Error(`second release: ${err.name}`)
      } else if (signatures.length < 2) {
        const err = await revertOf(vault.simulate.release([message, [...signatures]]))
        if (err.name !== 'InsufficientSignatures')
          throw new Error(`under-signed release: ${err.name}`)
      } else {
        // Headroom over the estimate: a release landing in a later second than its estimate
        // writes a new rate-limit checkpoint (about 17k more gas) and would run out.
        const gas = await vault.estimateGas.release([message, [...signatures]])
        await c.mined(vault.write.release([message, [...signatures]], { gas: (gas * 5n) / 4n }))
        w.released = true
        m.totals[tokenIndex(w.message.token)]!.released += w.message.amount
      }
      return
    }
    case 'forgeRelease': {
      const vault = vaultAs(submitter)
      const faulty = relayers[FAULTY]!
      const nextId = BigInt(m.withdrawals.length) + BigInt(a.pick % 3)
      if (a.variant === 'signUnknown') {
        // Honest relayers cannot even store a signature for a withdrawal that was never burned.
        const message = {
          sourceChainId: BigInt(c.chain.id),
          sourceBridge: bridgeAddress,
          withdrawalId: nextId,
          token: zeroAddress,
          recipient: faulty.address,
          amount: a.extra,
          epoch: 0n,
        }
        const err = await revertOf(
          bridgeAs(faulty).simulate.submitSignature([
            nextId,
            await signWithdrawal(faulty, l1Domain, message),
          ]),
        )
        if (err.name !== 'UnknownWithdrawal')
          throw new Error(`signature for an unknown withdrawal: ${err.name}`)
        return
      }
      // The faulty relayer signs the forgery and reuses every honest signature it can find on the sidechain.
      const source =
        m.withdrawals.length === 0 ? undefined : m.withdrawals[a.pick % m.withdrawals.length]
      const forged: WithdrawalMessage =
        a.variant === 'inflated' && source !== undefined
          ? { ...source.message, amount: source.message.amount + a.extra }
          : {
              sourceChainId: BigInt(c.chain.id),
              sourceBridge: bridgeAddress,
              withdrawalId: nextId,
              token: l1Tokens[a.pick % 3]!,
              recipient: faulty.address,
              amount: a.extra,
              epoch: 0n,
            }
      const stolen: { signer: Address; signature: Hex }[] = []
      if (source !== undefined) {
        const [signers, signatures] = await bridge.read.getSignatures([source.message.withdrawalId])
        signers.forEach((signer, i) => {
          if (signer !== faulty.address) stolen.push({ signer, signature: signatures[i]! })
        })
      }
      stolen.push({
        signer: faulty.address,
        signature: await signWithdrawal(faulty, l1Domain, forged),
      })
      const signatures = sortSignaturesBySigner(stolen).map((s) => s.signature)
      const err = await revertOf(vault.simulate.release([forged, signatures]))
      const allowed = ['NotSigner', 'InsufficientSignatures', 'WithdrawalAlreadyProcessed']
      if (!allowed.includes(err.name)) throw new Error(`forged release failed with ${err.name}`)
      if (err.name === 'WithdrawalAlreadyProcessed' && !(source?.released ?? false)) {
        throw new Error('a never-released id was reported as processed')
      }
      return
    }
  }
}

async function checkInvariants(m: Model): Promise<void> {
  await Promise.all(
    l1Tokens.map(async (l1Token, i) => {
      const totals = m.totals[i]!
      const vaultBalance =
        l1Token === zeroAddress
          ? await c.publicClient.getBalance({ address: vaultAddress })
          : await erc20(l1Token).read.balanceOf([vaultAddress])
      const wrapped = await bridge.read.wrappedTokenOf([l1Token])
      const supply =
        wrapped === zeroAddress
          ? 0n
          : await getContract({
              address: wrapped,
              abi: wrappedTokenAbi,
              client: c.publicClient,
            }).read.totalSupply()
      const label = `token ${i}`
      if (vaultBalance !== totals.deposited - totals.released) {
        throw new Error(
          `${label}: vault ${vaultBalance} != deposited ${totals.deposited} - released ${totals.released}`,
        )
      }
      if (supply !== totals.minted - totals.burned) {
        throw new Error(
          `${label}: supply ${supply} != minted ${totals.minted} - burned ${totals.burned}`,
        )
      }
      if (totals.minted > totals.deposited) throw new Error(`${label}: minted more than deposited`)
      if (totals.released > totals.burned) throw new Error(`${label}: released more than burned`)
    }),
  )
}

async function checkBalances(m: Model): Promise<void> {
  for (const [i, l1Token] of l1Tokens.entries()) {
    const wrapped = await bridge.read.wrappedTokenOf([l1Token])
    if (wrapped === zeroAddress) continue
    if (wrapped !== (await bridge.read.computeWrappedTokenAddress([l1Token]))) {
      throw new Error('wrapped token not at its CREATE2 address')
    }
    for (const [u, user] of users.entries()) {
      const onChain = await getContract({
        address: wrapped,
        abi: wrappedTokenAbi,
        client: c.publicClient,
      }).read.balanceOf([user.address])
      if (onChain !== m.balance(i, u))
        throw new Error(`token ${i} user ${u}: ${onChain} != ${m.balance(i, u)}`)
    }
  }
}

// A few deposits first, so that every sequence has something to confirm, withdraw and release.
const sequence = fc
  .tuple(
    fc.array(deposit, { minLength: 2, maxLength: 3 }),
    fc.array(action, { minLength: 25, maxLength: 30 }),
  )
  .map(([first, rest]): Action[] => [...first, ...rest])

t.test('random sequences keep L1 locks and sidechain supply in step', async (t) => {
  const stats = { runs: 0, actions: 0, mints: 0, withdrawals: 0, releases: 0, forgeries: 0 }
  await fc.assert(
    fc.asyncProperty(sequence, async (actions) => {
      await restore()
      const m = new Model()
      for (const a of actions) {
        await run(m, a)
        await checkInvariants(m)
        stats.actions++
        if (a.kind === 'forgeDeposit' || a.kind === 'forgeRelease') stats.forgeries++
      }
      await checkBalances(m)
      stats.runs++
      stats.mints += m.deposits.filter((d) => d.minted).length
      stats.withdrawals += m.withdrawals.length
      stats.releases += m.withdrawals.filter((w) => w.released).length
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  )
  t.comment(JSON.stringify(stats))
  // The sequences must exercise the interesting paths, not only no-ops.
  t.equal(stats.runs, RUNS)
  t.ok(stats.mints >= 20, `deposits minted: ${stats.mints}`)
  t.ok(stats.withdrawals >= 20, `withdrawals burned: ${stats.withdrawals}`)
  t.ok(stats.releases >= 5, `withdrawals released: ${stats.releases}`)
  t.ok(stats.forgeries >= 20, `forged messages tried: ${stats.forgeries}`)
})
