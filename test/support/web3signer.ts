/**
 * A test remote signer: the two Web3Signer eth1 endpoints over HTTP, holding one key.
 *   GET  /api/v1/eth1/publicKeys          -> ["0x<64-byte uncompressed public key>"]
 *   POST /api/v1/eth1/sign/{identifier}   {"data": "0x.."} -> "0x<r s v>" (signs keccak256(data))
 * As a process (so a test can stop and restart it like a real signer host):
 *   node test/support/web3signer.ts --key-file <plain key file> --port <port>
 * It prints `listening <url>` once ready. The key comes from a file, never an argument.
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { bytesToHex, hexToBytes, keccak256, serializeSignature } from 'viem'
import { privateKeyToAccount, sign } from 'viem/accounts'

export interface TestSigner {
  url: string
  /** signing requests answered */
  signed: number
  close(): Promise<void>
}

export async function startTestSigner(privateKey: Uint8Array, port = 0): Promise<TestSigner> {
  const keyHex = bytesToHex(privateKey)
  // viem gives 0x04 || x || y; Web3Signer lists x || y.
  const publicKey = `0x${privateKeyToAccount(keyHex).publicKey.slice(4)}`
  const state = { signed: 0 }
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type })
      res.end(body)
    }
    if (req.method === 'GET' && req.url === '/api/v1/eth1/publicKeys') {
      return send(200, JSON.stringify([publicKey]))
    }
    const match = /^\/api\/v1\/eth1\/sign\/(0x[0-9a-fA-F]+)$/.exec(req.url ?? '')
    if (req.method !== 'POST' || match === null) return send(404, '"Resource not found"')
    if (match[1]!.toLowerCase() !== publicKey.toLowerCase()) {
      return send(404, '"Public Key not found"')
    }
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      let data: `0x${string}`
      try {
        data = (JSON.parse(body) as { data: `0x${string}` }).data
        hexToBytes(data)
      } catch {
        return send(400, '"Bad Request"')
      }
      sign({ hash: keccak256(data), privateKey: keyHex }).then(
        (signature) => {
          state.signed++
          send(200, serializeSignature(signature), 'text/plain')
        },
        () => send(500, '"Internal Server Error"'),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const address = server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`
  return {
    url,
    get signed() {
      return state.signed
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  } as TestSigner
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name)
    return i < 0 ? undefined : process.argv[i + 1]
  }
  const keyFile = arg('--key-file')
  if (keyFile === undefined) throw new Error('--key-file is required')
  const { privateKey } = JSON.parse(readFileSync(keyFile, 'utf8')) as { privateKey: `0x${string}` }
  const signer = await startTestSigner(hexToBytes(privateKey), Number(arg('--port') ?? 0))
  process.stdout.write(`listening ${signer.url}\n`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void signer.close().then(() => process.exit(0)))
  }
}
