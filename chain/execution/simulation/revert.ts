/** Readable reasons for failed calls, in geth's words (what tools and users match on). */
import { bytesToHex } from '@ethereumjs/util'

const PANIC_REASONS: Record<number, string> = {
  0: 'generic panic',
  1: 'assert(false)',
  17: 'arithmetic underflow or overflow',
  18: 'division or modulo by zero',
  33: 'enum overflow',
  34: 'invalid encoded storage byte array accessed',
  49: 'out-of-bounds array access; popping on an empty array',
  50: 'out-of-bounds access of an array or bytesN',
  65: 'out of memory',
  81: 'uninitialized function',
}

/** geth's UnpackRevert: Error(string) and Panic(uint256) become a readable reason. */
export function decodeRevertReason(data: Uint8Array): string | undefined {
  if (data.length < 4) return undefined
  const selector = bytesToHex(data.subarray(0, 4))
  if (selector === '0x08c379a0' && data.length >= 68) {
    const offset = Number(BigInt(bytesToHex(data.subarray(4, 36))))
    if (offset + 32 > data.length - 4 || offset > 1 << 20) return undefined
    const start = 4 + offset
    const length = Number(BigInt(bytesToHex(data.subarray(start, start + 32))))
    if (start + 32 + length > data.length) return undefined
    return Buffer.from(data.subarray(start + 32, start + 32 + length)).toString('utf8')
  }
  if (selector === '0x4e487b71' && data.length === 36) {
    const code = BigInt(bytesToHex(data.subarray(4)))
    return PANIC_REASONS[Number(code)] ?? `unknown panic code: 0x${code.toString(16)}`
  }
  return undefined
}

const HALT_MESSAGES: Record<string, string> = {
  'out of gas': 'out of gas',
  'code store out of gas': 'contract creation code storage out of gas',
  'code size to deposit exceeds maximum code size': 'max code size exceeded',
  'stack underflow': 'stack underflow',
  'stack overflow': 'stack limit reached 1024',
  'invalid JUMP': 'invalid jump destination',
  'invalid opcode': 'invalid opcode',
  'value out of range': 'return data out of bounds',
  'static state change': 'write protection',
  'create collision': 'contract address collision',
  'insufficient balance': 'insufficient balance for transfer',
  'invalid bytecode deployed': 'invalid code: must not begin with 0xef',
  'initcode exceeds max initcode size': 'max initcode size exceeded',
  'value overflow': 'gas uint64 overflow',
}

/** geth wording for an EVM halt reason. */
export function haltMessage(evmError: string): string {
  return HALT_MESSAGES[evmError] ?? evmError
}
