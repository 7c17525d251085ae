/**
 * Code from current solc at its default EVM version must run: PUSH0 (Shanghai), MCOPY and
 * TSTORE/TLOAD (Cancun), deployed and called through the pool and block production.
 */
import { createTx } from '@ethereumjs/tx'
import { Address, bytesToHex, hexToBytes } from '@ethereumjs/util'
import { createVM } from '@ethereumjs/vm'
import t from 'tap'
import { decodeFunctionResult, encodeFunctionData } from 'viem'
import { makeGenesis, tempDir, waitFor } from '../../test/support/chain.ts'
import { compileSolidity } from '../../test/support/solc.ts'
import { SidechainNode } from '../node.ts'
import { ManualScheduler } from '../util/scheduler.ts'

const SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract Features {
    uint256 public lastTransient;
    bytes public copied;
    function run(uint256 x, bytes calldata data) external returns (uint256 y) {
        assembly { tstore(0, x) }
        assembly { y := tload(0) }
        lastTransient = y + 1;
        bytes memory src = data;
        bytes memory buf = new bytes(src.length);
        assembly { mcopy(add(buf, 32), add(src, 32), mload(src)) }
        copied = buf;
    }
    function transientAfterTx() external view returns (uint256 v) {
        assembly { v := tload(0) }
    }
}`

/** Opcodes of `code`, skipping PUSH data. */
function opcodes(code: Uint8Array): number[] {
  const ops: number[] = []
  for (let i = 0; i < code.length; i++) {
    const op = code[i]!
    ops.push(op)
    if (op >= 0x60 && op <= 0x7f) i += op - 0x5f
  }
  return ops
}

t.test('PUSH0, MCOPY and TSTORE/TLOAD from solc default EVM version deploy and run', async (t) => {
  const { Features } = compileSolidity({ 'Features.sol': SOURCE })
  const contract = Features!
  t.match(
    contract.evmVersion,
    /^(prague|osaka|cancun)$/,
    `solc default EVM version is ${contract.evmVersion}`,
  )
  const ops = opcodes(hexToBytes(contract.deployedBytecode))
  t.ok(ops.includes(0x5f), 'bytecode uses PUSH0')
  t.ok(ops.includes(0x5e), 'bytecode uses MCOPY')
  t.ok(ops.includes(0x5c) && ops.includes(0x5d), 'bytecode uses TLOAD and TSTORE')

  const setup = makeGenesis({ accounts: 1 })
  const dir = tempDir()
  t.teardown(() => dir.remove())
  const scheduler = new ManualScheduler()
  const node = new SidechainNode(
    { genesis: setup.genesis, datadir: dir.path, validatorKey: setup.validators[0] },
    { scheduler },
  )
  await node.start()
  t.teardown(() => node.stop())
  const deployer = setup.accounts[0]!
  const common = node.ledger.common
  const send = async (nonce: bigint, to: Uint8Array | undefined, data: `0x${string}`) => {
    const tx = createTx(
      {
        type: 2,
        chainId: 1337n,
        nonce,
        to,
        data: hexToBytes(data),
        gasLimit: 1_000_000n,
        maxFeePerGas: 10n ** 10n,
        maxPriorityFeePerGas: 1n,
      },
      { common },
    ).sign(deployer.privateKey)
    await node.txpool.addRaw(tx.serialize())
    const target = node.ledger.head.number + 1n
    scheduler.advance(1000)
    await waitFor(() => node.ledger.head.number === target, { what: `block ${target}` })
    const block = (await node.ledger.getBlockByNumber(target))!
    const receipts = (await node.ledger.getReceipts(block.hash()))!
    t.equal(block.transactions.length, 1)
    return receipts[0]!
  }
  const deployReceipt = await send(0n, undefined, contract.bytecode)
  t.equal(deployReceipt.status, 1, 'deployment succeeded')
  const address = deployReceipt.contractAddress!
  t.ok(address, 'contract address recorded in the receipt')

  const payload = `0x${'ab'.repeat(70)}` as const
  const callReceipt = await send(
    1n,
    address,
    encodeFunctionData({ abi: contract.abi, functionName: 'run', args: [41n, payload] }),
  )
  t.equal(callReceipt.status, 1, 'run() succeeded')

  const vm = await createVM({
    common,
    stateManager: node.ledger.stateAt(node.ledger.head.stateRoot),
  })
  const call = async (functionName: string) => {
    const result = await vm.evm.runCall({
      to: new Address(address),
      caller: new Address(deployer.address),
      data: hexToBytes(encodeFunctionData({ abi: contract.abi, functionName })),
      gasLimit: 1_000_000n,
    })
    t.equal(result.execResult.exceptionError, undefined, `${functionName} did not revert`)
    return decodeFunctionResult({
      abi: contract.abi,
      functionName,
      data: bytesToHex(result.execResult.returnValue),
    })
  }
  t.equal(await call('lastTransient'), 42n, 'TLOAD read what TSTORE wrote in the same tx')
  t.equal(await call('copied'), payload, 'MCOPY copied the bytes')
  t.equal(await call('transientAfterTx'), 0n, 'transient storage is cleared after the transaction')
})
