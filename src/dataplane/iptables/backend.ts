// The ipset + iptables policy backend: reads Trellis's sets (ipset save) and chains
// (iptables-save, ip6tables-save), plans the smallest write (sets by member difference,
// chains by content hash, hook jumps kept first) and hands it to the batch runner as three
// stages: ipset creates/updates, one iptables-restore --noflush per table and family (the
// two families side by side), ipset destroys.
import type { DesiredState, Family } from '../../calc/index.js';
import type { PolicyBackend, PolicyCommand, PolicyPlan, PolicyStage } from '../backend.js';
import { runPolicyPlan } from '../batch.js';
import type { Exec } from '../exec.js';
import { createSetSplitMemo, parseIpsetSave, planSets, renderSets, type KernelSet, type SetSplitMemo } from './ipsets.js';
import { parseIptablesSaveAll, planTable, tableWriteEmpty, type KernelTable } from './kernel.js';
import { createRenderMemo, renderIptables, renderRestore, renderSetRefs, type RenderMemo, type RenderedIptables, type TableSpec } from './render.js';

/** What the backend knows of the kernel: Trellis's sets, and its chains per family and table. */
export interface IptablesSnapshot {
  sets: KernelSet[];
  /** Keyed "<family>/<table>"; a table missing here holds no Trellis chains. */
  tables: Map<string, KernelTable>;
}

const EMPTY_TABLE: KernelTable = { chains: [], builtins: {} };
export const tableKey = (family: Family, table: string): string => `${family}/${table}`;
const saveCmd = (f: Family) => (f === 4 ? 'iptables-save' : 'ip6tables-save');
const restoreCmd = (f: Family) => (f === 4 ? 'iptables-restore' : 'ip6tables-restore');

/** The snapshot the kernel holds right after `rendered` and `sets` were written. */
function snapshotOf(rendered: RenderedIptables, sets: KernelSet[]): IptablesSnapshot {
  return {
    sets,
    tables: new Map(rendered.tables.map((spec) => [tableKey(spec.family, spec.table), {
      chains: spec.chains.map((c) => ({ name: c.name, hash: c.hash, ruleCount: c.rules.length })),
      builtins: Object.fromEntries(spec.hooks.map((h) => [h.hook, [`-A ${h.hook} -j ${h.chain}`]])),
    }])),
  };
}

/** The memos one backend instance renders with (see RenderMemo). */
export interface IptablesMemo { render: RenderMemo; sets: SetSplitMemo }

export function createIptablesMemo(): IptablesMemo {
  return { render: createRenderMemo(), sets: createSetSplitMemo() };
}

/**
 * The plan from `kernel` to `ds`. The set stage is planned at once; the rules are rendered
 * only when the runner asks for the second stage, that is while the set write runs.
 */
export function planIptables(ds: DesiredState, kernel: IptablesSnapshot, memo: IptablesMemo = createIptablesMemo()): PolicyPlan<IptablesSnapshot> {
  const wantSets = renderSets(ds, renderSetRefs(ds, memo.render), memo.sets);
  let rendered: RenderedIptables | null = null;
  const render = () => (rendered ??= renderIptables(ds, memo.render));
  function* stages(): Generator<PolicyStage> {
    // 1. Sets first: every set a new rule references exists before the rule is loaded.
    const setPlan = planSets(wantSets, kernel.sets);
    if (setPlan.update) {
      yield [[{
        argv: ['ipset', 'restore', '-exist'], input: setPlan.update, warm: true,
        counts: { setsCreated: setPlan.created, setsUpdated: setPlan.updated, membersAdded: setPlan.membersAdded, membersDeleted: setPlan.membersDeleted },
      }]];
    }
    // 2. One iptables-restore --noflush per table and family, only the chains that changed;
    // the families are independent of each other, so IPv4 and IPv6 are written side by side.
    const lanes = ([4, 6] as const).map((family) => tableCommands(withGoneTables(render().tables.filter((t) => t.family === family), family, kernel), kernel))
      .filter((lane) => lane.length > 0);
    if (lanes.length) yield lanes;
    // 3. Sets nothing references any more (a set still in use by a foreign rule is reported, not fatal).
    if (setPlan.destroy) {
      yield [[{ argv: ['ipset', 'restore', '-exist'], input: setPlan.destroy, bestEffort: { label: 'ipset destroy' }, counts: { setsDeleted: setPlan.deleted } }]];
    }
  }
  return { stages: stages(), after: () => snapshotOf(render(), wantSets) };
}

/**
 * A table Trellis rendered before but not now (mangle once the last preDNAT policy went, raw
 * in IPv4 once the last doNotTrack one did) is planned as empty: its chains and hook jumps go.
 */
function withGoneTables(specs: TableSpec[], family: Family, kernel: IptablesSnapshot): TableSpec[] {
  const out = [...specs];
  for (const [key, t] of kernel.tables) {
    const [fam, table] = key.split('/') as [string, TableSpec['table']];
    if (Number(fam) !== family || specs.some((s) => s.table === table) || t.chains.length === 0) continue;
    out.push({ table, family, chains: [], hooks: [] });
  }
  return out;
}

function tableCommands(specs: TableSpec[], kernel: IptablesSnapshot): PolicyCommand[] {
  const out: PolicyCommand[] = [];
  for (const spec of specs) {
    const w = planTable(spec, kernel.tables.get(tableKey(spec.family, spec.table)) ?? EMPTY_TABLE);
    if (tableWriteEmpty(w)) continue;
    out.push({
      argv: [restoreCmd(spec.family), '-w', '5', '--noflush'], input: renderRestore(spec.table, w), warm: true,
      counts: { chainsWritten: w.write.length, chainsDeleted: w.remove.length, jumpsFixed: w.insertHooks.length },
    });
  }
  return out;
}

/** Every table of one family from a single iptables-save (one process, one ruleset fetch). */
async function readFamily(exec: Exec, family: Family): Promise<Array<[string, KernelTable]>> {
  const tables = parseIptablesSaveAll(await exec.run([saveCmd(family)]));
  return [...tables].map(([table, t]) => [tableKey(family, table), t]);
}

export async function readIptables(exec: Exec): Promise<IptablesSnapshot> {
  const [sets, v4, v6] = await Promise.all([exec.run(['ipset', 'save']).then(parseIpsetSave), readFamily(exec, 4), readFamily(exec, 6)]);
  return { sets, tables: new Map([...v4, ...v6]) };
}

export function createIptablesBackend(exec: Exec): PolicyBackend<IptablesSnapshot> {
  const memo = createIptablesMemo();
  return {
    name: 'iptables',
    read: () => readIptables(exec),
    plan: (ds, kernel) => planIptables(ds, kernel, memo),
    apply: (plan) => runPolicyPlan(exec, plan),
  };
}
