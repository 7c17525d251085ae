/**
 * `sidechain bridge deposit|withdraw|status|claim|audit`. Flags are validated at the edge; progress goes to
 * stderr, the result to stdout (a JSON object with `--json`, for scripts). Failures exit non-zero with a clear
 * message and a stable code: 2 for bad input (flags, key, network file), 1 for everything else (insufficient
 * balance, paused, unknown token, below minimum, over limit, timeouts, an audit mismatch).
 */
import { type Command, InvalidArgumentError, Option } from 'commander'
import { formatUnits } from 'viem'
import { describeError, errorMessage, isSidechainError } from '../../chain/lib/errors.ts'
import { auditBridge } from '../core/audit.ts'
import { BridgeError } from '../core/errors.ts'
import { type ClaimResult, runClaim } from './claim.ts'
import {
  type BridgeContext,
  type CommonFlags,
  createContext,
  NETWORK_ENV,
  PRIVATE_KEY_ENV,
} from './context.ts'
import { type DepositResult, runDeposit } from './deposit.ts'
import { runStatus, type StatusResult } from './status.ts'
import { jsonify, tokenInfo } from './util.ts'
import { runWithdraw, type WithdrawResult } from './withdraw.ts'

function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1)
      throw new InvalidArgumentError(`${name} must be a positive whole number`)
    return Number(value)
  }
}

function wholeNumber(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`)
    return Number(value)
  }
}

function id(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('ID must be a whole number')
  return BigInt(value)
}

function addCommon(command: Command, options: { key: boolean }): Command {
  command
    .option(
      '--network <file>',
      `read-only endpoints and addresses from a JSON file (or ${NETWORK_ENV})`,
    )
    .option('--l1-rpc <url>', 'L1 JSON-RPC URL')
    .option('--sidechain-rpc <url>', 'sidechain JSON-RPC URL')
    .option('--bridge <address>', 'SidechainBridge address on the sidechain')
    .option(
      '--vault <address>',
      'BridgeVault address on L1 (default: the one the bridge is linked to)',
    )
    .option('--json', 'print the result as one JSON object (no progress output)')
    .option(
      '--timeout <seconds>',
      'how long to wait for the transfer to complete',
      positiveInt('--timeout'),
      600,
    )
    .option(
      '--l1-from-block <n>',
      'first L1 block to search for bridge logs (the vault deployment)',
      wholeNumber('--l1-from-block'),
    )
    .option(
      '--sidechain-from-block <n>',
      'first sidechain block to search for bridge logs',
      wholeNumber('--sidechain-from-block'),
    )
  if (options.key) {
    command
      .option('--key-file <file>', `key file {address, privateKey} (or set ${PRIVATE_KEY_ENV})`)
      .addOption(
        new Option(
          '--private-key <hex>',
          'private key (visible to other local users: prefer --key-file)',
        ),
      )
  }
  return command
}

async function execute<R>(
  flags: CommonFlags,
  needsKey: boolean,
  run: (ctx: BridgeContext) => Promise<R>,
  print: (result: R) => string,
): Promise<void> {
  let ctx: BridgeContext | undefined
  try {
    ctx = await createContext(flags, { needsKey })
    const result = await run(ctx)
    ctx.reporter.close()
    process.stdout.write(
      flags.json === true
        ? `${JSON.stringify({ ok: true, ...(jsonify(result) as object) })}\n`
        : print(result),
    )
  } catch (err) {
    ctx?.reporter.close()
    if (flags.json !== true) throw err
    const code = isSidechainError(err) ? err.code : 'BRIDGE_FAILED'
    const details = isSidechainError(err) ? jsonify(err.details) : undefined
    process.stdout.write(
      `${JSON.stringify({ ok: false, error: { code, message: errorMessage(err), details } })}\n`,
    )
    process.exitCode = describeError(err).exitCode
  }
}

export function registerBridgeCommand(program: Command): void {
  const bridge = program
    .command('bridge')
    .description('move ETH and ERC-20 tokens between L1 and the sidechain (see README, "Bridge")')

  addCommon(
    bridge
      .command('deposit')
      .description('lock ETH or an ERC-20 on L1 and follow it until minted on the sidechain')
      .requiredOption('--amount <amount>', 'amount in token units, e.g. 1.5')
      .option(
        '--token <token>',
        'ETH (default), an L1 token address, or a symbol from the network file',
      )
      .option('--to <address>', 'recipient on the sidechain (default: your address)')
      .option(
        '--confirmations <n>',
        'L1 confirmations the relayers wait for, or "finalized" (display only)',
      )
      .option('--no-wait', 'exit once the L1 transaction is mined'),
    { key: true },
  ).action(
    async (opts: CommonFlags & { amount: string; token?: string; to?: string; wait: boolean }) => {
      await execute(
        opts,
        true,
        (ctx) => runDeposit(ctx, opts),
        (r: DepositResult) => {
          const what = `deposit #${r.depositId}: ${formatUnits(r.amount, r.decimals)} ${r.symbol} to ${r.to}`
          return r.status === 'minted'
            ? `${what} minted (L1 tx ${r.l1Tx}, sidechain tx ${r.deposit?.mintTx ?? '?'}, wrapped token ${r.deposit?.wrappedToken ?? '?'})\n`
            : `${what} sent (L1 tx ${r.l1Tx}); follow it with: sidechain bridge status deposit:${r.depositId}\n`
        },
      )
    },
  )

  addCommon(
    bridge
      .command('withdraw')
      .description('burn wrapped tokens on the sidechain and follow them until released on L1')
      .requiredOption('--amount <amount>', 'amount in token units, e.g. 0.5')
      .option(
        '--token <token>',
        'ETH (default), an L1 token, a wrapped token address, or a symbol from the network file',
      )
      .option('--to <address>', 'recipient on L1 (default: your address)')
      .option(
        '--claim',
        'release on L1 yourself as soon as the relayer signatures are stored (pays L1 gas)',
      )
      .option('--no-wait', 'exit once the sidechain transaction is mined'),
    { key: true },
  ).action(
    async (
      opts: CommonFlags & {
        amount: string
        token?: string
        to?: string
        wait: boolean
        claim?: boolean
      },
    ) => {
      await execute(
        opts,
        true,
        (ctx) => runWithdraw(ctx, { ...opts, claim: opts.claim === true }),
        (r: WithdrawResult) => {
          const what = `withdrawal #${r.withdrawalId}: ${formatUnits(r.amount, r.decimals)} ${r.symbol} to ${r.recipient}`
          return r.status === 'released'
            ? `${what} released (sidechain tx ${r.sidechainTx}, L1 tx ${r.withdrawal?.releaseTx ?? '?'})\n`
            : `${what} sent (sidechain tx ${r.sidechainTx}); follow it with: sidechain bridge status withdrawal:${r.withdrawalId}\n`
        },
      )
    },
  )

  addCommon(
    bridge
      .command('status')
      .description('show where a deposit or withdrawal stands')
      .argument(
        '<target>',
        'an id (5, deposit:5, withdrawal:5) or a transaction hash on either chain',
      )
      .option('--deposit', 'the id is a deposit id')
      .option('--withdrawal', 'the id is a withdrawal id')
      .option('--confirmations <n>', 'L1 confirmations the relayers wait for, or "finalized"')
      .option('--wait', 'follow until minted or released'),
    { key: false },
  ).action(
    async (
      target: string,
      opts: CommonFlags & { deposit?: boolean; withdrawal?: boolean; wait?: boolean },
    ) => {
      if (opts.deposit === true && opts.withdrawal === true) {
        throw new BridgeError('BRIDGE_ARGUMENT_INVALID', 'give --deposit or --withdrawal, not both')
      }
      const kind =
        opts.deposit === true ? 'deposit' : opts.withdrawal === true ? 'withdrawal' : undefined
      await execute(
        opts,
        false,
        (ctx) => runStatus(ctx, { target, kind, wait: opts.wait === true }),
        (r: StatusResult) =>
          r.items
            .map((s) =>
              s.kind === 'deposit'
                ? `deposit #${s.depositId}: ${s.stage} (${s.confirmations} L1 confirmations, ${s.votes}/${s.threshold} relayer confirmations${s.mintTx ? `, minted in ${s.mintTx}` : ''})\n`
                : `withdrawal #${s.withdrawalId}: ${s.stage} (${s.signatures} signatures, ${s.threshold} needed${s.releaseTx ? `, released in ${s.releaseTx}` : ''}${s.deferred ? (s.claimable > 0n ? `; the transfer failed, ${s.claimable} is credited to ${s.recipient} in the vault: \`bridge claim ${s.withdrawalId}\` pays it out` : '; the transfer failed and the credit was pulled') : ''})\n`,
            )
            .join(''),
      )
    },
  )

  addCommon(
    bridge
      .command('claim')
      .description(
        'release a withdrawal on L1 yourself with the relayer signatures stored on the sidechain',
      )
      .argument('<id>', 'withdrawal id', id),
    { key: true },
  ).action(async (withdrawalId: bigint, opts: CommonFlags) => {
    await execute(
      opts,
      true,
      (ctx) => runClaim(ctx, { withdrawalId }),
      (r: ClaimResult) => {
        switch (r.status) {
          case 'released':
            return `withdrawal #${r.withdrawalId} released in L1 tx ${r.releaseTx}\n`
          case 'deferred':
            return `withdrawal #${r.withdrawalId} released in L1 tx ${r.releaseTx}, but the transfer to the recipient failed: the amount is credited to it in the vault (run claim again to pay it out)\n`
          case 'paid-out':
            return `withdrawal #${r.withdrawalId}: the amount credited to the recipient was paid out in L1 tx ${r.claimTx}\n`
          default:
            return `withdrawal #${r.withdrawalId} was already released${r.releaseTx ? ` in L1 tx ${r.releaseTx}` : ''}\n`
        }
      },
    )
  })

  addCommon(
    bridge
      .command('audit')
      .description(
        'compare what the vault holds on L1 with the wrapped supply on the sidechain, per token',
      )
      .option('--strict', 'also fail on a surplus (funds sent to the vault outside a deposit)'),
    { key: false },
  ).action(async (opts: CommonFlags & { strict?: boolean }) => {
    let failed: string | undefined
    await execute(
      opts,
      false,
      async (ctx) => {
        const report = await auditBridge({
          l1: ctx.l1,
          sidechain: ctx.sidechain,
          vault: ctx.vault,
          bridge: ctx.bridge,
          l1FromBlock: ctx.l1FromBlock,
          sidechainFromBlock: ctx.sidechainFromBlock,
          extraTokens: [...new Set(ctx.tokens.values())],
        })
        if (!report.ok) failed = 'the bridge books do not balance (see the problems above)'
        else if (opts.strict === true && report.hasSurplus)
          failed = 'the vault holds a surplus (--strict)'
        const symbols: Record<string, string> = {}
        for (const t of report.tokens)
          symbols[t.l1Token] =
            (await tokenInfo(ctx.l1, t.l1Token).catch(() => undefined))?.symbol ?? t.l1Token
        return { passed: failed === undefined, symbols, ...report }
      },
      (r) => {
        const lines = [`audit at L1 block ${r.l1Block}, sidechain block ${r.sidechainBlock}`]
        for (const t of r.tokens) {
          lines.push(
            `${t.status.toUpperCase().padEnd(8)} ${r.symbols[t.l1Token]} (${t.l1Token}): locked ${t.locked}, wrapped supply ${t.supply}, pending mints ${t.pendingMints}, pending releases ${t.pendingReleases}, surplus ${t.surplus}`,
          )
          for (const p of t.problems) lines.push(`         - ${p}`)
        }
        for (const p of r.problems) lines.push(`- ${p}`)
        lines.push(r.passed ? 'audit passed' : `audit FAILED: ${failed}`)
        return `${lines.join('\n')}\n`
      },
    )
    if (failed !== undefined) {
      if (opts.json !== true) process.stderr.write(`error [BRIDGE_AUDIT_MISMATCH]: ${failed}\n`)
      process.exitCode = 1
    }
  })
}
