/**
 * Gas on arrival (SidechainBridge): the minting vote sends a one-time drop of native coin from the bridge's reserve
 * to a recipient that holds too little, capped per 24 h and by the reserve; the mint never fails because of it.
 */
import t from 'tap'
import {
  type Address,
  getContract,
  type LocalAccount,
  parseEther,
  parseEventLogs,
  type TransactionReceipt,
  zeroAddress,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { deploySidechainBridge } from '../bridge/deploy/index.ts'
import { revertOf, sortAccounts, startTestChain } from '../test/support/contracts.ts'
import { gasBurnerAbi, gasBurnerBytecode, sidechainBridgeAbi } from './generated/index.ts'

const c = await startTestChain()
t.teardown(() => c.stop())

const [owner, a1, a2, a3, outsider] = c.accounts as [
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
]
const [r0, r1] = sortAccounts([a1, a2, a3]) as [LocalAccount, LocalAccount, LocalAccount]
const relayerAddresses = sortAccounts([a1, a2, a3]).map((r) => r.address)
const DROP = parseEther('0.01')
const THRESHOLD_BALANCE = parseEther('0.005')

const bridgeAddress = (
  await deploySidechainBridge(c.wallet(owner), c.publicClient, {
    owner: owner.address,
    guardian: owner.address,
    relayers: relayerAddresses,
    threshold: 2,
    l1ChainId: 1,
    // Any non-zero address: the L1 side is not exercised here.
    l1Vault: outsider.address,
  })
).address
const bridgeAs = (account: LocalAccount) =>
  getContract({ address: bridgeAddress, abi: sidechainBridgeAbi, client: c.wallet(account) })
const bridge = bridgeAs(owner)

await c.mined(bridge.write.setGasDrop([DROP, THRESHOLD_BALANCE, DROP * 2n]))
const restore = await c.checkpoint()
let nextDepositId = 0n
t.afterEach(async () => {
  await restore()
  nextDepositId = 0n
})

/** Two relayer votes: the second mints. Returns the minting receipt. */
async function deposit(to: Address, amount = parseEther('1')): Promise<TransactionReceipt> {
  const id = nextDepositId++
  await c.mined(bridgeAs(r0).write.confirmDeposit([id, zeroAddress, to, amount]))
  const receipt = await c.mined(bridgeAs(r1).write.confirmDeposit([id, zeroAddress, to, amount]))
  t.equal(
    parseEventLogs({ abi: sidechainBridgeAbi, logs: receipt.logs, eventName: 'DepositMinted' })
      .length,
    1,
  )
  return receipt
}
const drops = (r: TransactionReceipt) =>
  parseEventLogs({ abi: sidechainBridgeAbi, logs: r.logs, eventName: 'GasDropped' })
const refusals = (r: TransactionReceipt) =>
  parseEventLogs({ abi: sidechainBridgeAbi, logs: r.logs, eventName: 'GasDropRefused' })
const fresh = () => privateKeyToAccount(generatePrivateKey()).address
const fund = (amount: bigint) =>
  c.mined(c.wallet(owner).sendTransaction({ to: bridgeAddress, value: amount }))
const balance = (address: Address) => c.publicClient.getBalance({ address })

t.test('a fresh address gets one drop; its second deposit drops nothing', async (t) => {
  const funded = await fund(parseEther('1'))
  t.same(
    parseEventLogs({
      abi: sidechainBridgeAbi,
      logs: funded.logs,
      eventName: 'GasReserveFunded',
    }).map((e) => e.args),
    [{ from: owner.address, amount: parseEther('1') }],
  )
  const to = fresh()
  t.same(await bridge.read.gasDropPreview([to]), [true, true, 0])
  const first = await deposit(to)
  t.same(
    drops(first).map((e) => e.args),
    [{ depositId: 0n, to, amount: DROP }],
  )
  t.equal(await balance(to), DROP, 'the drop arrived')
  t.equal(await bridge.read.gasDropped([to]), true)
  t.equal(await bridge.read.gasReserve(), parseEther('1') - DROP)
  t.equal(await bridge.read.gasDropCount(), 1n)
  t.equal(await bridge.read.gasDroppedTotal(), DROP)

  // Spend it down below the threshold: it still gets nothing, the drop is once per address.
  t.same(await bridge.read.gasDropPreview([to]), [false, false, 0])
  const second = await deposit(to)
  t.equal(drops(second).length, 0, 'no second drop')
  t.equal(refusals(second).length, 0, 'and no refusal: it did not qualify')
  t.equal(await balance(to), DROP)
  t.equal(await bridge.read.gasDropCount(), 1n)
})

t.test('a recipient holding enough native coin gets nothing', async (t) => {
  await fund(parseEther('1'))
  const to = fresh()
  await c.mined(c.wallet(owner).sendTransaction({ to, value: THRESHOLD_BALANCE }))
  const r = await deposit(to)
  t.equal(drops(r).length + refusals(r).length, 0)
  t.equal(await bridge.read.gasDropped([to]), false)
})

t.test('an empty reserve still mints and counts the refusal', async (t) => {
  const to = fresh()
  t.same(await bridge.read.gasDropPreview([to]), [true, false, 0])
  const r = await deposit(to)
  t.same(
    refusals(r).map((e) => e.args),
    [{ depositId: 0n, to, reason: 0 }],
    'GasDropRefused(ReserveEmpty)',
  )
  t.equal(await bridge.read.gasDropRefusals([0]), 1n)
  t.equal(
    await bridge.read.gasDropped([to]),
    false,
    'not marked: a later deposit can still bring gas',
  )
  await fund(DROP)
  const later = await deposit(to)
  t.equal(drops(later).length, 1)
  t.equal(await balance(to), DROP)
})

t.test('the 24 h cap refuses drops until the window ends', async (t) => {
  await fund(parseEther('1'))
  await deposit(fresh())
  await deposit(fresh())
  t.equal(await bridge.read.gasDropWindowRemaining(), 0n)
  const third = fresh()
  const r = await deposit(third)
  t.same(
    refusals(r).map((e) => e.args.reason),
    [1],
    'GasDropRefused(WindowFull)',
  )
  t.equal(await bridge.read.gasDropRefusals([1]), 1n)
  t.equal(await balance(third), 0n)
  await c.testClient.increaseTime({ seconds: 24 * 3600 })
  await c.testClient.mine({ blocks: 1 })
  t.equal(await bridge.read.gasDropWindowRemaining(), DROP * 2n)
  const after = await deposit(third)
  t.equal(drops(after).length, 1, 'a new window pays again')
})

t.test('a recipient that refuses the coin or burns gas cannot block the mint', async (t) => {
  await fund(parseEther('1'))
  const deployHash = await c
    .wallet(owner)
    .deployContract({ abi: gasBurnerAbi, bytecode: gasBurnerBytecode })
  const burner = (await c.mined(deployHash)).contractAddress as Address
  await c.mined(bridge.write.setGasDrop([DROP, THRESHOLD_BALANCE, DROP * 10n]))
  await deposit(fresh()) // creates the wrapped token: the next mints cost the same
  const normal = await deposit(fresh())
  t.equal(drops(normal).length, 1)
  const r = await deposit(burner)
  t.same(
    refusals(r).map((e) => e.args.reason),
    [2],
    'GasDropRefused(RecipientRejected)',
  )
  t.ok(
    r.gasUsed < normal.gasUsed + 10_000n,
    `the burner got only the stipend (mint with a drop ${normal.gasUsed} gas, with the burner ${r.gasUsed})`,
  )
  t.equal(await bridge.read.gasDropped([burner]), false)
  t.equal(
    await bridge.read.gasDropWindowUsed(),
    DROP * 2n,
    'the refused coin is not counted against the window',
  )
  t.equal(await bridge.read.gasReserve(), parseEther('1') - DROP * 2n)
})

t.test('only the owner sets the drop, within bounds', async (t) => {
  t.equal(
    (await revertOf(bridgeAs(outsider).write.setGasDrop([1n, 1n, 1n]))).name,
    'OwnableUnauthorizedAccount',
  )
  t.equal((await revertOf(bridge.write.setGasDrop([2n, 0n, 1n]))).name, 'InvalidGasDropSettings')
  t.equal(
    (await revertOf(bridge.write.setGasDrop([1n, 2n ** 128n, 1n]))).name,
    'InvalidGasDropSettings',
  )
  await c.mined(bridge.write.setGasDrop([0n, 0n, 0n]))
  await fund(parseEther('1'))
  const r = await deposit(fresh())
  t.equal(drops(r).length + refusals(r).length, 0, 'amount 0 disables drops')
})
