/**
 * A viem account whose key lives in a remote signer (chain/lib/signer.ts, the Web3Signer eth1
 * API): what the relayer signs (its transactions on both chains, its EIP-712 withdrawal
 * signatures) goes through it, so a relayer can run with no key material. The signer is sent
 * each preimage (the unsigned transaction, the EIP-712 0x1901 encoding, the EIP-191 message)
 * and its answer is checked against the hash the relayer computed itself.
 */
import {
  concat,
  getAddress,
  getTypesForEIP712Domain,
  type Hex,
  hashDomain,
  hashStruct,
  hexToBytes,
  keccak256,
  type LocalAccount,
  serializeSignature,
  serializeTransaction,
  type TypedData,
  type TypedDataDefinition,
  toHex,
  toPrefixedMessage,
} from 'viem'
import { toAccount } from 'viem/accounts'
import type { Signer } from '../../chain/lib/signer.ts'

export function remoteAccount(signer: Signer): LocalAccount {
  const signPreimage = async (preimage: Hex) => {
    const bytes = hexToBytes(preimage)
    const signature = await signer.sign(keccak256(bytes, 'bytes'), bytes)
    return {
      r: toHex(signature.subarray(0, 32)),
      s: toHex(signature.subarray(32, 64)),
      yParity: signature[64]!,
    }
  }
  return toAccount({
    address: getAddress(signer.addressHex),
    async signMessage({ message }) {
      return serializeSignature(await signPreimage(toPrefixedMessage(message)))
    },
    async signTransaction(transaction, options) {
      const serializer = options?.serializer ?? serializeTransaction
      const signature = await signPreimage(await serializer(transaction))
      return await serializer(transaction, signature)
    },
    async signTypedData(definition) {
      const { domain = {}, message, primaryType } = definition as TypedDataDefinition
      const types = {
        EIP712Domain: getTypesForEIP712Domain({ domain }),
        ...(definition.types as TypedData),
      }
      const preimage = concat([
        '0x1901',
        hashDomain({ domain, types }),
        ...(primaryType === 'EIP712Domain'
          ? []
          : [hashStruct({ data: message, primaryType, types })]),
      ])
      return serializeSignature(await signPreimage(preimage))
    },
  })
}
