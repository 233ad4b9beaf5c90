// `npm run lab -- [up|status|exec|down] ...`: a whole Trellis cluster in network
// namespaces on this machine (root, Debian, after .ci/install and a build).
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';
import { labDown, labUp, openLab, waitConverged, type Lab } from './lab.js';
import { renderMatrix } from './matrix.js';
import { readRecords } from './records.js';
import { isAlive } from './procs.js';

const STATE_DIR = process.env.TRELLIS_LAB_DIR ?? join(REPO_ROOT, '.lab');
const PREFIX = 'trl-lab-';

const USAGE = `usage: npm run lab -- [command]
  up [--hosts N] [--etcd 1|3]   build the cluster (default command; default 3 hosts, 1 etcd member)
  status [--json]               BGP sessions, ToR routes, trellisd status and the matrix of a running lab
  exec HOST|CONTAINER CMD...    run a command in a host (h1..), container (h1-a-web..), tor or etcd namespace
  down                          remove every namespace and process the lab made (from .lab/state.json)`;

function flag(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return v;
}

class UsageError extends Error {}

async function report(lab: Lab, color: boolean): Promise<boolean> {
  const out = (s = '') => process.stdout.write(s + '\n');
  out('── BGP sessions on the ToR (birdc show protocols) ──');
  out((await lab.birdc(['show', 'protocols'])).trim());
  out();
  out('── routes on the ToR (birdc show route) ──');
  out((await lab.birdc(['show', 'route'])).trim());
  out();
  out('── containers ──');
  for (const c of lab.plan.containers) out(`${c.name.padEnd(12)} ${(lab.addresses[c.name] ?? '?').padEnd(15)} ${c.namespace}/${c.app} on ${c.host}`);
  out();
  out('── connectivity matrix, TCP/80, from row to column (observed vs declared by policy) ──');
  const m = await lab.measureMatrix();
  out(renderMatrix(m, color));
  return m.matching === m.total;
}

async function main(argv: string[]): Promise<number> {
  const [cmd = 'up', ...args] = argv;
  const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  switch (cmd) {
    case 'up': {
      const hosts = Number(flag(args, '--hosts', '3'));
      const etcd = Number(flag(args, '--etcd', '1'));
      if (!Number.isInteger(hosts) || hosts < 1 || hosts > 50) throw new UsageError(`--hosts ${hosts}: must be a whole number 1-50`);
      if (etcd !== 1 && etcd !== 3) throw new UsageError(`--etcd ${etcd}: must be 1 or 3`);
      if (process.getuid?.() !== 0) throw new UsageError('the lab creates network namespaces: run it as root');
      const started = Date.now();
      const lab = await labUp({
        prefix: PREFIX, stateDir: STATE_DIR, hosts, etcdMembers: etcd as 1 | 3,
        progress: (l) => process.stderr.write(`lab: ${l}\n`),
      });
      process.stderr.write(`lab: up in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for BGP to carry every block\n`);
      await waitConverged(lab, 60_000).catch((e: Error) => process.stderr.write(`${e.message}; showing what there is\n`));
      const ok = await report(lab, color);
      process.stderr.write(`lab: running; "npm run lab -- status", "npm run lab -- exec h1-a-client socat - TCP:<addr>:80", "npm run lab -- down"\n`);
      return ok ? 0 : 1;
    }
    case 'status': {
      const lab = openLab(STATE_DIR);
      if (args.includes('--json')) {
        const rec = readRecords(STATE_DIR)!;
        const m = await lab.measureMatrix();
        const hosts: Record<string, unknown> = {};
        for (const h of lab.plan.hosts) {
          const p = lab.trellisd(h.name);
          hosts[h.name] = { trellisd: p && isAlive(p) ? p.pid : null, status: await lab.status(h.name).catch((e: Error) => ({ error: e.message })) };
        }
        process.stdout.write(JSON.stringify({
          stateDir: STATE_DIR, namespaces: rec.namespaces, addresses: lab.addresses,
          tor: { protocols: await lab.birdProtocols(), routes: await lab.birdRoutes() },
          hosts, matrix: { matching: m.matching, total: m.total, cells: m.cells },
        }, null, 2) + '\n');
        return m.matching === m.total ? 0 : 1;
      }
      for (const h of lab.plan.hosts) {
        const p = lab.trellisd(h.name);
        const st = await lab.status(h.name).catch(() => null);
        process.stdout.write(`${h.name}: trellisd ${p && isAlive(p) ? `pid ${p.pid}` : 'not running'}; ${st ? `${st.endpoints.filter((e) => e.local).length} local endpoints, store ${st.store.status}, BGP ${st.bgp.peers.map((x) => `${x.peer} ${x.state}`).join(', ') || 'no peers'}${st.lastError ? `, last error: ${st.lastError.message}` : ''}` : 'API not answering'}\n`);
      }
      process.stdout.write('\n');
      return (await report(lab, color)) ? 0 : 1;
    }
    case 'exec': {
      const [target, ...rest] = args;
      if (!target || rest.length === 0) throw new UsageError('exec needs HOST|CONTAINER and a command');
      const lab = openLab(STATE_DIR);
      const r = await lab.exec(target, rest).catch((e: Error) => { throw new UsageError(e.message); });
      process.stdout.write(r.stdout + (r.stdout && !r.stdout.endsWith('\n') ? '\n' : ''));
      process.stderr.write(r.stderr + (r.stderr && !r.stderr.endsWith('\n') ? '\n' : ''));
      return r.exitCode;
    }
    case 'down': {
      const gone = await labDown(STATE_DIR);
      process.stdout.write(gone.length ? `removed:\n  ${gone.join('\n  ')}\n` : 'nothing to remove\n');
      return 0;
    }
    case 'help': case '--help': case '-h':
      process.stdout.write(USAGE + '\n');
      return 0;
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`lab: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const during = process.argv[2] ?? 'up';
  process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n${during === 'up' ? '(the lab keeps what it made; "npm run lab -- down" removes it)\n' : ''}`);
  process.exit(1);
});
