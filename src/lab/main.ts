// `npm run lab -- [up|status|exec|down] ...`: a whole Trellis cluster in network
// namespaces on this machine (root, Debian, after .ci/install and a build).
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';
import { labDown, labUp, openLab, waitConverged, type Lab } from './lab.js';
import { renderMatrix } from './matrix.js';
import { containerLabels, parseLabels, parseRuntime, runtimeOf, RUNTIMES } from './plan.js';
import { parseFlags, UsageError } from './flags.js';
import { readRecords } from './records.js';
import { isAlive } from './procs.js';

const STATE_DIR = process.env.TRELLIS_LAB_DIR ?? join(REPO_ROOT, '.lab');
// Tests (test/e2e/readme.test.ts) run the lab under their own prefix and directory.
const PREFIX = process.env.TRELLIS_LAB_PREFIX ?? 'trl-lab-';

const USAGE = `usage: npm run lab -- [command]
  up [--hosts N] [--etcd 1|3] [--runtime ${RUNTIMES.join('|')}]
                                build the cluster (default command; default 3 hosts, 1 etcd member,
                                containers plugged by trellis-cni; docker: a dockerd per host, docker run --net)
  status [--json]               BGP sessions, ToR routes, trellisd status and the matrix of a running lab
  add NAME --host H --namespace NS [--labels k=v,..] [--ip A]
                                plug one more container through trellis-cni, as a runtime does (docker run with docker)
  rm NAME                       unplug a container (trellis-cni DEL; docker rm -f) and remove its namespace
  exec HOST|CONTAINER CMD...    run a command in a host (h1..; DOCKER_HOST set with docker), container (h1-a-web..),
                                tor or etcd namespace
  down                          remove every namespace and process the lab made (from .lab/state.json)`;

async function report(lab: Lab, color: boolean): Promise<boolean> {
  const out = (s = '') => process.stdout.write(s + '\n');
  out('── BGP sessions on the ToR (birdc show protocols) ──');
  out((await lab.birdc(['show', 'protocols'])).trim());
  out();
  out('── routes on the ToR (birdc show route) ──');
  out((await lab.birdc(['show', 'route'])).trim());
  out();
  out('── containers ──');
  const w = Math.max(12, ...lab.plan.containers.map((c) => c.name.length));
  for (const c of lab.plan.containers) {
    const labels = Object.entries(containerLabels(c)).map(([k, v]) => `${k}=${v}`).join(',');
    out(`${c.name.padEnd(w)} ${(lab.addresses[c.name] ?? '?').padEnd(15)} ${c.namespace} ${labels} on ${c.host}${c.added ? ' (lab add)' : ''}`);
  }
  out();
  out('── connectivity matrix, TCP/80, from row to column (observed vs declared by policy) ──');
  const m = await lab.measureMatrix();
  out(renderMatrix(m, color));
  return m.matching === m.total;
}

/** In exec's argv, a container's name stands for its address ("TCP:h2-a-web:80"), so that
 *  commands need no address that changes from run to run. */
function resolveNames(lab: Lab, argv: string[]): string[] {
  const names = Object.keys(lab.addresses).sort((a, b) => b.length - a.length);
  if (names.length === 0) return argv;
  const re = new RegExp(`(^|[^A-Za-z0-9-])(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?=$|[^A-Za-z0-9-])`, 'g');
  return argv.map((a) => a.replace(re, (_m, pre: string, n: string) => `${pre}${lab.addresses[n]}`));
}

async function main(argv: string[]): Promise<number> {
  const [cmd = 'up', ...args] = argv;
  const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  switch (cmd) {
    case 'up': {
      const f = parseFlags('up', args, { '--hosts': 'value', '--etcd': 'value', '--runtime': 'value' }, 0);
      const hosts = Number(f.values['--hosts'] ?? '3');
      const etcd = Number(f.values['--etcd'] ?? '1');
      if (!Number.isInteger(hosts) || hosts < 1 || hosts > 50) throw new UsageError(`--hosts ${hosts}: must be a whole number 1-50`);
      if (etcd !== 1 && etcd !== 3) throw new UsageError(`--etcd ${etcd}: must be 1 or 3`);
      let runtime;
      try { runtime = parseRuntime(f.values['--runtime'] ?? 'cni'); } catch (e) { throw new UsageError((e as Error).message); }
      if (process.getuid?.() !== 0) throw new UsageError('the lab creates network namespaces: run it as root');
      const started = Date.now();
      const lab = await labUp({
        prefix: PREFIX, stateDir: STATE_DIR, hosts, etcdMembers: etcd as 1 | 3, runtime,
        progress: (l) => process.stderr.write(`lab: ${l}\n`),
      });
      process.stderr.write(`lab: up in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for BGP to carry every block\n`);
      await waitConverged(lab, 60_000).catch((e: Error) => process.stderr.write(`${e.message}; showing what there is\n`));
      const ok = await report(lab, color);
      process.stderr.write('lab: running; trellisctl reaches it from here with no flags (.lab/context.json): "npm link" once, then "trellisctl get wep -A", "trellisctl node status --node h2" (or npx trellisctl ...);\n' +
        '     "npm run lab -- status", "npm run lab -- exec h1-a-client socat - TCP:h2-a-web:80" (container names resolve), "npm run lab -- down"\n' +
        (runtime === 'docker' ? '     docker: "npm run lab -- exec h1 docker ps" (exec sets DOCKER_HOST to that host\'s dockerd)\n' : ''));
      return ok ? 0 : 1;
    }
    case 'status': {
      const f = parseFlags('status', args, { '--json': 'bool' }, 0);
      const lab = openLab(STATE_DIR);
      if (f.bools.has('--json')) {
        const rec = readRecords(STATE_DIR)!;
        const m = await lab.measureMatrix();
        const hosts: Record<string, unknown> = {};
        for (const h of lab.plan.hosts) {
          const p = lab.trellisd(h.name);
          const d = runtimeOf(lab.plan) === 'docker' ? lab.dockerd(h.name) : undefined;
          hosts[h.name] = {
            trellisd: p && isAlive(p) ? p.pid : null,
            ...(runtimeOf(lab.plan) === 'docker' ? { dockerd: d && isAlive(d) ? d.pid : null } : {}),
            status: await lab.status(h.name).catch((e: Error) => ({ error: e.message })),
          };
        }
        process.stdout.write(JSON.stringify({
          stateDir: STATE_DIR, runtime: runtimeOf(lab.plan), namespaces: rec.namespaces, addresses: lab.addresses,
          tor: { protocols: await lab.birdProtocols(), routes: await lab.birdRoutes() },
          hosts, matrix: { matching: m.matching, total: m.total, cells: m.cells },
        }, null, 2) + '\n');
        return m.matching === m.total ? 0 : 1;
      }
      for (const h of lab.plan.hosts) {
        const p = lab.trellisd(h.name);
        const st = await lab.status(h.name).catch(() => null);
        const d = runtimeOf(lab.plan) === 'docker' ? lab.dockerd(h.name) : null;
        const dockerd = d === null ? '' : `dockerd ${d && isAlive(d) ? `pid ${d.pid}` : 'not running'}; `;
        process.stdout.write(`${h.name}: trellisd ${p && isAlive(p) ? `pid ${p.pid}` : 'not running'}; ${dockerd}${st ? `${st.endpoints.filter((e) => e.local).length} local endpoints, store ${st.store.status}, BGP ${st.bgp.peers.map((x) => `${x.peer} ${x.state}`).join(', ') || 'no peers'}${st.lastError ? `, last error: ${st.lastError.message}` : ''}` : 'API not answering'}\n`);
      }
      process.stdout.write('\n');
      return (await report(lab, color)) ? 0 : 1;
    }
    case 'exec': {
      const [target, ...rest] = args;
      if (!target || rest.length === 0) throw new UsageError('exec needs HOST|CONTAINER and a command');
      const lab = openLab(STATE_DIR);
      const r = await lab.exec(target, resolveNames(lab, rest), { inherit: true }).catch((e: Error) => { throw new UsageError(e.message); });
      return r.exitCode;
    }
    case 'add': {
      const f = parseFlags('add', args, { '--host': 'value', '--namespace': 'value', '--labels': 'value', '--ip': 'value' }, 1);
      const name = f.positional[0];
      if (!name) throw new UsageError('add needs a NAME');
      const host = f.values['--host'];
      const namespace = f.values['--namespace'];
      if (!host || !namespace) throw new UsageError('add needs --host and --namespace');
      const lab = openLab(STATE_DIR);
      let labels: Record<string, string>;
      try { labels = parseLabels(f.values['--labels'] ?? ''); } catch (e) { throw new UsageError((e as Error).message); }
      const ip = f.values['--ip'];
      const c = await lab.addContainer({ name, host, namespace, labels, ...(ip !== undefined ? { ip } : {}) }).catch((e: Error) => {
        throw e instanceof RangeError ? new UsageError(e.message) : e;
      });
      process.stdout.write(`${c.name} ${c.address} ${c.namespace} on ${c.host} (endpoint ${c.namespace}/${lab.endpointName(c)})\n`);
      return 0;
    }
    case 'rm': {
      const f = parseFlags('rm', args, {}, 1);
      const name = f.positional[0];
      if (!name) throw new UsageError('rm needs a NAME');
      const lab = openLab(STATE_DIR);
      try { lab.container(name); } catch (e) { throw new UsageError((e as Error).message); }
      await lab.removeContainer(name);
      process.stdout.write(`removed ${name}\n`);
      return 0;
    }
    case 'down': {
      parseFlags('down', args, {}, 0);
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
