import t from 'tap'
import { parseEther, zeroAddress } from 'viem'
import { checkDeposit, checkWithdrawal } from './preflight.ts'

const eth = { symbol: 'ETH', decimals: 18 }
const deposit = {
  token: zeroAddress,
  unit: eth,
  amount: parseEther('1'),
  vaultPaused: false,
  bridgePaused: false,
  depositsEnabled: true,
  maxPerTransaction: parseEther('10'),
  balance: parseEther('2'),
}
const withdrawal = {
  unit: eth,
  amount: parseEther('1'),
  bridgePaused: false,
  vaultPaused: false,
  maxPerTransaction: parseEther('10'),
  windowAvailable: parseEther('100'),
  minAmount: 0n,
  maxAmount: 0n,
  balance: parseEther('2'),
}

t.test('deposit refusals carry the CLI codes, in the CLI order', async (t) => {
  const code = (over: Partial<typeof deposit>) =>
    checkDeposit({ ...deposit, ...over }).refusal?.code
  t.equal(code({}), undefined)
  t.equal(code({ amount: 0n }), 'BRIDGE_BELOW_MINIMUM')
  t.equal(
    code({ vaultPaused: true, balance: 0n }),
    'BRIDGE_PAUSED',
    'a pause is reported before the balance',
  )
  t.equal(code({ bridgePaused: true }), 'BRIDGE_PAUSED')
  t.equal(code({ depositsEnabled: false }), 'BRIDGE_UNKNOWN_TOKEN')
  t.equal(code({ balance: parseEther('0.5') }), 'BRIDGE_INSUFFICIENT_BALANCE')
  const big = checkDeposit({ ...deposit, amount: parseEther('11'), balance: parseEther('20') })
  t.equal(big.refusal, undefined, 'above the release limit is allowed ...')
  t.match(
    big.warnings,
    [/above the vault's per-withdrawal limit of 10 ETH: withdraw it in parts/],
    '... with a warning',
  )
})

t.test(
  'withdrawal refusals: minimum, pause, the smaller of both limits, balance; a full window only warns',
  async (t) => {
    const code = (over: Partial<typeof withdrawal>) =>
      checkWithdrawal({ ...withdrawal, ...over }).refusal?.code
    t.equal(code({}), undefined)
    t.equal(code({ amount: 5n, minAmount: 10n }), 'BRIDGE_BELOW_MINIMUM')
    t.equal(code({ bridgePaused: true }), 'BRIDGE_PAUSED')
    t.equal(code({ vaultPaused: true }), 'BRIDGE_PAUSED')
    t.equal(code({ amount: parseEther('11'), balance: parseEther('20') }), 'BRIDGE_OVER_LIMIT')
    t.equal(
      code({ maxAmount: parseEther('0.5') }),
      'BRIDGE_OVER_LIMIT',
      "the bridge's own maximum counts too",
    )
    t.equal(code({ balance: 0n }), 'BRIDGE_INSUFFICIENT_BALANCE')
    const waiting = checkWithdrawal({ ...withdrawal, windowAvailable: parseEther('0.5') })
    t.equal(waiting.refusal, undefined)
    t.match(waiting.warnings, [/rolling 24 h limit has 0.5 ETH left/])
  },
)
