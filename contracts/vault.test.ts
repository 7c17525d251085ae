import t from 'tap'
import {
  type Address,
  encodeDeployData,
  encodeFunctionData,
  getAddress,
  getContract,
  type Hex,
  hashTypedData,
  type LocalAccount,
  parseEther,
  parseEventLogs,
  zeroAddress,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  deployFeeOnTransferToken,
  deployTestToken,
  deployVault,
  signSignerSetUpdate,
  signWithdrawal,
  vaultDomain,
  type WithdrawalMessage,
  withdrawalTypes,
} from '../bridge/deploy/index.ts'
import { highSTwin, revertOf, sortAccounts, startTestChain } from '../test/support/contracts.ts'
import {
  bridgeVaultAbi,
  bridgeVaultBytecode,
  gasBurnerAbi,
  gasBurnerBytecode,
  testTokenAbi,
} from './generated/index.ts'

const DAY = 24 * 60 * 60

const c = await startTestChain()
t.teardown(() => c.stop())

const [owner, guardian, a2, a3, a4, alice, bob, outsider, a8] = c.accounts as [
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
  LocalAccount,
]
// Signers need no funds: anyone submits the release.
const signers = sortAccounts([a2, a3, a4])
const [s0, s1, s2] = signers as [LocalAccount, LocalAccount, LocalAccount]
const stranger = privateKeyToAccount(generatePrivateKey())
const ownerWallet = c.wallet(owner)

const token = (
  await deployTestToken(ownerWallet, c.publicClient, { name: 'Test', symbol: 'TST', decimals: 18 })
).address
const feeToken = (
  await deployFeeOnTransferToken(ownerWallet, c.publicClient, {
    name: 'Fee',
    symbol: 'FEE',
    feeBps: 100,
  })
).address
const unlisted = (
  await deployTestToken(ownerWallet, c.publicClient, { name: 'Other', symbol: 'OTH' })
).address
const big = 10n ** 30n
const vaultAddress = (
  await deployVault(ownerWallet, c.publicClient, {
    owner: owner.address,
    guardian: guardian.address,
    signers: signers.map((s) => s.address),
    threshold: 2,
    tokens: [
      { token: zeroAddress, depositsEnabled: true, maxPerTransaction: big, windowLimit: big },
      { token, depositsEnabled: true, maxPerTransaction: 100n, windowLimit: 250n },
      { token: feeToken, depositsEnabled: true, maxPerTransaction: big, windowLimit: big },
    ],
  })
).address
const domain = { chainId: c.chain.id, verifyingContract: vaultAddress }

const vaultAs = (account: LocalAccount) =>
  getContract({
    address: vaultAddress,
    abi: bridgeVaultAbi,
    client: c.wallet(account),
  })
const vault = vaultAs(alice)
const tokenAs = (account: LocalAccount, address: Address = token) =>
  getContract({
    address,
    abi: testTokenAbi,
    client: c.wallet(account),
  })

// Alice funds the vault through real deposits; every test starts from here.
await c.mined(tokenAs(alice).write.mint([alice.address, 10_000n]))
await c.mined(tokenAs(alice).write.approve([vaultAddress, 2n ** 256n - 1n]))
await c.mined(tokenAs(alice, feeToken).write.mint([alice.address, 10_000n]))
await c.mined(tokenAs(alice, feeToken).write.approve([vaultAddress, 2n ** 256n - 1n]))
const restore = await c.checkpoint()
t.afterEach(() => restore())

/** The sidechain bridge instance the test withdrawals come from. */
const SOURCE_CHAIN_ID = 1337n
const SOURCE_BRIDGE = '0x5151515151515151515151515151515151515151'
const isReleased = (
  withdrawalId: bigint,
  chainId = SOURCE_CHAIN_ID,
  bridge: Address = SOURCE_BRIDGE,
) => vault.read.isProcessed([chainId, bridge, withdrawalId])

function withdrawal(overrides: Partial<WithdrawalMessage> = {}): WithdrawalMessage {
  return {
    sourceChainId: SOURCE_CHAIN_ID,
    sourceBridge: SOURCE_BRIDGE,
    withdrawalId: 7n,
    token: zeroAddress,
    recipient: bob.address,
    amount: parseEther('1'),
    epoch: 0n,
    ...overrides,
  }
}

async function signAll(accounts: LocalAccount[], w: WithdrawalMessage, d = domain): Promise<Hex[]> {
  return Promise.all(accounts.map((a) => signWithdrawal(a, d, w)))
}

async function fundEth(amount: bigint): Promise<void> {
  await c.mined(vault.write.depositETH([alice.address], { value: amount }))
}

t.test('deposits of ETH and ERC-20 get contiguous ids from 0', async (t) => {
  const r0 = await c.mined(vault.write.depositETH([bob.address], { value: parseEther('1') }))
  const r1 = await c.mined(vault.write.depositERC20([token, 300n, bob.address]))
  const r2 = await c.mined(vault.write.depositETH([alice.address], { value: 5n }))
  const events = [r0, r1, r2].flatMap(
    (r) => parseEventLogs({ abi: bridgeVaultAbi, logs: r.logs, eventName: 'Deposited' })[0]!.args,
  )
  t.same(
    events.map((e) => [e.depositId, e.token, e.from, e.to, e.amount]),
    [
      [0n, zeroAddress, alice.address, bob.address, parseEther('1')],
      [1n, token, alice.address, bob.address, 300n],
      [2n, zeroAddress, alice.address, alice.address, 5n],
    ],
  )
  t.equal(await vault.read.depositCount(), 3n)
  t.equal(await c.publicClient.getBalance({ address: vaultAddress }), parseEther('1') + 5n)
  t.equal(await tokenAs(alice).read.balanceOf([vaultAddress]), 300n)
})

t.test('a fee-on-transfer token is credited with the amount received', async (t) => {
  const receipt = await c.mined(vault.write.depositERC20([feeToken, 1_000n, bob.address]))
  const [event] = parseEventLogs({
    abi: bridgeVaultAbi,
    logs: receipt.logs,
    eventName: 'Deposited',
  })
  t.equal(event!.args.amount, 990n, '1% fee deducted')
  t.equal(await tokenAs(alice, feeToken).read.balanceOf([vaultAddress]), 990n)
})

t.test('refuses unlisted tokens, codeless addresses, address(0) and bad parameters', async (t) => {
  t.match(await revertOf(vault.simulate.depositERC20([unlisted, 1n, bob.address])), {
    name: 'TokenNotAllowed',
    args: [unlisted],
  })
  t.match(await revertOf(vault.simulate.depositERC20([stranger.address, 1n, bob.address])), {
    name: 'TokenHasNoCode',
    args: [stranger.address],
  })
  t.match(await revertOf(vault.simulate.depositERC20([zeroAddress, 1n, bob.address])), {
    name: 'ZeroAddress',
  })
  t.match(await revertOf(vault.simulate.depositERC20([token, 0n, bob.address])), {
    name: 'ZeroAmount',
  })
  t.match(await revertOf(vault.simulate.depositERC20([token, 1n, zeroAddress])), {
    name: 'InvalidRecipient',
  })
  t.match(await revertOf(vault.simulate.depositETH([zeroAddress], { value: 1n })), {
    name: 'InvalidRecipient',
  })
  t.match(await revertOf(vault.simulate.depositETH([bob.address], { value: 0n })), {
    name: 'ZeroAmount',
  })
  t.match(
    await revertOf(vaultAs(owner).simulate.setTokenConfig([stranger.address, true, 1n, 1n])),
    { name: 'TokenHasNoCode' },
    'the owner cannot list a codeless address',
  )
  await c.mined(vaultAs(owner).write.setTokenConfig([zeroAddress, false, big, big]))
  t.match(await revertOf(vault.simulate.depositETH([bob.address], { value: 1n })), {
    name: 'TokenNotAllowed',
    args: [zeroAddress],
  })
  await t.rejects(
    c.wallet(alice).sendTransaction({ to: vaultAddress, value: 1n }),
    'plain ETH transfers are refused',
  )
  t.equal(await vault.read.depositCount(), 0n, 'nothing was recorded')
})

t.test('release pays out with exactly M valid signatures', async (t) => {
  await fundEth(parseEther('5'))
  const w = withdrawal()
  const before = await c.publicClient.getBalance({ address: bob.address })
  const receipt = await c.mined(vaultAs(outsider).write.release([w, await signAll([s0, s2], w)]))
  t.equal(await c.publicClient.getBalance({ address: bob.address }), before + w.amount)
  t.equal(await isReleased(w.withdrawalId), true)
  const [event] = parseEventLogs({ abi: bridgeVaultAbi, logs: receipt.logs, eventName: 'Released' })
  t.match(event!.args, {
    withdrawalId: 7n,
    token: zeroAddress,
    recipient: bob.address,
    amount: w.amount,
  })

  const tw = withdrawal({ withdrawalId: 8n, token, amount: 40n })
  await c.mined(vault.write.depositERC20([token, 100n, bob.address]))
  await c.mined(vault.write.release([tw, await signAll(signers, tw)]))
  t.equal(await tokenAs(alice).read.balanceOf([bob.address]), 40n, 'all N signatures also work')
})

t.test('release reverts with a distinct error for each bad signature set', async (t) => {
  await fundEth(parseEther('5'))
  const w = withdrawal()
  const [sig0, sig1, sig2] = await signAll(signers, w)
  const release = (sigs: Hex[], msg = w) => revertOf(vault.simulate.release([msg, sigs]))

  t.match(await release([sig0!]), { name: 'InsufficientSignatures', args: [1n, 2n] }, 'M-1')
  t.match(await release([]), { name: 'InsufficientSignatures', args: [0n, 2n] }, 'none')
  t.match(await release([sig0!, sig0!]), { name: 'DuplicateSigner', args: [1n, s0.address] })
  t.match(await release([sig1!, sig0!]), { name: 'UnsortedSigners', args: [1n, s0.address] })
  t.match(await release([sig2!, sig1!, sig0!]), { name: 'UnsortedSigners' })

  const strangerSig = await signWithdrawal(stranger, domain, w)
  t.match(await release([sig0!, strangerSig]), {
    name: 'NotSigner',
    args: [1n, stranger.address],
  })
  t.match(await release([sig0!, highSTwin(sig1!)]), { name: 'HighSSignature', args: [1n] })
  t.match(await release([sig0!, `0x${sig1!.slice(2, 130)}`]), {
    name: 'InvalidSignature',
    args: [1n],
  })

  // Signatures for another domain recover to unrelated addresses, which are not members.
  const otherChain = await signAll([s0, s1], w, { chainId: 1, verifyingContract: vaultAddress })
  t.match(await release(otherChain), { name: 'NotSigner' }, 'another chain id')
  const otherContract = await signAll([s0, s1], w, {
    chainId: c.chain.id,
    verifyingContract: token,
  })
  t.match(await release(otherContract), { name: 'NotSigner' }, 'another contract')
  t.match(
    await release([sig0!, sig1!], { ...w, amount: w.amount + 1n }),
    { name: 'NotSigner' },
    'the signatures bind the amount',
  )
  t.match(
    await release([sig0!, sig1!], { ...w, recipient: alice.address }),
    { name: 'NotSigner' },
    'the signatures bind the recipient',
  )

  await c.mined(vault.write.release([w, [sig0!, sig1!]]))
  t.match(await release([sig0!, sig1!]), {
    name: 'WithdrawalAlreadyProcessed',
    args: [7n],
  })
  t.match(
    await release(await signAll([s1, s2], w)),
    { name: 'WithdrawalAlreadyProcessed' },
    'other signers cannot release it again either',
  )
})

t.test('signer rotation needs the current set and invalidates the old epoch', async (t) => {
  await fundEth(parseEther('5'))
  const newSigners = sortAccounts([s1, s2, a8])
  const update = {
    previousSetHash: await vault.read.signerSetHash(),
    signers: newSigners.map((s) => s.address),
    threshold: 2n,
    epoch: 1n,
  }
  const rotationSigs = await Promise.all(
    [s0, s1].map((s) => signSignerSetUpdate(s, domain, update)),
  )

  const byOutsiders = await Promise.all(
    sortAccounts([stranger, a8]).map((s) => signSignerSetUpdate(s, domain, update)),
  )
  t.match(
    await revertOf(vault.simulate.rotateSigners([update.signers, 2n, byOutsiders])),
    { name: 'NotSigner' },
    'non-members cannot rotate',
  )
  t.match(
    await revertOf(vault.simulate.rotateSigners([update.signers, 2n, rotationSigs.slice(0, 1)])),
    { name: 'InsufficientSignatures' },
  )
  const sameEpoch = await Promise.all(
    [s0, s1].map((s) => signSignerSetUpdate(s, domain, { ...update, epoch: 0n })),
  )
  t.match(
    await revertOf(vault.simulate.rotateSigners([update.signers, 2n, sameEpoch])),
    { name: 'NotSigner' },
    'the signed epoch must be the next one',
  )
  t.match(
    await revertOf(vault.simulate.rotateSigners([update.signers, 1n, rotationSigs])),
    { name: 'NotSigner' },
    'the signatures bind the threshold',
  )

  const oldW = withdrawal()
  const oldSigs = await signAll([s0, s1], oldW)
  await c.mined(vaultAs(outsider).write.rotateSigners([update.signers, 2n, rotationSigs]))
  t.equal(await vault.read.signerEpoch(), 1n)
  t.same(await vault.read.signers(), update.signers)
  t.equal(await vault.read.isSigner([s0.address]), false)
  t.equal(await vault.read.isSigner([a8.address]), true)

  t.match(await revertOf(vault.simulate.release([oldW, oldSigs])), {
    name: 'StaleSignerEpoch',
    args: [0n, 1n],
  })
  const newW = withdrawal({ epoch: 1n })
  const [n0, n1] = sortAccounts([s0, s1])
  t.match(
    await revertOf(vault.simulate.release([newW, await signAll([n0!, n1!], newW)])),
    { name: 'NotSigner', args: [s0 === n0 ? 0n : 1n, s0.address] },
    'a removed signer no longer counts',
  )
  t.match(
    await revertOf(vault.simulate.rotateSigners([update.signers, 2n, rotationSigs])),
    { name: 'NotSigner' },
    'a rotation cannot be replayed',
  )
  await c.mined(vault.write.release([newW, await signAll(newSigners.slice(0, 2), newW)]))
  t.equal(await isReleased(7n), true)
})

t.test('invalid signer sets are refused at construction and rotation', async (t) => {
  const addrs = signers.map((s) => s.address)
  const cases: [string, Address[], bigint, string][] = [
    ['threshold 0', addrs, 0n, 'InvalidThreshold'],
    ['threshold above the set', addrs, 4n, 'InvalidThreshold'],
    ['empty set', [], 1n, 'InvalidThreshold'],
    ['zero address', [addrs[0]!, zeroAddress, addrs[2]!], 2n, 'ZeroAddressMember'],
    ['duplicate signer', [addrs[0]!, addrs[1]!, addrs[0]!], 2n, 'DuplicateMember'],
  ]
  for (const [label, set, threshold, error] of cases) {
    const data = encodeDeployData({
      abi: bridgeVaultAbi,
      bytecode: bridgeVaultBytecode,
      args: [owner.address, guardian.address, set, threshold, []],
    })
    t.match(
      await revertOf(c.publicClient.call({ account: owner.address, data }), bridgeVaultAbi),
      { name: error },
      `constructor: ${label}`,
    )
    // Validly signed by the current set: the rule itself refuses it.
    const previousSetHash = await vault.read.signerSetHash()
    const sigs = await Promise.all(
      [s0, s1].map((s) =>
        signSignerSetUpdate(s, domain, { previousSetHash, signers: set, threshold, epoch: 1n }),
      ),
    )
    t.match(
      await revertOf(vault.simulate.rotateSigners([set, threshold, sigs])),
      { name: error },
      `rotation: ${label}`,
    )
  }
  t.equal(await vault.read.threshold(), 2n)
  t.equal(await vault.read.signerEpoch(), 0n)
})

t.test('per-transaction and rolling 24 h window limits', async (t) => {
  await c.mined(vault.write.depositERC20([token, 2_000n, alice.address]))
  let id = 100n
  const releaseOf = async (amount: bigint) => {
    const w = withdrawal({ withdrawalId: id++, token, amount })
    return { w, sigs: await signAll([s0, s1], w) }
  }
  const release = async (amount: bigint) => {
    const { w, sigs } = await releaseOf(amount)
    await c.mined(vault.write.release([w, sigs]))
  }
  const refused = async (amount: bigint) => {
    const { w, sigs } = await releaseOf(amount)
    return revertOf(vault.simulate.release([w, sigs]))
  }
  const advance = async (seconds: number) => {
    await c.testClient.increaseTime({ seconds })
    await c.testClient.mine({ blocks: 1 })
  }

  t.match(await refused(101n), { name: 'TransactionLimitExceeded', args: [token, 101n, 100n] })
  await release(100n)
  await release(100n)
  t.match(await refused(51n), { name: 'WindowLimitExceeded', args: [token, 51n, 50n] })
  t.same(await vault.read.releaseWindow([token]), [200n, 50n])

  await advance(DAY / 2)
  t.match(await refused(51n), { name: 'WindowLimitExceeded' }, 'still inside the window after 12 h')
  await release(50n)
  t.match(await refused(1n), { name: 'WindowLimitExceeded', args: [token, 1n, 0n] })

  // 24 h after the first two releases they leave the window; the one at +12 h still counts.
  await advance(DAY / 2 + 60)
  t.same(await vault.read.releaseWindow([token]), [50n, 200n], 'rolling, not a fixed day')
  await release(100n)
  await release(100n)
  t.match(await refused(1n), { name: 'WindowLimitExceeded' })

  await advance(DAY + 1)
  t.same(await vault.read.releaseWindow([token]), [0n, 250n])
  await release(100n)
  t.equal(await tokenAs(alice).read.balanceOf([bob.address]), 550n)

  // The owner can tighten a limit; releases already made still count.
  await c.mined(vaultAs(owner).write.setTokenConfig([token, true, 100n, 120n]))
  t.match(await refused(21n), { name: 'WindowLimitExceeded', args: [token, 21n, 20n] })
})

t.test(
  'only the guardian pauses, only the owner unpauses, pause stops deposits and releases',
  async (t) => {
    await fundEth(parseEther('5'))
    const w = withdrawal()
    const sigs = await signAll([s0, s1], w)

    t.match(await revertOf(vaultAs(owner).simulate.pause()), {
      name: 'NotGuardian',
      args: [owner.address],
    })
    t.match(await revertOf(vaultAs(outsider).simulate.pause()), { name: 'NotGuardian' })
    await c.mined(vaultAs(guardian).write.pause())
    t.equal(await vault.read.paused(), true)

    t.match(await revertOf(vault.simulate.depositETH([bob.address], { value: 1n })), {
      name: 'EnforcedPause',
    })
    t.match(await revertOf(vault.simulate.depositERC20([token, 1n, bob.address])), {
      name: 'EnforcedPause',
    })
    t.match(await revertOf(vault.simulate.release([w, sigs])), { name: 'EnforcedPause' })

    // A compromised signer set can still be replaced while paused.
    const update = {
      previousSetHash: await vault.read.signerSetHash(),
      signers: signers.map((s) => s.address),
      threshold: 3n,
      epoch: 1n,
    }
    const rotation = await Promise.all([s0, s1].map((s) => signSignerSetUpdate(s, domain, update)))
    await c.mined(vault.write.rotateSigners([update.signers, 3n, rotation]))
    t.equal(await vault.read.threshold(), 3n, 'rotation works while paused')
    const w1 = { ...w, epoch: 1n }
    const sigs1 = await signAll(signers, w1)

    t.match(await revertOf(vaultAs(guardian).simulate.unpause()), {
      name: 'OwnableUnauthorizedAccount',
      args: [guardian.address],
    })
    t.match(await revertOf(vaultAs(outsider).simulate.unpause()), {
      name: 'OwnableUnauthorizedAccount',
    })
    await c.mined(vaultAs(owner).write.unpause())
    t.equal(await vault.read.paused(), false)
    await c.mined(vault.write.release([w1, sigs1]))
    await c.mined(vault.write.depositETH([bob.address], { value: 1n }))
  },
)

t.test('administration is owner-only and the owner cannot be renounced', async (t) => {
  t.match(await revertOf(vaultAs(outsider).simulate.setGuardian([outsider.address])), {
    name: 'OwnableUnauthorizedAccount',
  })
  t.match(await revertOf(vaultAs(guardian).simulate.setTokenConfig([unlisted, true, 1n, 1n])), {
    name: 'OwnableUnauthorizedAccount',
  })
  t.match(await revertOf(vault.read.renounceOwnership({ account: owner.address })), {
    name: 'RenounceOwnershipDisabled',
  })
  t.match(await revertOf(vaultAs(owner).simulate.setGuardian([zeroAddress])), {
    name: 'ZeroAddress',
  })
  t.match(await revertOf(vaultAs(owner).simulate.setTokenConfig([token, true, 1n, 2n ** 208n])), {
    name: 'LimitTooLarge',
  })
  await c.mined(vaultAs(owner).write.setGuardian([a8.address]))
  t.equal(await vault.read.guardian(), a8.address)
  await c.mined(vaultAs(a8).write.pause())
  t.equal(await vault.read.paused(), true)
})

t.test('the domain and digests match what the TypeScript helpers sign', async (t) => {
  const w = withdrawal({ token: feeToken })
  const digest = await vault.read.withdrawalDigest([w])
  t.equal(
    digest,
    hashTypedData({
      domain: vaultDomain(domain),
      types: withdrawalTypes,
      primaryType: 'Withdrawal',
      message: w,
    }),
  )
  const [, name, version, chainId, verifyingContract] = await vault.read.eip712Domain()
  t.same(
    [name, version, chainId, verifyingContract],
    ['BridgeVault', '1', BigInt(c.chain.id), vaultAddress],
  )
})

t.test(
  'a gas-burning recipient cannot make a release expensive or fail; it pulls its funds later',
  async (t) => {
    // Security review finding 2: the vault forwarded all gas to the recipient, so a release to a contract that
    // burns gas cost the submitting relayer up to the block gas limit and then reverted, again and again.
    await fundEth(parseEther('5'))
    const deployed = await c.mined(
      c.wallet(owner).deployContract({ abi: gasBurnerAbi, bytecode: gasBurnerBytecode }),
    )
    const burner = getContract({
      address: deployed.contractAddress!,
      abi: gasBurnerAbi,
      client: c.wallet(owner),
    })
    const w = withdrawal({ recipient: getAddress(burner.address), amount: parseEther('1') })
    const receipt = await c.mined(
      vaultAs(outsider).write.release([w, await signAll([s0, s1], w)], { gas: 1_000_000n }),
    )
    t.equal(receipt.status, 'success', 'the release goes through')
    t.ok(
      receipt.gasUsed < 300_000n,
      `the release cost ${receipt.gasUsed} gas of the 1,000,000 given: the stipend bounds it`,
    )
    t.equal(await isReleased(w.withdrawalId), true)
    const [deferred] = parseEventLogs({
      abi: bridgeVaultAbi,
      logs: receipt.logs,
      eventName: 'ReleaseDeferred',
    })
    t.match(deferred!.args, {
      token: zeroAddress,
      recipient: getAddress(burner.address),
      amount: parseEther('1'),
    })
    t.equal(await vault.read.claimable([zeroAddress, burner.address]), parseEther('1'))
    t.equal(await vault.read.totalClaimable([zeroAddress]), parseEther('1'))
    t.match(await revertOf(vault.simulate.claim([zeroAddress, bob.address])), {
      name: 'NothingToClaim',
    })

    // The recipient pulls its funds (paying its own gas), once it accepts them.
    await c.mined(burner.write.setBurning([false]))
    const claimData = encodeFunctionData({
      abi: bridgeVaultAbi,
      functionName: 'claim',
      args: [zeroAddress, burner.address],
    })
    await c.mined(burner.write.execute([vaultAddress, claimData]))
    t.equal(await c.publicClient.getBalance({ address: burner.address }), parseEther('1'))
    t.equal(await vault.read.claimable([zeroAddress, burner.address]), 0n)
    t.equal(await vault.read.totalClaimable([zeroAddress]), 0n)
    t.match(await revertOf(vault.simulate.release([w, await signAll([s0, s1], w)])), {
      name: 'WithdrawalAlreadyProcessed',
    })
  },
)

t.test('a withdrawal id is consumed per source bridge, not alone', async (t) => {
  // Security review finding 4: processed[] was keyed by the id alone.
  await fundEth(parseEther('5'))
  const fromA = withdrawal({ withdrawalId: 0n })
  const fromB = withdrawal({
    withdrawalId: 0n,
    sourceBridge: '0x5252525252525252525252525252525252525252',
  })
  await c.mined(vaultAs(outsider).write.release([fromA, await signAll([s0, s1], fromA)]))
  t.equal(await isReleased(0n), true)
  t.equal(await isReleased(0n, SOURCE_CHAIN_ID, fromB.sourceBridge), false)
  const before = await c.publicClient.getBalance({ address: bob.address })
  await c.mined(vaultAs(outsider).write.release([fromB, await signAll([s0, s2], fromB)]))
  t.equal(await c.publicClient.getBalance({ address: bob.address }), before + fromB.amount)
  // A signature binds the source: one made for bridge A does not release bridge B's withdrawal.
  const fromC = { ...fromB, sourceBridge: '0x5353535353535353535353535353535353535353' as Address }
  t.match(await revertOf(vault.simulate.release([fromC, await signAll([s0, s1], fromA)])), {
    name: 'NotSigner',
  })
})

t.test('a vault that cannot pay reverts instead of consuming the withdrawal', async (t) => {
  // Review of the pull payments: a failed transfer for lack of funds must not become an IOU.
  const w = withdrawal({ withdrawalId: 40n, amount: parseEther('1') })
  t.match(await revertOf(vault.simulate.release([w, await signAll([s0, s1], w)])), {
    name: 'InsufficientVaultBalance',
    args: [zeroAddress, 0n, parseEther('1')],
  })
  t.equal(await isReleased(40n), false, 'nothing consumed')
})

t.test('claimFor pays a recipient that cannot call claim itself', async (t) => {
  await fundEth(parseEther('3'))
  const deployed = await c.mined(
    c.wallet(owner).deployContract({ abi: gasBurnerAbi, bytecode: gasBurnerBytecode }),
  )
  const burner = getContract({
    address: getAddress(deployed.contractAddress!),
    abi: gasBurnerAbi,
    client: c.wallet(owner),
  })
  const w = withdrawal({ withdrawalId: 41n, recipient: burner.address, amount: parseEther('1') })
  await c.mined(vaultAs(outsider).write.release([w, await signAll([s0, s1], w)]))
  t.equal(await vault.read.claimable([zeroAddress, burner.address]), parseEther('1'))
  // What the vault owes claimants is not available to other releases.
  const big = withdrawal({ withdrawalId: 42n, amount: parseEther('2.5') })
  t.match(await revertOf(vault.simulate.release([big, await signAll([s0, s1], big)])), {
    name: 'InsufficientVaultBalance',
    args: [zeroAddress, parseEther('2'), parseEther('2.5')],
  })
  await c.mined(burner.write.setBurning([false]))
  await c.mined(vaultAs(outsider).write.claimFor([zeroAddress, burner.address]))
  t.equal(await c.publicClient.getBalance({ address: burner.address }), parseEther('1'))
  t.equal(await vault.read.totalClaimable([zeroAddress]), 0n)
})
