/** The `web3_` namespace. */
import { keccak256 } from '../crypto/index.ts'
import { hex } from './format.ts'
import { defineMethod, type RpcModule } from './handler.ts'
import { p } from './params.ts'

export function web3Module(deps: { clientVersion: string }): RpcModule {
  return {
    namespace: 'web3',
    methods: {
      clientVersion: defineMethod([], () => deps.clientVersion),
      sha3: defineMethod([p.data('data')], ([data]) => hex(keccak256(data))),
    },
  }
}
