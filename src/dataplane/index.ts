// The dataplane face: renders DesiredState into ipsets, iptables chains, routes and
// sysctls, reads back what the kernel has (only Trellis's own objects), and applies the
// difference in one batch per tool, in an order that never leaves a reference dangling:
// ipset creates/updates -> iptables-restore per table and family -> ipset destroys. Routes
// and sysctls (plumbing.ts) start first and run alongside: a route that exists before its endpoint's chains
// only leads to the dispatch's unknown-interface drop. A reconcile with no drift writes nothing.
import { isValidCidrOrIp, isValidIp } from '../model/index.js';
import type { DesiredState, Family } from '../calc/index.js';
import type { Logger } from '../log/index.js';
import { createExec, type Exec } from './exec.js';
import { validIfaceName } from './names.js';
import { parseIpsetSave, planSets, renderSets, type KernelSet } from './ipsets.js';
import { parseIptablesSaveAll, planTable, tableWriteEmpty, type KernelTable } from './iptables-kernel.js';
import { renderIptables, renderRestore, renderSetRefs, type Table } from './render-iptables.js';
import { learnedView, parseIpRoutes, planLearnedRoutes, type KernelRoute, type LearnedRoute, type LearnedView } from './routes.js';
import { createPlumber, readLinksAndRoutes } from './plumbing.js';
import { ROUTE_PROTO_BGP, ROUTE_PROTO_WORKLOAD } from '../calc/index.js';

export { DataplaneError } from './errors.js';
export type { DataplaneErrorCode } from './errors.js';
export type { LearnedRoute, KernelRoute } from './routes.js';
export type { KernelSet } from './ipsets.js';
export type { KernelTable, KernelChain } from './iptables-kernel.js';
export { renderIptables, renderRestore, renderFullRestore, renderSetRefs } from './render-iptables.js';
export type { TableSpec, ChainSpec, RenderedIptables, Table } from './render-iptables.js';
export { renderSets, renderSetsRestore } from './ipsets.js';
export { renderWorkloadRoutes } from './routes.js';
export { renderSysctls } from './sysctls.js';
export {
  DISPATCH, FROM_WL_DISPATCH, TO_WL_DISPATCH, VERDICT_DISPATCH, WORKLOAD_IFACE_PREFIX, MARK_ACCEPT, MARK_PASS,
  fromWlChain, toWlChain, policyChain, policyGroupChain, profileChain, setName, verdictChain, verdictId,
} from './names.js';

export interface ApplyCounts {
  setsCreated: number;
  setsUpdated: number;
  setsDeleted: number;
  membersAdded: number;
  membersDeleted: number;
  chainsWritten: number;
  chainsDeleted: number;
  jumpsFixed: number;
  routesAdded: number;
  routesReplaced: number;
  routesDeleted: number;
  sysctlsWritten: number;
  /** Commands that wrote to the kernel (ipset restore, iptables-restore, ip -batch, sysctl -w). */
  writeCommands: number;
}

export interface ApplyReport {
  /** False when the kernel already matched: nothing was written. */
  wrote: boolean;
  /** True when iptables and ipsets were read back from the kernel (a resync), false when diffed against the last write. */
  resynced: boolean;
  counts: ApplyCounts;
  /** Things deliberately not applied (missing devices, prefixes owned by another protocol). */
  skipped: string[];
  /** Partial failures that did not abort the apply (e.g. one unreachable BGP next hop). */
  errors: string[];
  durationMs: number;
}

export interface KernelState {
  ipsets: KernelSet[];
  iptables: Array<{ family: Family; table: Table } & KernelTable>;
  workloadRoutes: KernelRoute[];
  learnedRoutes: KernelRoute[];
  links: string[];
}

export interface Dataplane {
  /**
   * Brings the kernel to `desired`. iptables and ipsets are diffed against what this
   * instance last programmed, and re-read from the kernel (repairing any drift) on the first
   * call, after `resyncIntervalMs`, after a failed write, or when `resync` is set. Links,
   * workload routes and sysctls likewise, except that endpoints calc hands over as new
   * objects (added, changed, re-created) always have their routes and sysctls rewritten.
   */
  reconcile(desired: DesiredState, opts?: { resync?: boolean }): Promise<ApplyReport>;
  /** Brings our proto 79 routes to `routes`; the table is re-read like iptables in reconcile. */
  syncLearnedRoutes(routes: LearnedRoute[], opts?: { resync?: boolean }): Promise<ApplyReport>;
  readKernel(): Promise<KernelState>;
}

export interface DataplaneOptions {
  /** Run every command under `ip netns exec <netns>` (tests, the lab); unset for trellisd in its own namespace. */
  netns?: string;
  logger: Logger;
  /** How long to trust the last write for iptables and ipsets before re-reading them (default 60 s; 0: always read). */
  resyncIntervalMs?: number;
}

/** What this instance last wrote (iptables and ipsets), standing in for a kernel read between resyncs. */
interface Programmed {
  readAt: number;
  sets: KernelSet[];
  tables: Map<string, KernelTable>;
}
const tableKey = (family: Family, table: string) => `${family}/${table}`;

const TABLES_BY_FAMILY: Record<Family, Table[]> = { 4: ['filter', 'nat'], 6: ['filter', 'nat', 'raw'] };

function emptyCounts(): ApplyCounts {
  return {
    setsCreated: 0, setsUpdated: 0, setsDeleted: 0, membersAdded: 0, membersDeleted: 0, chainsWritten: 0,
    chainsDeleted: 0, jumpsFixed: 0, routesAdded: 0, routesReplaced: 0, routesDeleted: 0, sysctlsWritten: 0, writeCommands: 0,
  };
}

const saveCmd = (f: Family) => (f === 4 ? 'iptables-save' : 'ip6tables-save');
const restoreCmd = (f: Family) => (f === 4 ? 'iptables-restore' : 'ip6tables-restore');
/** The writes on the way from a change to the kernel: their tools are kept started. */
const WARM = { warm: true } as const;

async function readRoutes(exec: Exec, proto: number): Promise<KernelRoute[]> {
  return parseIpRoutes(await exec.run(['ip', '-j', 'route', 'show', 'table', 'all', 'proto', String(proto)]), 'any', String(proto));
}

/** Every table of one family from a single iptables-save (one process, one ruleset fetch). */
async function readTables(exec: Exec, family: Family): Promise<Map<string, KernelTable>> {
  return parseIptablesSaveAll(await exec.run([saveCmd(family)]));
}

const EMPTY_TABLE: KernelTable = { chains: [], builtins: {} };

async function readSets(exec: Exec): Promise<KernelSet[]> {
  return parseIpsetSave(await exec.run(['ipset', 'save']));
}

export function createDataplane(opts: DataplaneOptions): Dataplane {
  const log = opts.logger.child({ sub: 'dataplane', ...(opts.netns ? { netns: opts.netns } : {}) });
  const exec = createExec(opts.netns, (argv, ms, exitCode) => log.debug({ cmd: argv.join(' '), ms, exitCode }, 'command'));
  const resyncIntervalMs = opts.resyncIntervalMs ?? 60_000;
  let programmed: Programmed | null = null;
  const plumber = createPlumber(exec);
  let learned: { readAt: number; view: LearnedView } | null = null;
  // One operation at a time: a reconcile and a learned-route sync never interleave their reads and writes.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  async function readKernel(): Promise<KernelState> {
    const [ipsets, v4, v6, wl, learnedRoutes] = await Promise.all([
      readSets(exec), readTables(exec, 4), readTables(exec, 6),
      readLinksAndRoutes(exec, ROUTE_PROTO_WORKLOAD), readRoutes(exec, ROUTE_PROTO_BGP),
    ]);
    const iptables = ([4, 6] as const).flatMap((family) => TABLES_BY_FAMILY[family].map((table) => ({
      family, table, ...((family === 4 ? v4 : v6).get(table) ?? EMPTY_TABLE),
    })));
    return { ipsets, iptables, workloadRoutes: wl.routes, learnedRoutes, links: [...wl.links].sort() };
  }

  async function reconcile(desired: DesiredState, how: { resync?: boolean }): Promise<ApplyReport> {
    const started = Date.now();
    const counts = emptyCounts();
    const skipped: string[] = [];
    const errors: string[] = [];
    // An interface name iptables would refuse must not fail the whole table: leave that
    // endpoint out (its traffic then meets the unknown-interface drop: fail closed).
    const bad = desired.endpoints.filter((e) => !validIfaceName(e.interfaceName));
    for (const e of bad) skipped.push(`${e.id}: interface name ${JSON.stringify(e.interfaceName)} is not a valid Linux interface name`);
    const ds = bad.length ? { ...desired, endpoints: desired.endpoints.filter((e) => validIfaceName(e.interfaceName)) } : desired;
    const cached = programmed;
    const resync = !cached || how.resync === true || Date.now() - cached.readAt >= resyncIntervalMs;
    programmed = null; // until this reconcile's writes have all succeeded

    // Routes and sysctls first, while the rules are rendered and written: they do not refer to
    // the rules, and a route that precedes its endpoint's chains only reaches the dispatch's
    // drop. Done by the time the rules are written, their commands do not compete with them.
    const plumbing = plumber.apply(ds, resync);
    // Awaited below (or on the error path); until then a failure must not count as unhandled.
    plumbing.catch(() => undefined);

    // The sets first: the ipset write starts while the rest of the rules are rendered.
    const wantSets = renderSets(ds, renderSetRefs(ds));
    // A failed read ends this reconcile only once the plumbing is done: the next one must not overlap it.
    const [kernelSets, v4, v6] = await Promise.all([
      resync ? readSets(exec) : cached.sets,
      resync ? readTables(exec, 4) : null,
      resync ? readTables(exec, 6) : null,
    ]).catch(async (err: unknown) => {
      await plumbing.catch(() => undefined);
      throw err;
    });
    const kernelTable = (family: Family, table: string): KernelTable => {
      if (!resync) return cached!.tables.get(tableKey(family, table)) ?? EMPTY_TABLE;
      return (family === 4 ? v4 : v6)?.get(table) ?? EMPTY_TABLE;
    };

    // Sets and iptables, in the order that never leaves a reference dangling.
    const writeRules = async (): Promise<void> => {
      // 1. Sets first: every set a new rule references exists before the rule is loaded.
      const setPlan = planSets(wantSets, kernelSets);
      const setsWritten = setPlan.update ? exec.run(['ipset', 'restore', '-exist'], setPlan.update, WARM) : null;
      setsWritten?.catch(() => undefined); // awaited below; rendering must not leave it unhandled meanwhile
      // The rules are rendered and the table writes planned while ipset runs (pure, from the same snapshot).
      const rendered = renderIptables(ds);
      const tableWrites = rendered.tables.map((spec) => ({ spec, w: planTable(spec, kernelTable(spec.family, spec.table)) }))
        .filter(({ w }) => !tableWriteEmpty(w))
        .map(({ spec, w }) => ({ spec, w, text: renderRestore(spec.table, w) }));
      if (setsWritten) {
        await setsWritten;
        counts.writeCommands++;
      }
      counts.setsCreated = setPlan.created;
      counts.setsUpdated = setPlan.updated;
      counts.membersAdded = setPlan.membersAdded;
      counts.membersDeleted = setPlan.membersDeleted;

      // 2. One iptables-restore --noflush per table and family, only the chains that changed.
      // The families are independent of each other, so IPv4 and IPv6 are written side by side.
      const writeFamily = async (family: Family) => {
        for (const { spec, w, text } of tableWrites) {
          if (spec.family !== family) continue;
          log.debug({ table: spec.table, family: spec.family, write: w.write.length, remove: w.remove.length }, 'iptables-restore');
          await exec.run([restoreCmd(spec.family), '-w', '5', '--noflush'], text, WARM);
          counts.writeCommands++;
          counts.chainsWritten += w.write.length;
          counts.chainsDeleted += w.remove.length;
          counts.jumpsFixed += w.insertHooks.length;
        }
      };
      const written = await Promise.allSettled([writeFamily(4), writeFamily(6)]);
      for (const r of written) if (r.status === 'rejected') throw r.reason;

      // 3. Sets nothing references any more. The kernel may hold a reference for a moment after
      // the rules went, so retry once; a set still in use (a foreign rule) is reported, not fatal.
      if (setPlan.destroy) {
        let r = await exec.tryRun(['ipset', 'restore', '-exist'], setPlan.destroy);
        if (r.exitCode !== 0) {
          await new Promise((res) => setTimeout(res, 200));
          r = await exec.tryRun(['ipset', 'restore', '-exist'], setPlan.destroy);
        }
        counts.writeCommands++;
        if (r.exitCode !== 0) errors.push(`ipset destroy: ${r.stderr.trim()}`);
        else counts.setsDeleted = setPlan.deleted;
      }
      // iptables and ipsets now hold exactly the rendered state (unless a destroy failed: then re-read next time).
      if (errors.length === 0) {
        programmed = {
          readAt: resync ? started : cached!.readAt,
          sets: wantSets,
          tables: new Map(rendered.tables.map((spec) => [tableKey(spec.family, spec.table), {
            chains: spec.chains.map((c) => ({ name: c.name, hash: c.hash, ruleCount: c.rules.length })),
            builtins: Object.fromEntries(spec.hooks.map((h) => [h.hook, [`-A ${h.hook} -j ${h.chain}`]])),
          }])),
        };
      }
    };

    try {
      await writeRules();
    } catch (err) {
      await plumbing.catch(() => undefined);
      throw err;
    }
    const plumbed = await plumbing;
    skipped.push(...plumbed.skipped);
    errors.push(...plumbed.errors);
    counts.routesAdded = plumbed.added;
    counts.routesReplaced = plumbed.replaced;
    counts.routesDeleted = plumbed.deleted;
    counts.sysctlsWritten = plumbed.sysctlsWritten;
    counts.writeCommands += plumbed.writeCommands;

    const report: ApplyReport = { wrote: counts.writeCommands > 0, resynced: resync, counts, skipped, errors, durationMs: Date.now() - started };
    if (report.wrote) log.info({ counts, skipped: skipped.length, errors }, 'dataplane reconciled');
    else log.debug({ durationMs: report.durationMs }, 'dataplane in sync');
    return report;
  }

  async function syncLearnedRoutes(routes: LearnedRoute[], how: { resync?: boolean }): Promise<ApplyReport> {
    const started = Date.now();
    const counts = emptyCounts();
    const errors: string[] = [];
    const valid: LearnedRoute[] = [];
    for (const r of routes) {
      const dstFamily = r.dst.includes(':') ? 6 : 4;
      const viaFamily = r.via.includes(':') ? 6 : 4;
      if (!isValidCidrOrIp(r.dst) || !isValidIp(r.via) || viaFamily !== r.family || dstFamily !== r.family) {
        errors.push(`learned route ${r.dst} via ${r.via} (family ${r.family}): destination, next hop or family invalid`);
        continue;
      }
      valid.push(r);
    }
    // The table is read back on the first sync, on a resync, after a failed write and once
    // per resync interval; in between, what we last wrote stands in for it (reading 100 000
    // routes back for every BGP update would cost seconds each).
    const cached = learned;
    const resync = !cached || how.resync === true || Date.now() - cached.readAt >= resyncIntervalMs;
    learned = null;
    const view: LearnedView = resync ? learnedView(parseIpRoutes(await exec.run(['ip', '-j', 'route', 'show', 'table', 'all']), 'any')) : cached.view;
    const plan = planLearnedRoutes(valid, view);
    let failed = false;
    if (plan.lines.length) {
      // -force: one unreachable next hop must not keep every other prefix out of the table.
      const r = await exec.tryRun(['ip', '-force', '-batch', '-'], `${plan.lines.join('\n')}\n`);
      counts.writeCommands++;
      if (r.exitCode !== 0) {
        failed = true;
        errors.push(...r.stderr.trim().split('\n').filter(Boolean));
      }
      counts.routesAdded = plan.added;
      counts.routesReplaced = plan.replaced;
      counts.routesDeleted = plan.deleted;
    }
    if (!failed) learned = { readAt: resync ? started : cached!.readAt, view: { ours: plan.after, foreign: view.foreign } };
    if (errors.length) log.warn({ errors: errors.slice(0, 20) }, 'learned routes partly applied');
    return { wrote: counts.writeCommands > 0, resynced: resync, counts, skipped: plan.skipped, errors, durationMs: Date.now() - started };
  }

  return {
    reconcile: (ds, opts) => serial(() => reconcile(ds, opts ?? {})),
    syncLearnedRoutes: (routes, opts) => serial(() => syncLearnedRoutes(routes, opts ?? {})),
    readKernel: () => serial(readKernel),
  };
}
