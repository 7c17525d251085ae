/**
 * The relayer's remote account against the test Web3Signer: transactions, EIP-712
 * withdrawal signatures and messages come out byte for byte as a local key would sign them
 * (signatures are deterministic, RFC 6979), and a signer holding another key is refused.
 */
import t from 'tap'
import { parseEther, parseGwei } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { Web3SignerClient } from '../../chain/lib/signer.ts'
import { startTestSigner } from '../../test/support/web3signer.ts'
import { signWithdrawal } from '../deploy/deploy.ts'
import { remoteAccount } from './remote-account.ts'

const key = generatePrivateKey()
const local = privateKeyToAccount(key)

t.test('remote account signs exactly what the local key signs', async (t) => {
  const signer = await startTestSigner(Buffer.from(key.slice(2), 'hex'))
  t.teardown(() => signer.close())
  const remote = remoteAccount(
    await Web3SignerClient.connect({ url: signer.url, address: local.address }),
  )
  t.equal(remote.address, local.address)

  const tx = {
    chainId: 1337,
    type: 'eip1559',
    nonce: 7,
    to: '0x000000000000000000000000000000000000dEaD',
    value: parseEther('1.5'),
    gas: 21_000n,
    maxFeePerGas: parseGwei('3'),
    maxPriorityFeePerGas: parseGwei('1'),
  } as const
  t.equal(await remote.signTransaction(tx), await local.signTransaction(tx), 'transaction')

  const domain = {
    chainId: 31337,
    verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  } as const
  const withdrawal = {
    sourceChainId: 1337n,
    sourceBridge: '0x4200000000000000000000000000000000000010',
    withdrawalId: 3n,
    token: '0x0000000000000000000000000000000000000000',
    recipient: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    amount: parseEther('2'),
    epoch: 1n,
  } as const
  t.equal(
    await signWithdrawal(remote, domain, withdrawal),
    await signWithdrawal(local, domain, withdrawal),
    'EIP-712 withdrawal signature',
  )
  t.equal(
    await remote.signMessage({ message: 'hello' }),
    await local.signMessage({ message: 'hello' }),
    'EIP-191 message',
  )
  t.ok(signer.signed >= 3, 'every signature came from the signer')

  const other = privateKeyToAccount(generatePrivateKey())
  await t.rejects(Web3SignerClient.connect({ url: signer.url, address: other.address }), {
    code: 'SIGNER_KEY_NOT_HELD',
  })
})
