import t from 'tap'
import { createPublicClient, http } from 'viem'
import { startAnvil } from './foundry.ts'

t.test('startAnvil runs the real anvil binary on a free port', async (t) => {
  const anvil = await startAnvil({ chainId: 31337 })
  t.teardown(() => anvil.stop())
  const client = createPublicClient({ transport: http(anvil.url) })
  t.equal(await client.getChainId(), 31337)
  await anvil.stop()
  t.not(
    anvil.process.exitCode === null && anvil.process.signalCode === null,
    true,
    'process exited',
  )
})
