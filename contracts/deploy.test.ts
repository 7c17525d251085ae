import t from 'tap'
import {
  type Address,
  createWalletClient,
  getAddress,
  getContract,
  hashTypedData,
  http,
  parseSignature,
  recoverTypedDataAddress,
  zeroAddress,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  BridgeContractsError,
  type DeploySidechainBridgeParams,
  type DeployVaultParams,
  deployFeeOnTransferToken,
  deploySidechainBridge,
  deployTestToken,
  deployVault,
  MAX_WINDOW_LIMIT,
  memberSetHash,
  signerSetUpdateTypes,
  signSignerSetUpdate,
  signWithdrawal,
  sortSignaturesBySigner,
  vaultDomain,
} from '../bridge/deploy/index.ts'
import { isSidechainError } from '../chain/lib/errors.ts'
import { SECP256K1_N, startTestChain } from '../test/support/contracts.ts'
import { bridgeVaultAbi, sidechainBridgeAbi, testTokenAbi } from './generated/index.ts'

const c = await startTestChain()
t.teardown(() => c.stop())

const [owner, guardian, s1, s2, s3] = c.accounts as [
  (typeof c.accounts)[0],
  (typeof c.accounts)[0],
  (typeof c.accounts)[0],
  (typeof c.accounts)[0],
  (typeof c.accounts)[0],
]
const wallet = c.wallet(owner)
const signers = [s1.address, s2.address, s3.address]
const vaultParams: DeployVaultParams = {
  owner: owner.address,
  guardian: guardian.address,
  signers,
  threshold: 2,
}
const bridgeParams: DeploySidechainBridgeParams = {
  owner: owner.address,
  guardian: guardian.address,
  relayers: signers,
  threshold: 2,
  l1ChainId: 1,
  l1Vault: s3.address,
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    if (err instanceof BridgeContractsError) return err.code
    throw err
  }
  return undefined
}

t.test('bad inputs fail with typed errors before anything is sent', async (t) => {
  const nonce = await c.publicClient.getTransactionCount({ address: owner.address })
  const lower = s1.address.toLowerCase() as Address
  const vaultCases: [string, Partial<DeployVaultParams>, string][] = [
    ['threshold 0', { threshold: 0 }, 'BRIDGE_INVALID_THRESHOLD'],
    ['threshold above the set', { threshold: 4 }, 'BRIDGE_INVALID_THRESHOLD'],
    ['fractional threshold', { threshold: 1.5 }, 'BRIDGE_INVALID_THRESHOLD'],
    ['empty set', { signers: [], threshold: 1 }, 'BRIDGE_INVALID_THRESHOLD'],
    ['zero signer', { signers: [s1.address, zeroAddress] }, 'BRIDGE_INVALID_ADDRESS'],
    ['duplicate signer', { signers: [s1.address, lower, s2.address] }, 'BRIDGE_DUPLICATE_ADDRESS'],
    [
      'too many signers',
      {
        signers: Array.from(
          { length: 33 },
          () => privateKeyToAccount(generatePrivateKey()).address,
        ),
      },
      'BRIDGE_SET_TOO_LARGE',
    ],
    ['zero owner', { owner: zeroAddress }, 'BRIDGE_INVALID_ADDRESS'],
    ['malformed guardian', { guardian: '0x1234' as Address }, 'BRIDGE_INVALID_ADDRESS'],
    [
      'window limit too large',
      {
        tokens: [
          {
            token: zeroAddress,
            depositsEnabled: true,
            maxPerTransaction: 1n,
            windowLimit: MAX_WINDOW_LIMIT + 1n,
          },
        ],
      },
      'BRIDGE_INVALID_LIMIT',
    ],
    [
      'negative limit',
      {
        tokens: [
          { token: zeroAddress, depositsEnabled: true, maxPerTransaction: -1n, windowLimit: 1n },
        ],
      },
      'BRIDGE_INVALID_LIMIT',
    ],
    [
      'token twice',
      {
        tokens: [
          { token: zeroAddress, depositsEnabled: true, maxPerTransaction: 1n, windowLimit: 1n },
          { token: zeroAddress, depositsEnabled: false, maxPerTransaction: 1n, windowLimit: 1n },
        ],
      },
      'BRIDGE_DUPLICATE_ADDRESS',
    ],
  ]
  for (const [label, patch, code] of vaultCases) {
    t.equal(
      await codeOf(deployVault(wallet, c.publicClient, { ...vaultParams, ...patch })),
      code,
      `vault: ${label}`,
    )
  }
  const bridgeCases: [string, Partial<DeploySidechainBridgeParams>, string][] = [
    ['threshold 0', { threshold: 0n }, 'BRIDGE_INVALID_THRESHOLD'],
    ['threshold above the set', { threshold: 4n }, 'BRIDGE_INVALID_THRESHOLD'],
    ['duplicate relayer', { relayers: [s1.address, s1.address] }, 'BRIDGE_DUPLICATE_ADDRESS'],
    ['zero relayer', { relayers: [zeroAddress] }, 'BRIDGE_INVALID_ADDRESS'],
    ['chain id 0', { l1ChainId: 0 }, 'BRIDGE_INVALID_PARAMETER'],
    ['zero vault', { l1Vault: zeroAddress }, 'BRIDGE_INVALID_ADDRESS'],
    ['negative epoch', { l1SignerEpoch: -1n }, 'BRIDGE_INVALID_PARAMETER'],
  ]
  for (const [label, patch, code] of bridgeCases) {
    t.equal(
      await codeOf(deploySidechainBridge(wallet, c.publicClient, { ...bridgeParams, ...patch })),
      code,
      `sidechain bridge: ${label}`,
    )
  }
  t.equal(
    await codeOf(
      deployTestToken(wallet, c.publicClient, { name: 'A', symbol: 'A', decimals: 256 }),
    ),
    'BRIDGE_INVALID_PARAMETER',
  )
  t.equal(
    await codeOf(
      deployFeeOnTransferToken(wallet, c.publicClient, { name: 'A', symbol: 'A', feeBps: 10_001 }),
    ),
    'BRIDGE_INVALID_PARAMETER',
  )
  const noAccount = createWalletClient({ chain: c.chain, transport: http(c.anvil.url) })
  t.equal(await codeOf(deployVault(noAccount, c.publicClient, vaultParams)), 'BRIDGE_NO_ACCOUNT')
  t.equal(
    await c.publicClient.getTransactionCount({ address: owner.address }),
    nonce,
    'no transaction sent',
  )

  const broke = c.wallet(privateKeyToAccount(generatePrivateKey()))
  const err = await deployVault(broke, c.publicClient, vaultParams).catch((e: unknown) => e)
  t.ok(
    isSidechainError(err, 'BRIDGE_DEPLOY_FAILED'),
    'an unfunded deployer fails with a typed error',
  )
})

t.test('deployments are fully configured by their constructors', async (t) => {
  const token = await deployTestToken(wallet, c.publicClient, {
    name: 'Six',
    symbol: 'SIX',
    decimals: 6,
  })
  const tokenContract = getContract({
    address: token.address,
    abi: testTokenAbi,
    client: c.publicClient,
  })
  t.equal(await tokenContract.read.decimals(), 6)

  const vault = await deployVault(wallet, c.publicClient, {
    ...vaultParams,
    signers: [s1.address.toLowerCase() as Address, s2.address, s3.address],
    threshold: 2n,
    tokens: [
      { token: token.address, depositsEnabled: true, maxPerTransaction: 5n, windowLimit: 10n },
    ],
  })
  const v = getContract({ address: vault.address, abi: bridgeVaultAbi, client: c.publicClient })
  t.equal(await v.read.owner(), owner.address)
  t.equal(await v.read.guardian(), guardian.address)
  t.same(await v.read.signers(), signers, 'addresses are checksummed before sending')
  t.equal(await v.read.threshold(), 2n)
  t.equal(await v.read.signerEpoch(), 0n)
  t.same(await v.read.tokenConfig([token.address]), {
    depositsEnabled: true,
    maxPerTransaction: 5n,
    windowLimit: 10n,
  })

  const bridge = await deploySidechainBridge(wallet, c.publicClient, {
    ...bridgeParams,
    l1ChainId: c.chain.id,
    l1Vault: vault.address,
    l1SignerEpoch: 3,
  })
  const b = getContract({
    address: bridge.address,
    abi: sidechainBridgeAbi,
    client: c.publicClient,
  })
  t.equal(await b.read.owner(), owner.address)
  t.equal(await b.read.l1ChainId(), BigInt(c.chain.id))
  t.equal(await b.read.l1Vault(), vault.address)
  t.equal(await b.read.l1SignerEpoch(), 3n)
  t.equal(await b.read.l1DomainSeparator(), await v.read.domainSeparator())
  t.same(await b.read.relayers(), signers)
  t.equal(await b.read.threshold(), 2n)
  t.equal(await b.read.paused(), false)

  const domain = { chainId: c.chain.id, verifyingContract: vault.address }
  const update = {
    previousSetHash: await v.read.signerSetHash(),
    signers,
    threshold: 2n,
    epoch: 1n,
  }
  t.equal(update.previousSetHash, memberSetHash(signers, 2n), 'the set hash matches the helper')
  const updateSig = await signSignerSetUpdate(s1, domain, update)
  t.equal(
    await v.read.signerSetUpdateDigest([update.previousSetHash, signers, 2n, 1n]),
    hashTypedData({
      domain: vaultDomain(domain),
      types: signerSetUpdateTypes,
      primaryType: 'SignerSetUpdate',
      message: update,
    }),
  )
  t.equal(
    await recoverTypedDataAddress({
      domain: vaultDomain(domain),
      types: signerSetUpdateTypes,
      primaryType: 'SignerSetUpdate',
      message: update,
      signature: updateSig,
    }),
    s1.address,
  )
})

t.test('signWithdrawal produces low-s signatures that recover to the signer', async (t) => {
  const domain = { chainId: 1n, verifyingContract: s3.address }
  for (let i = 0n; i < 8n; i++) {
    const w = {
      sourceChainId: 1337n,
      sourceBridge: s3.address,
      withdrawalId: i,
      token: zeroAddress,
      recipient: s2.address,
      amount: 10n ** i,
      epoch: 0n,
    }
    const signature = await signWithdrawal(s1, domain, w)
    const { s } = parseSignature(signature)
    t.ok(BigInt(s) <= SECP256K1_N / 2n, 'low s')
    t.equal(
      await recoverTypedDataAddress({
        domain: vaultDomain(domain),
        types: {
          Withdrawal: [
            { name: 'sourceChainId', type: 'uint256' },
            { name: 'sourceBridge', type: 'address' },
            { name: 'withdrawalId', type: 'uint256' },
            { name: 'token', type: 'address' },
            { name: 'recipient', type: 'address' },
            { name: 'amount', type: 'uint256' },
            { name: 'epoch', type: 'uint256' },
          ],
        },
        primaryType: 'Withdrawal',
        message: w,
        signature,
      }),
      s1.address,
    )
  }
  t.throws(() => vaultDomain({ chainId: 0, verifyingContract: s3.address }), {
    code: 'BRIDGE_INVALID_PARAMETER',
  })
  await t.rejects(
    signWithdrawal(s1, domain, {
      sourceChainId: 1337n,
      sourceBridge: s3.address,
      withdrawalId: 0n,
      token: zeroAddress,
      recipient: zeroAddress,
      amount: 1n,
      epoch: 0n,
    }),
    { code: 'BRIDGE_INVALID_ADDRESS' },
  )
})

t.test('sortSignaturesBySigner orders by numeric address and refuses duplicates', async (t) => {
  const entries = [
    { signer: '0xffffffffffffffffffffffffffffffffffffffff' as Address, signature: '0x03' as const },
    { signer: '0x00000000000000000000000000000000000000aa' as Address, signature: '0x01' as const },
    {
      signer: getAddress('0x0000000000000000000000000000000000000Bb0'),
      signature: '0x02' as const,
    },
  ]
  const input = [...entries]
  const sorted = sortSignaturesBySigner(entries)
  t.same(
    sorted.map((e) => e.signature),
    ['0x01', '0x02', '0x03'],
  )
  t.same(entries, input, 'input not mutated')
  t.throws(
    () =>
      sortSignaturesBySigner([
        { signer: '0x00000000000000000000000000000000000000AA' as Address, signature: '0x01' },
        { signer: '0x00000000000000000000000000000000000000aa' as Address, signature: '0x02' },
      ]),
    { code: 'BRIDGE_DUPLICATE_SIGNER' },
  )
})
