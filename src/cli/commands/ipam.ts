// `trellisctl ipam show|check|release`: pools and their blocks (affinity, used/free),
// leaked allocations, and releasing a handle by hand.
import type { Command } from 'commander';
import {
  checkLeaks, EMPTY_BLOCK_GRACE_MS, handleOfAddress, ipamUsage, IpamError, releaseByHandle, type BlockUsage, type IpamUsage, type Leak,
} from '../core.js';
import { print, withStore } from '../context.js';
import { CliError, EXIT } from '../errors.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** The `ipam show` text: one table of pools, then each pool's blocks. */
export function formatUsage(u: IpamUsage): string {
  const out: string[] = [];
  out.push(table([
    ['POOL', 'CIDR', 'BLOCKSIZE', 'DISABLED', 'BLOCKS', 'USED', 'FREE'],
    ...u.pools.map((p) => [p.name, p.cidr, `/${p.blockSize}`, String(p.disabled), String(p.blocks.length), String(p.used), String(p.free)]),
  ]));
  const blocks = u.pools.flatMap((p) => p.blocks.map((b) => ({ pool: p.name, ...b })));
  const orphans = u.orphanBlocks.map((b) => ({ pool: '(none)', ...b }));
  if (blocks.length + orphans.length > 0) {
    out.push('');
    out.push(table([
      ['BLOCK', 'POOL', 'AFFINITY', 'USED', 'FREE', 'BORROWED', 'EMPTY SINCE'],
      ...[...blocks, ...orphans].map((b) => [b.cidr, b.pool, b.affinity ?? '-', String(b.used), String(b.free), String(b.borrowed), b.emptySince ?? '-']),
    ]));
  }
  if (orphans.length > 0) out.push('', ORPHAN_HINT);
  out.push('', `${u.handles} handle(s)`);
  return out.join('\n');
}

const graceMin = EMPTY_BLOCK_GRACE_MS / 60_000;
const ORPHAN_HINT = `Blocks of pool (none) belong to no IPPool (deleted, or its CIDR changed): nothing new is allocated from them; ` +
  `each stays advertised by its node while it holds addresses, and an empty one is released ${graceMin} min after it emptied, at that node's next resync.`;

/** What trellisctl says after deleting an IPPool, so that its blocks still being advertised are no surprise. */
export function poolDeletedNote(pool: string, blocks: BlockUsage[]): string {
  if (blocks.length === 0) return `IPPool ${pool} had no blocks: nothing of it is left.`;
  const busy = blocks.filter((b) => b.used > 0);
  const empty = blocks.filter((b) => b.used === 0);
  const parts = [
    ...(busy.length ? [`${busy.map((b) => `${b.cidr} (${b.used} address${b.used === 1 ? '' : 'es'}, node ${b.affinity ?? '-'})`).join(', ')} stay${busy.length === 1 ? 's' : ''} advertised while ${busy.length === 1 ? 'it holds' : 'they hold'} addresses (remove those containers to free ${busy.length === 1 ? 'it' : 'them'})`] : []),
    ...(empty.length ? [`${empty.map((b) => b.cidr).join(', ')} ${empty.length === 1 ? 'is' : 'are'} empty and stay${empty.length === 1 ? 's' : ''} advertised until released, ${graceMin} min after ${empty.length === 1 ? 'it' : 'they'} emptied, at ${empty.length === 1 ? 'its' : 'their'} node's next resync`] : []),
  ];
  return `IPPool ${pool} deleted; nothing new is allocated from its blocks, but ${parts.join('; ')}. "trellisctl ipam show" lists them under pool (none).`;
}

export function formatLeaks(leaks: Leak[]): string {
  if (leaks.length === 0) return 'no leaked allocations';
  return table([
    ['HANDLE', 'ADDRESSES', 'NODE', 'SINCE', 'REASON'],
    ...leaks.map((l) => [l.handle ?? '-', l.addresses.join(','), l.node, l.createdAt ?? '-', l.reason]),
  ]);
}

function badInput(e: unknown): never {
  if (e instanceof IpamError && (e.code === 'INVALID_REQUEST')) throw new CliError(EXIT.BAD_INPUT, e.message);
  if (e instanceof IpamError) throw new CliError(EXIT.REFUSED, e.message);
  throw e;
}

export function register(program: Command): void {
  const ipam = program.command('ipam').description('IP address management: pools, blocks, allocations');

  ipam.command('show')
    .description('show each pool\'s blocks (affinity, used/free) and totals')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { output: string }, cmd: Command) => {
      if (opts.output !== 'table' && opts.output !== 'json') throw new CliError(EXIT.BAD_INPUT, `--output must be table or json (got "${opts.output}")`);
      const usage = await withStore(cmd, (s) => ipamUsage(s).catch(badInput));
      print(opts.output === 'json' ? JSON.stringify(usage, null, 2) : formatUsage(usage));
    });

  ipam.command('check')
    .description('list allocations whose WorkloadEndpoint no longer exists (exit 1 when any)')
    .option('--min-age <seconds>', 'skip allocations younger than this (a CNI ADD in flight)', '60')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { minAge: string; output: string }, cmd: Command) => {
      const minAge = Number(opts.minAge);
      if (!Number.isFinite(minAge) || minAge < 0) throw new CliError(EXIT.BAD_INPUT, `--min-age must be a number of seconds (got "${opts.minAge}")`);
      const leaks = await withStore(cmd, (s) => checkLeaks(s, { minAgeMs: minAge * 1000 }).catch(badInput));
      print(opts.output === 'json' ? JSON.stringify(leaks, null, 2) : formatLeaks(leaks));
      if (leaks.length > 0) throw new CliError(EXIT.REFUSED, `${leaks.length} leaked allocation(s); release with: trellisctl ipam release --handle <handle>`);
    });

  ipam.command('release')
    .description('release every address a handle holds (or the handle holding --address)')
    .option('--handle <handle>', 'the allocation handle, e.g. <containerID>.eth0')
    .option('--address <ip>', 'release the handle that holds this address')
    .action(async (opts: { handle?: string; address?: string }, cmd: Command) => {
      if (!opts.handle === !opts.address) throw new CliError(EXIT.BAD_INPUT, 'give exactly one of --handle or --address');
      await withStore(cmd, async (s) => {
        let handle = opts.handle;
        if (opts.address) {
          handle = (await handleOfAddress(s, opts.address).catch(badInput)) ?? undefined;
          if (!handle) throw new CliError(EXIT.REFUSED, `${opts.address} is not allocated`);
        }
        const released = await releaseByHandle(s, handle!).catch(badInput);
        if (released.length === 0) throw new CliError(EXIT.REFUSED, `handle ${handle} holds no addresses (already released?)`);
        print(`released ${released.join(', ')} (handle ${handle})`);
      });
    });
}
