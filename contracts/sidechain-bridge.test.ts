import { gunzipSync } from 'node:zlib'
import t from 'tap'
import {
  type Address,
  encodeDeployData,
  getAddress,
  getContract,
  getContractAddress,
  type Hash,
  type Hex,
  type LocalAccount,
  pad,
  parseEther,
  parseEventLogs,
  parseSignature,
  zeroAddress,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  deploySidechainBridge,
  deployTestToken,
  deployVault,
  signSignerSetUpdate,
  signWithdrawal,
} from '../bridge/deploy/index.ts'
import { highSTwin, revertOf, sortAccounts, startTestChain } from '../test/support/contracts.ts'
import {
  bridgeVaultAbi,
  sidechainBridgeAbi,
  sidechainBridgeBytecode,
  wrappedTokenAbi,
  wrappedTokenBytecode,
} from './generated/index.ts'

const c = await startTestChain()
t.teardown(() => c.stop())

const [owner, guardian, a2, a3, a4, alice, bob, outsider] = c.accounts as [
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
const [r0, r1, r2] = relayers as [LocalAccount, LocalAccount, LocalAccount]
const ownerWallet = c.wallet(owner)
const big = 10n ** 30n

// L1 and the sidechain share this anvil: the vault is the real verifier of the stored signatures.
const l1Token = (await deployTestToken(ownerWallet, c.publicClient, { name: 'L1', symbol: 'L1T' }))
  .address
const vaultAddress = (
  await deployVault(ownerWallet, c.publicClient, {
    owner: owner.address,
    guardian: guardian.address,
    signers: relayers.map((r) => r.address),
    threshold: 2,
    tokens: [
      { token: zeroAddress, depositsEnabled: true, maxPerTransaction: big, windowLimit: big },
    ],
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

const bridgeAs = (account: LocalAccount) =>
  getContract({ address: bridgeAddress, abi: sidechainBridgeAbi, client: c.wallet(account) })
const bridge = bridgeAs(alice)
const tokenAt = (address: Address, account: LocalAccount = alice) =>
  getContract({ address, abi: wrappedTokenAbi, client: c.wallet(account) })

const restore = await c.checkpoint()
t.afterEach(() => restore())

interface Deposit {
  id: bigint
  l1Token: Address
  to: Address
  amount: bigint
}
const ethDeposit: Deposit = {
  id: 0n,
  l1Token: zeroAddress,
  to: alice.address,
  amount: parseEther('5'),
}
const tokenDeposit: Deposit = { id: 1n, l1Token, to: alice.address, amount: 100n }

const confirm = (relayer: LocalAccount, d: Deposit) =>
  c.mined(bridgeAs(relayer).write.confirmDeposit([d.id, d.l1Token, d.to, d.amount]))
const payloadOf = (d: Deposit) => bridge.read.depositPayloadHash([d.id, d.l1Token, d.to, d.amount])
const eventsOf = <N extends 'DepositConfirmed' | 'DepositConflict' | 'DepositMinted'>(
  receipt: { logs: Parameters<typeof parseEventLogs>[0]['logs'] },
  eventName: N,
) => parseEventLogs({ abi: sidechainBridgeAbi, logs: receipt.logs, eventName })

async function mint(d: Deposit): Promise<Address> {
  await confirm(r0, d)
  await confirm(r1, d)
  return bridge.read.wrappedTokenOf([d.l1Token])
}

/** Signatures of `signers` (current relayers) over the rotation to (`set`, `threshold`) as L1 signer epoch
 * `epoch` (default: the next one), ordered by ascending signer as both contracts require. */
async function rotationSignatures(
  signers: readonly LocalAccount[],
  set: readonly Address[],
  threshold: bigint,
  epoch?: bigint,
  /** Hash of the set being replaced (default: the bridge's current one). */
  previous?: Hash,
) {
  const nextEpoch = epoch ?? (await bridge.read.l1SignerEpoch()) + 1n
  const previousSetHash = previous ?? (await bridge.read.relayerSetHash())
  return Promise.all(
    sortAccounts(signers).map((r) =>
      signSignerSetUpdate(r, l1Domain, {
        previousSetHash,
        signers: set,
        threshold,
        epoch: nextEpoch,
      }),
    ),
  )
}

async function configSnapshot() {
  return {
    owner: await bridge.read.owner(),
    guardian: await bridge.read.guardian(),
    relayers: await bridge.read.relayers(),
    threshold: await bridge.read.threshold(),
    relayerEpoch: await bridge.read.relayerEpoch(),
    l1SignerEpoch: await bridge.read.l1SignerEpoch(),
    paused: await bridge.read.paused(),
  }
}

t.test('M confirmations mint exactly once, M-1 do not', async (t) => {
  const payload = await payloadOf(ethDeposit)
  t.equal(
    (
      await bridgeAs(r0).simulate.confirmDeposit([
        0n,
        zeroAddress,
        alice.address,
        ethDeposit.amount,
      ])
    ).result,
    false,
  )
  const first = await confirm(r0, ethDeposit)
  t.match(eventsOf(first, 'DepositConfirmed')[0]!.args, {
    depositId: 0n,
    relayer: r0.address,
    votes: 1n,
  })
  t.equal(await bridge.read.votesFor([0n, payload]), 1n)
  t.equal(await bridge.read.wrappedTokenOf([zeroAddress]), zeroAddress, 'M-1 votes: nothing minted')
  t.equal(await bridge.read.mintedPayload([0n]), pad('0x0'))

  const again = await confirm(r0, ethDeposit)
  t.equal(again.logs.length, 0, 'a repeated vote is a no-op')
  t.equal(await bridge.read.votesFor([0n, payload]), 1n, 'and is not counted twice')

  const second = await confirm(r1, ethDeposit)
  const token = await bridge.read.wrappedTokenOf([zeroAddress])
  t.equal(token, await bridge.read.computeWrappedTokenAddress([zeroAddress]))
  t.match(eventsOf(second, 'DepositMinted')[0]!.args, {
    depositId: 0n,
    l1Token: zeroAddress,
    to: alice.address,
    token,
    amount: ethDeposit.amount,
  })
  t.equal(await bridge.read.mintedPayload([0n]), payload)
  const wrapped = tokenAt(token)
  t.equal(await wrapped.read.balanceOf([alice.address]), ethDeposit.amount)
  t.same(
    [await wrapped.read.name(), await wrapped.read.symbol(), await wrapped.read.decimals()],
    ['Bridged Ether', 'bETH', 18],
  )
  t.equal(await wrapped.read.bridge(), bridgeAddress)
  t.equal(await wrapped.read.l1Token(), zeroAddress)

  const third = await confirm(r2, ethDeposit)
  t.equal(third.logs.length, 0, 'a late vote after the mint does nothing')
  t.equal(await wrapped.read.totalSupply(), ethDeposit.amount, 'minted exactly once')
})

t.test('a conflicting payload does not mint and is flagged', async (t) => {
  const honest = await payloadOf(tokenDeposit)
  const forged = { ...tokenDeposit, amount: 1_000_000n }
  const forgedHash = await payloadOf(forged)

  // The faulty relayer reports first: it must not block the honest payload.
  await confirm(r1, forged)
  const flagged = await confirm(r0, tokenDeposit)
  t.match(eventsOf(flagged, 'DepositConflict')[0]!.args, {
    depositId: 1n,
    relayer: r0.address,
    knownPayloadHash: forgedHash,
    conflictingPayloadHash: honest,
  })
  t.equal(eventsOf(flagged, 'DepositMinted').length, 0, 'two votes, but for different payloads')
  t.equal(
    await bridge.read.votesFor([1n, forgedHash]),
    1n,
    'the conflicting vote adds nothing to the known payload',
  )
  t.equal(await bridge.read.votesFor([1n, honest]), 1n)
  t.equal(await bridge.read.wrappedTokenOf([l1Token]), zeroAddress, 'nothing minted')

  const changed = await confirm(r1, tokenDeposit)
  t.match(eventsOf(changed, 'DepositConflict')[0]!.args, {
    relayer: r1.address,
    knownPayloadHash: forgedHash,
    conflictingPayloadHash: honest,
  })
  t.equal(eventsOf(changed, 'DepositConfirmed').length, 0, 'a relayer cannot change its vote')
  t.equal(await bridge.read.votesFor([1n, honest]), 1n)

  const minted = await confirm(r2, tokenDeposit)
  t.equal(eventsOf(minted, 'DepositMinted')[0]!.args.amount, 100n, 'the honest payload wins')
  const token = await bridge.read.wrappedTokenOf([l1Token])
  t.equal(await tokenAt(token).read.totalSupply(), 100n)
  t.equal(await tokenAt(token).read.symbol(), 'BRIDGED')
  t.equal(await tokenAt(token).read.name(), `Bridged ${l1Token.slice(0, 10).toLowerCase()}`)

  const late = await confirm(r2, { ...tokenDeposit, to: outsider.address })
  t.match(eventsOf(late, 'DepositConflict')[0]!.args, { knownPayloadHash: honest })
  t.equal(await tokenAt(token).read.totalSupply(), 100n, 'nothing more after the mint')
})

t.test('withdraw burns without approval and records contiguous ids', async (t) => {
  const eth = await mint(ethDeposit)
  const tkn = await mint(tokenDeposit)
  const receipts = [
    await c.mined(bridge.write.withdraw([eth, parseEther('1'), bob.address])),
    await c.mined(bridge.write.withdraw([tkn, 30n, bob.address])),
    await c.mined(bridge.write.withdraw([eth, 2n, alice.address])),
  ]
  const events = receipts.map(
    (r) =>
      parseEventLogs({
        abi: sidechainBridgeAbi,
        logs: r.logs,
        eventName: 'WithdrawalInitiated',
      })[0]!.args,
  )
  t.same(
    events.map((e) => [e.withdrawalId, e.l1Token, e.from, e.l1Recipient, e.amount]),
    [
      [0n, zeroAddress, alice.address, bob.address, parseEther('1')],
      [1n, l1Token, alice.address, bob.address, 30n],
      [2n, zeroAddress, alice.address, alice.address, 2n],
    ],
  )
  t.equal(await bridge.read.withdrawalCount(), 3n)
  t.equal(await tokenAt(eth).read.totalSupply(), parseEther('4') - 2n)
  t.equal(await tokenAt(tkn).read.balanceOf([alice.address]), 70n)
  t.same(await bridge.read.getWithdrawal([1n]), {
    l1Token,
    token: tkn,
    from: alice.address,
    l1Recipient: bob.address,
    amount: 30n,
  })
  t.same(await bridge.read.l1Withdrawal([1n]), {
    sourceChainId: BigInt(c.chain.id),
    sourceBridge: bridgeAddress,
    withdrawalId: 1n,
    token: l1Token,
    recipient: bob.address,
    amount: 30n,
    epoch: 0n,
  })

  t.match(await revertOf(bridge.simulate.withdraw([l1Token, 1n, bob.address])), {
    name: 'UnknownToken',
    args: [l1Token],
  })
  t.match(await revertOf(bridge.simulate.withdraw([tkn, 0n, bob.address])), { name: 'ZeroAmount' })
  t.match(await revertOf(bridge.simulate.withdraw([tkn, 1n, zeroAddress])), {
    name: 'InvalidRecipient',
  })
  t.match(
    await revertOf(bridge.simulate.withdraw([tkn, 71n, bob.address]), wrappedTokenAbi),
    { name: 'ERC20InsufficientBalance' },
    'cannot burn more than the balance',
  )
  t.match(await revertOf(bridge.read.getWithdrawal([3n])), {
    name: 'UnknownWithdrawal',
    args: [3n],
  })
})

t.test('only the bridge can mint or burn wrapped tokens', async (t) => {
  const token = await mint(ethDeposit)
  for (const account of [alice, owner, r0]) {
    t.match(await revertOf(tokenAt(token, account).simulate.mint([account.address, 1n])), {
      name: 'OnlyBridge',
      args: [account.address],
    })
    t.match(await revertOf(tokenAt(token, account).simulate.burn([alice.address, 1n])), {
      name: 'OnlyBridge',
    })
  }
})

t.test('relayers store verified signatures that release on L1', async (t) => {
  const eth = await mint(ethDeposit)
  await c.mined(bridge.write.withdraw([eth, parseEther('1'), bob.address]))
  const w = await bridge.read.l1Withdrawal([0n])
  const submit = (relayer: LocalAccount, signature: Hex, id = 0n) =>
    c.mined(bridgeAs(relayer).write.submitSignature([id, signature]))
  const sig = (account: LocalAccount, domain = l1Domain) => signWithdrawal(account, domain, w)

  t.equal(
    await bridge.read.withdrawalDigest([0n]),
    await c.publicClient.readContract({
      address: vaultAddress,
      abi: bridgeVaultAbi,
      functionName: 'withdrawalDigest',
      args: [w],
    }),
    'the sidechain computes the vault digest',
  )

  await submit(r2, await sig(r2))
  await submit(r0, await sig(r0))
  const again = await submit(r0, await sig(r0))
  t.equal(again.logs.length, 0, 'a second submission is a no-op')
  t.equal(await bridge.read.hasSigned([0n, 0n, r0.address]), true)

  t.match(await revertOf(bridgeAs(outsider).simulate.submitSignature([0n, await sig(outsider)])), {
    name: 'NotRelayer',
    args: [outsider.address],
  })
  t.match(await revertOf(bridgeAs(r1).simulate.submitSignature([0n, await sig(r0)])), {
    name: 'InvalidRelayerSignature',
    args: [r1.address, r0.address],
  })
  const wrongChain = await sig(r1, { chainId: 1, verifyingContract: vaultAddress })
  t.match(await revertOf(bridgeAs(r1).simulate.submitSignature([0n, wrongChain])), {
    name: 'InvalidRelayerSignature',
  })
  t.match(await revertOf(bridgeAs(r1).simulate.submitSignature([0n, highSTwin(await sig(r1))])), {
    name: 'InvalidRelayerSignature',
    args: [r1.address, zeroAddress],
  })
  t.match(await revertOf(bridgeAs(r1).simulate.submitSignature([5n, await sig(r1)])), {
    name: 'UnknownWithdrawal',
  })

  const [signers, signatures] = await bridge.read.getSignatures([0n])
  t.same(signers, [r0.address, r2.address], 'sorted by signer')
  t.equal(parseSignature(signatures[0]!).r, parseSignature(await sig(r0)).r)

  await c.mined(
    getContract({
      address: vaultAddress,
      abi: bridgeVaultAbi,
      client: c.wallet(alice),
    }).write.depositETH([alice.address], { value: parseEther('5') }),
  )
  const before = await c.publicClient.getBalance({ address: bob.address })
  // Anyone can execute the release with what the sidechain stores.
  const vaultAsOutsider = getContract({
    address: vaultAddress,
    abi: bridgeVaultAbi,
    client: c.wallet(outsider),
  })
  await c.mined(vaultAsOutsider.write.release([w, signatures]))
  t.equal(await c.publicClient.getBalance({ address: bob.address }), before + parseEther('1'))
})

t.test('a relayer message cannot change the configuration', async (t) => {
  const before = await configSnapshot()
  const relayer = bridgeAs(r0)
  for (const [label, call] of [
    ['setWithdrawalLimits', () => relayer.simulate.setWithdrawalLimits([zeroAddress, 0n, 0n])],
    ['setGuardian', () => relayer.simulate.setGuardian([r0.address])],
    ['createWrappedToken', () => relayer.simulate.createWrappedToken([l1Token, 'X', 'X', 18])],
    ['transferOwnership', () => relayer.simulate.transferOwnership([r0.address])],
    ['unpause', () => relayer.simulate.unpause()],
  ] as const) {
    t.match(
      await revertOf(call()),
      { name: 'OwnableUnauthorizedAccount', args: [r0.address] },
      label,
    )
  }
  t.match(await revertOf(relayer.simulate.pause()), { name: 'NotGuardian', args: [r0.address] })
  // One relayer's signature is not the quorum that changes who mints.
  t.match(
    await revertOf(
      relayer.simulate.rotateRelayers([
        [r0.address],
        1n,
        await rotationSignatures([r0], [r0.address], 1n),
      ]),
    ),
    { name: 'InsufficientSignatures', args: [1n, 2n] },
    'rotateRelayers with one relayer signature',
  )

  // Everything a relayer can send, with adversarial payloads.
  const eth = await mint(ethDeposit)
  await confirm(r2, { ...ethDeposit, to: r2.address, amount: big })
  await confirm(r0, { id: 99n, l1Token: bridgeAddress, to: r0.address, amount: 1n })
  await c.mined(bridge.write.withdraw([eth, 1n, bob.address]))
  await c.mined(
    bridgeAs(r0).write.submitSignature([
      0n,
      await signWithdrawal(r0, l1Domain, await bridge.read.l1Withdrawal([0n])),
    ]),
  )
  t.same(
    await configSnapshot(),
    before,
    'owner, guardian, relayers, threshold and epochs unchanged',
  )
})

t.test('relayer sets follow the same rules as signer sets', async (t) => {
  const addrs = relayers.map((r) => r.address)
  const cases: [string, Address[], bigint, string][] = [
    ['threshold 0', addrs, 0n, 'InvalidThreshold'],
    ['threshold above the set', addrs, 4n, 'InvalidThreshold'],
    ['zero address', [addrs[0]!, zeroAddress], 1n, 'ZeroAddressMember'],
    ['duplicate relayer', [addrs[0]!, addrs[1]!, addrs[1]!], 2n, 'DuplicateMember'],
  ]
  for (const [label, set, threshold, error] of cases) {
    t.match(
      await revertOf(
        bridgeAs(owner).simulate.rotateRelayers([
          set,
          threshold,
          await rotationSignatures([r0, r1], set, threshold),
        ]),
      ),
      { name: error },
      `rotateRelayers: ${label}`,
    )
    const data = encodeDeployData({
      abi: sidechainBridgeAbi,
      bytecode: sidechainBridgeBytecode,
      args: [owner.address, guardian.address, set, threshold, 1n, vaultAddress, 0n, 0n, 0n],
    })
    t.match(
      await revertOf(c.publicClient.call({ account: owner.address, data }), sidechainBridgeAbi),
      { name: error },
      `constructor: ${label}`,
    )
  }

  // A new set starts from zero votes: pending votes of the old set no longer count.
  await confirm(r0, ethDeposit)
  const payload = await payloadOf(ethDeposit)
  const newSet = [r1.address, r2.address]
  await c.mined(
    bridgeAs(outsider).write.rotateRelayers([
      newSet,
      2n,
      await rotationSignatures([r0, r1], newSet, 2n),
    ]),
  )
  t.equal(await bridge.read.relayerEpoch(), 1n)
  t.equal(await bridge.read.l1SignerEpoch(), 1n, 'the L1 signer epoch follows the rotation')
  t.equal(await bridge.read.votesFor([0n, payload]), 0n)
  t.match(
    await revertOf(bridgeAs(r0).simulate.confirmDeposit([0n, zeroAddress, alice.address, 1n])),
    {
      name: 'NotRelayer',
    },
  )
  await confirm(r1, ethDeposit)
  t.equal(
    await bridge.read.wrappedTokenOf([zeroAddress]),
    zeroAddress,
    'r0 vote from the old set is gone',
  )
  await confirm(r2, ethDeposit)
  t.not(await bridge.read.wrappedTokenOf([zeroAddress]), zeroAddress)
})

t.test(
  'wrapped tokens live at deterministic CREATE2 addresses; the owner can create them first',
  async (t) => {
    const predicted = await bridge.read.computeWrappedTokenAddress([l1Token])
    t.equal(
      predicted,
      getContractAddress({
        opcode: 'CREATE2',
        from: bridgeAddress,
        salt: pad(l1Token),
        bytecode: wrappedTokenBytecode,
      }),
    )
    t.equal(await c.publicClient.getCode({ address: predicted }), undefined, 'not created yet')
    await c.mined(bridgeAs(owner).write.createWrappedToken([l1Token, 'Wrapped L1', 'wL1T', 6]))
    t.equal(await bridge.read.wrappedTokenOf([l1Token]), predicted)
    t.equal(await bridge.read.l1TokenOf([predicted]), l1Token)
    t.equal(await bridge.read.isWrappedToken([predicted]), true)
    t.same(
      [
        await tokenAt(predicted).read.name(),
        await tokenAt(predicted).read.symbol(),
        await tokenAt(predicted).read.decimals(),
      ],
      ['Wrapped L1', 'wL1T', 6],
    )
    t.match(await revertOf(bridgeAs(owner).simulate.createWrappedToken([l1Token, 'A', 'B', 6])), {
      name: 'WrappedTokenExists',
    })
    t.match(
      await revertOf(
        bridgeAs(owner).simulate.createWrappedToken([zeroAddress, 'x'.repeat(32), 'B', 6]),
      ),
      { name: 'InvalidTokenName' },
      'names longer than the EIP-712 limit are refused up front',
    )
    await mint(tokenDeposit)
    t.equal(
      await tokenAt(predicted).read.balanceOf([alice.address]),
      100n,
      'deposits mint the pre-created token',
    )
    t.same(
      await bridge.read.wrappedTokenParameters(),
      [zeroAddress, '', '', 0],
      'creation parameters cleared',
    )
  },
)

t.test('wrapped tokens support EIP-2612 permit', async (t) => {
  const token = await mint(ethDeposit)
  const wrapped = tokenAt(token)
  const deadline = 2n ** 64n
  const signature = await alice.signTypedData({
    domain: { name: 'Bridged Ether', version: '1', chainId: c.chain.id, verifyingContract: token },
    types: {
      Permit: [
        { name: 'owner', type: 'address' },
        { name: 'spender', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'nonce', type: 'uint256' },
        { name: 'deadline', type: 'uint256' },
      ],
    },
    primaryType: 'Permit',
    message: { owner: alice.address, spender: bob.address, value: 42n, nonce: 0n, deadline },
  })
  const { r, s, v } = parseSignature(signature)
  await c.mined(
    tokenAt(token, bob).write.permit([alice.address, bob.address, 42n, deadline, Number(v), r, s]),
  )
  t.equal(await wrapped.read.allowance([alice.address, bob.address]), 42n)
})

t.test(
  'the guardian pauses minting, withdrawals and signatures; only the owner unpauses',
  async (t) => {
    const eth = await mint(ethDeposit)
    await c.mined(bridgeAs(guardian).write.pause())
    t.match(
      await revertOf(bridgeAs(r2).simulate.confirmDeposit([1n, l1Token, alice.address, 1n])),
      {
        name: 'EnforcedPause',
      },
    )
    t.match(await revertOf(bridge.simulate.withdraw([eth, 1n, bob.address])), {
      name: 'EnforcedPause',
    })
    t.match(await revertOf(bridgeAs(r0).simulate.submitSignature([0n, '0x'])), {
      name: 'EnforcedPause',
    })
    t.match(await revertOf(bridgeAs(guardian).simulate.unpause()), {
      name: 'OwnableUnauthorizedAccount',
    })
    await c.mined(bridgeAs(owner).write.unpause())
    await c.mined(bridge.write.withdraw([eth, 1n, bob.address]))
    t.match(await revertOf(bridge.read.renounceOwnership({ account: owner.address })), {
      name: 'RenounceOwnershipDisabled',
    })
  },
)

t.test('the constructor needs an L1 vault and a guardian', async (t) => {
  const stranger = privateKeyToAccount(generatePrivateKey())
  for (const [label, guardianAddress, vault] of [
    ['no vault', guardian.address, zeroAddress],
    ['no guardian', zeroAddress, vaultAddress],
  ] as const) {
    const data = encodeDeployData({
      abi: sidechainBridgeAbi,
      bytecode: sidechainBridgeBytecode,
      args: [owner.address, guardianAddress, [stranger.address], 1n, 1n, vault, 0n, 0n, 0n],
    })
    t.match(
      await revertOf(c.publicClient.call({ account: owner.address, data }), sidechainBridgeAbi),
      { name: 'ZeroAddress' },
      label,
    )
  }
})

t.test('a copy of its code and storage works at another address (genesis predeploy)', async (t) => {
  // What a genesis tool does: run the constructor elsewhere, then place code and storage at a fixed address.
  const scratch = await deploySidechainBridge(ownerWallet, c.publicClient, {
    owner: owner.address,
    guardian: guardian.address,
    relayers: [r0.address, r1.address],
    threshold: 2,
    l1ChainId: c.chain.id,
    l1Vault: vaultAddress,
    l1SignerEpoch: 4,
  })
  const dump = (await c.publicClient.request({ method: 'anvil_dumpState' } as never)) as Hex
  const state = JSON.parse(gunzipSync(Buffer.from(dump.slice(2), 'hex')).toString()) as {
    accounts: Record<string, { code: Hex; storage: Record<string, Hex> }>
  }
  const account = Object.entries(state.accounts).find(
    ([address]) => address.toLowerCase() === scratch.address.toLowerCase(),
  )?.[1]
  if (account === undefined) throw new Error('bridge missing from the state dump')
  const predeploy = getAddress('0x0000000000000000000000000000000000b41d6e')
  await c.testClient.setCode({ address: predeploy, bytecode: account.code })
  for (const [slot, value] of Object.entries(account.storage)) {
    await c.testClient.setStorageAt({
      address: predeploy,
      index: pad(slot as Hex, { size: 32 }),
      value: pad(value, { size: 32 }),
    })
  }

  const moved = getContract({
    address: predeploy,
    abi: sidechainBridgeAbi,
    client: c.wallet(alice),
  })
  t.equal(await moved.read.owner(), owner.address)
  t.equal(await moved.read.guardian(), guardian.address)
  t.same(await moved.read.relayers(), [r0.address, r1.address])
  t.equal(await moved.read.threshold(), 2n)
  t.equal(await moved.read.l1SignerEpoch(), 4n)
  t.equal(await moved.read.l1Vault(), vaultAddress)
  t.equal(
    await moved.read.l1DomainSeparator(),
    await c.publicClient.readContract({
      address: vaultAddress,
      abi: bridgeVaultAbi,
      functionName: 'domainSeparator',
    }),
  )

  for (const relayer of [r0, r1]) {
    await c.mined(
      getContract({
        address: predeploy,
        abi: sidechainBridgeAbi,
        client: c.wallet(relayer),
      }).write.confirmDeposit([0n, zeroAddress, alice.address, 7n]),
    )
  }
  const token = await moved.read.wrappedTokenOf([zeroAddress])
  t.equal(
    token,
    getContractAddress({
      opcode: 'CREATE2',
      from: predeploy,
      salt: pad(zeroAddress),
      bytecode: wrappedTokenBytecode,
    }),
    'wrapped tokens are created from the predeploy address',
  )
  t.equal(await tokenAt(token).read.bridge(), predeploy)
  t.equal(await tokenAt(token).read.balanceOf([alice.address]), 7n)
  await c.mined(moved.write.withdraw([token, 3n, bob.address]))
  t.equal(await tokenAt(token).read.totalSupply(), 4n)
})

// ------------------------------------------------------------------------- security review, turn 2 (issue 20)

const vaultAs = (account: LocalAccount) =>
  getContract({ address: vaultAddress, abi: bridgeVaultAbi, client: c.wallet(account) })

/** Signs withdrawal `id` of `bridgeContract` with `signers` and releases it on the vault. */
async function releaseWithSignatures(
  bridgeContract: Address,
  id: bigint,
  signers: readonly LocalAccount[],
) {
  const on = getContract({
    address: bridgeContract,
    abi: sidechainBridgeAbi,
    client: c.wallet(alice),
  })
  const w = await on.read.l1Withdrawal([id])
  const signatures = await Promise.all(
    sortAccounts(signers).map((r) => signWithdrawal(r, l1Domain, w)),
  )
  return c.mined(vaultAs(outsider).write.release([w, signatures]))
}

t.test(
  'the owner alone cannot change who mints; the signer quorum rotates both chains',
  async (t) => {
    // Review finding 1: the owner made itself a relayer with threshold 1 and minted an unbacked deposit.
    const before = await configSnapshot()
    const ownerSet = [...relayers.map((r) => r.address), owner.address]
    t.match(
      await revertOf(
        bridgeAs(owner).simulate.rotateRelayers([
          ownerSet,
          1n,
          await rotationSignatures([owner, r0], ownerSet, 1n),
        ]),
      ),
      { name: 'NotSigner' },
      'the owner signature does not count',
    )
    t.match(
      await revertOf(
        bridgeAs(owner).simulate.rotateRelayers([
          ownerSet,
          1n,
          await rotationSignatures([r0], ownerSet, 1n),
        ]),
      ),
      { name: 'InsufficientSignatures' },
      'one relayer and the owner key are not a quorum',
    )
    t.match(
      await revertOf(
        bridgeAs(owner).simulate.confirmDeposit([1_000_000n, zeroAddress, owner.address, big]),
      ),
      { name: 'NotRelayer', args: [owner.address] },
      'the owner cannot mint',
    )
    t.same(await configSnapshot(), before, 'nothing changed')

    // The quorum's one message moves the vault and the bridge to the same set and epoch; anyone relays it.
    const newSet = [r0.address, r1.address]
    const signatures = await rotationSignatures([r1, r2], newSet, 1n, 1n)
    await c.mined(vaultAs(outsider).write.rotateSigners([newSet, 1n, signatures]))
    await c.mined(bridgeAs(outsider).write.rotateRelayers([newSet, 1n, signatures]))
    t.same(await bridge.read.relayers(), newSet)
    t.equal(await bridge.read.threshold(), 1n)
    t.equal(await bridge.read.l1SignerEpoch(), await vaultAs(outsider).read.signerEpoch())
    t.match(
      await revertOf(bridgeAs(outsider).simulate.rotateRelayers([newSet, 1n, signatures])),
      { name: 'NotSigner' },
      'the rotation cannot be replayed (the next epoch is in the digest)',
    )
  },
)

t.test(
  'a rotation applies only over the set it names: two rotations for one epoch cannot move both chains on',
  async (t) => {
    const vault = getContract({
      address: vaultAddress,
      abi: bridgeVaultAbi,
      client: c.wallet(outsider),
    })
    const start = await bridge.read.relayerSetHash()
    t.equal(await vault.read.signerSetHash(), start, 'both chains start on the same set')
    // The quorum signs two different rotations for the next epoch (a split brain, or a key used twice).
    const setA = [r0.address, r1.address]
    const setB = [r1.address, r2.address]
    const sigsA = await rotationSignatures([r0, r1], setA, 1n)
    const sigsB = await rotationSignatures([r1, r2], setB, 1n)
    // Someone relays A to the vault and B to the bridge: each is a valid update of the set both chains had.
    await c.mined(vault.write.rotateSigners([setA, 1n, sigsA]))
    await c.mined(bridgeAs(outsider).write.rotateRelayers([setB, 1n, sigsB]))
    t.equal(await vault.read.signerEpoch(), await bridge.read.l1SignerEpoch(), 'same epoch')
    t.not(
      await vault.read.signerSetHash(),
      await bridge.read.relayerSetHash(),
      'but the set hashes differ: the split is visible to every relayer',
    )
    // The next rotation signed by A's quorum names A as the set it replaces: it moves the vault, never the bridge
    // (before the set hash was in the message, A's members alone moved both chains on together).
    const setC = [r0.address, r2.address]
    const vaultSetHash = await vault.read.signerSetHash()
    const sigsC = await rotationSignatures([r0, r1], setC, 1n, undefined, vaultSetHash)
    t.match(
      await revertOf(bridgeAs(outsider).simulate.rotateRelayers([setC, 1n, sigsC])),
      { name: 'NotSigner' },
      'an update over the vault set does not apply to a bridge on another set',
    )
    await c.mined(vault.write.rotateSigners([setC, 1n, sigsC]))
    t.same(await vault.read.signers(), setC, 'it applies where its set is current')
  },
)

t.test('withdrawal limits refuse dust and amounts the vault could never release', async (t) => {
  // Review findings 2 (dust to a gas burner) and 7 (a burn above the vault's per-transaction limit).
  const eth = await mint(ethDeposit)
  t.match(await revertOf(bridgeAs(owner).simulate.setWithdrawalLimits([l1Token, 0n, 0n])), {
    name: 'UnknownToken',
  })
  t.match(await revertOf(bridgeAs(owner).simulate.setWithdrawalLimits([eth, 2n, 1n])), {
    name: 'InvalidWithdrawalLimits',
  })
  await c.mined(
    bridgeAs(owner).write.setWithdrawalLimits([eth, parseEther('0.01'), parseEther('1')]),
  )
  t.same(await bridge.read.withdrawalLimits([eth]), {
    minAmount: parseEther('0.01'),
    maxAmount: parseEther('1'),
  })
  const balance = await tokenAt(eth).read.balanceOf([alice.address])
  t.match(await revertOf(bridge.simulate.withdraw([eth, 1n, bob.address])), {
    name: 'WithdrawalBelowMinimum',
    args: [eth, 1n, parseEther('0.01')],
  })
  t.match(await revertOf(bridge.simulate.withdraw([eth, parseEther('2'), bob.address])), {
    name: 'WithdrawalAboveMaximum',
    args: [eth, parseEther('2'), parseEther('1')],
  })
  t.equal(await tokenAt(eth).read.balanceOf([alice.address]), balance, 'nothing burned')
  await c.mined(bridge.write.withdraw([eth, parseEther('1'), bob.address]))
  t.equal(await bridge.read.withdrawalCount(), 1n)
})

t.test(
  'a second bridge instance neither re-mints old deposits nor strands new withdrawals',
  async (t) => {
    // Review finding 4: bridge B for the same vault restarted ids at 0; B's withdrawal 0 was taken as released
    // (processed[0] from bridge A) and never paid, and A's deposits could be minted again on B.
    await c.mined(vaultAs(alice).write.depositETH([alice.address], { value: parseEther('5') }))
    await c.mined(vaultAs(alice).write.depositETH([alice.address], { value: parseEther('5') }))
    const eth = await mint(ethDeposit)
    await c.mined(bridge.write.withdraw([eth, parseEther('1'), bob.address]))
    await releaseWithSignatures(bridgeAddress, 0n, [r0, r1])

    const bridgeB = (
      await deploySidechainBridge(ownerWallet, c.publicClient, {
        owner: owner.address,
        guardian: guardian.address,
        relayers: relayers.map((r) => r.address),
        threshold: 2,
        l1ChainId: c.chain.id,
        l1Vault: vaultAddress,
        firstDepositId: 1n,
      })
    ).address
    const onB = (account: LocalAccount) =>
      getContract({ address: bridgeB, abi: sidechainBridgeAbi, client: c.wallet(account) })
    t.match(
      await revertOf(
        onB(r0).simulate.confirmDeposit([0n, zeroAddress, alice.address, parseEther('5')]),
      ),
      { name: 'DepositIdBeforeFirst', args: [0n, 1n] },
      "bridge A's deposit 0 cannot be minted again on B",
    )
    const second = { ...ethDeposit, id: 1n }
    await c.mined(
      onB(r0).write.confirmDeposit([second.id, second.l1Token, second.to, second.amount]),
    )
    await c.mined(
      onB(r1).write.confirmDeposit([second.id, second.l1Token, second.to, second.amount]),
    )
    const ethB = await onB(alice).read.wrappedTokenOf([zeroAddress])
    await c.mined(onB(alice).write.withdraw([ethB, parseEther('1.5'), bob.address]))
    const w = await onB(alice).read.l1Withdrawal([0n])
    t.match(w, { withdrawalId: 0n, sourceBridge: bridgeB, sourceChainId: BigInt(c.chain.id) })
    t.equal(await vaultAs(alice).read.isProcessed([BigInt(c.chain.id), bridgeB, 0n]), false)

    const before = await c.publicClient.getBalance({ address: bob.address })
    await releaseWithSignatures(bridgeB, 0n, [r0, r2])
    t.equal(await c.publicClient.getBalance({ address: bob.address }), before + parseEther('1.5'))
    t.equal(await vaultAs(alice).read.isProcessed([BigInt(c.chain.id), bridgeB, 0n]), true)
    t.equal(await vaultAs(alice).read.isProcessed([BigInt(c.chain.id), bridgeAddress, 0n]), true)
  },
)
