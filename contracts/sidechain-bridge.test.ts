import { gunzipSync } from 'node:zlib'
import t from 'tap'
import {
  type Address,
  encodeDeployData,
  getAddress,
  getContract,
  getContractAddress,
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
    ['setRelayers', () => relayer.simulate.setRelayers([[r0.address], 1n])],
    ['setL1SignerEpoch', () => relayer.simulate.setL1SignerEpoch([5n])],
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
      await revertOf(bridgeAs(owner).simulate.setRelayers([set, threshold])),
      { name: error },
      `setRelayers: ${label}`,
    )
    const data = encodeDeployData({
      abi: sidechainBridgeAbi,
      bytecode: sidechainBridgeBytecode,
      args: [owner.address, guardian.address, set, threshold, 1n, vaultAddress, 0n],
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
  await c.mined(bridgeAs(owner).write.setRelayers([[r1.address, r2.address], 2n]))
  t.equal(await bridge.read.relayerEpoch(), 1n)
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
    t.match(await revertOf(bridgeAs(owner).simulate.setL1SignerEpoch([0n])), {
      name: 'L1SignerEpochNotIncreasing',
    })
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
      args: [owner.address, guardianAddress, [stranger.address], 1n, 1n, vault, 0n],
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
