// Logical member sets -> kernel ipsets (one per family), the kernel's trl sets read back
// from `ipset save`, and the `ipset restore` text that turns one into the other.
//
// Existing sets are updated by add/del of the difference (adds first): writes are
// proportional to the change, not to the set (a 10 000-member remote set that gains one
// member costs one line), and no set is ever empty or missing in between, which a
// flush-and-refill would allow. Each element add/del is atomic in the kernel. A set whose
// type or family changed is rebuilt under a temporary name and swapped in atomically.
import type { DesiredState, Family, IpSetState } from '../../calc/index.js';
import { NAT_MASQ_SET_ID, NAT_POOLS_SET_ID, byCodePoint, isTrellisSet, setName, tempSetName } from './names.js';

export type SetType = 'hash:net' | 'hash:ip,port';

export interface KernelSet {
  name: string;
  type: SetType | string;
  family: 'inet' | 'inet6';
  /** Sorted, canonical ("10.0.0.5/32", "10.0.0.5,tcp:8080"). */
  members: string[];
}

const MAXELEM = 1_048_576;

function memberFamily(m: string): Family {
  const comma = m.indexOf(',');
  return (comma < 0 ? m : m.slice(0, comma)).includes(':') ? 6 : 4;
}

/**
 * calc hands over the same members array for a set that did not change, so its split by
 * family (and the /0 expansion) is worked out once and the same arrays come back: planSets
 * then recognises an unchanged set by identity instead of comparing 10 000 members. One
 * per backend instance (a fresh one per call when none is given).
 */
export type SetSplitMemo = WeakMap<readonly string[], Map<SetType, [string[], string[]]>>;

export function createSetSplitMemo(): SetSplitMemo {
  return new WeakMap();
}

function splitByFamily(splitMemo: SetSplitMemo, type: SetType, members: readonly string[]): [string[], string[]] {
  let byType = splitMemo.get(members);
  const hit = byType?.get(type);
  if (hit) return hit;
  const split: [string[], string[]] = [[], []];
  for (const m of members) split[memberFamily(m) === 4 ? 0 : 1].push(m);
  for (const i of [0, 1] as const) {
    // calc hands over canonical, sorted members; only /0 needs splitting for hash:net.
    if (type === 'hash:net' && split[i].some((m) => m.endsWith('/0'))) split[i] = [...new Set(split[i].flatMap(expandNet))].sort(byCodePoint);
  }
  if (!byType) splitMemo.set(members, (byType = new Map()));
  byType.set(type, split);
  return split;
}

/** hash:net cannot hold /0: split it into two /1 halves. */
function expandNet(m: string): string[] {
  if (m === '0.0.0.0/0') return ['0.0.0.0/1', '128.0.0.0/1'];
  if (m === '::/0') return ['::/1', '8000::/1'];
  return [m];
}

/**
 * Canonical member text of a member read back from `ipset save`: ipset prints addresses in
 * canonical (compressed) form but drops /32 and /128, so only the prefix length is added.
 */
export function canonicalMember(type: string, m: string): string {
  if (type === 'hash:net') {
    if (m.includes('/')) return m;
    return m.includes(':') ? `${m}/128` : `${m}/32`;
  }
  const comma = m.indexOf(',');
  return comma < 0 ? m : `${m.slice(0, comma)},${m.slice(comma + 1).toLowerCase()}`;
}

/** The kernel sets the desired state needs: a set per family with members or referenced by a rule. */
export function renderSets(ds: DesiredState, setRefs: Record<Family, Set<string>>, memo: SetSplitMemo = createSetSplitMemo()): KernelSet[] {
  const out: KernelSet[] = [];
  const add = (id: string, type: SetType, members: readonly string[]) => {
    const split = splitByFamily(memo, type, members);
    for (const family of [4, 6] as const) {
      const name = setName(id, family);
      const mine = split[family === 4 ? 0 : 1];
      if (mine.length === 0 && !setRefs[family].has(name)) continue;
      out.push({ name, type, family: family === 4 ? 'inet' : 'inet6', members: mine });
    }
  };
  for (const s of ds.ipsets as IpSetState[]) add(s.id, s.type, s.members);
  if (ds.nat.masqueradeSources.length > 0) {
    add(NAT_MASQ_SET_ID, 'hash:net', ds.nat.masqueradeSources);
    add(NAT_POOLS_SET_ID, 'hash:net', ds.nat.allPools);
  }
  return out.sort((a, b) => byCodePoint(a.name, b.name));
}

/** Parses `ipset save` output, keeping only Trellis's sets. */
export function parseIpsetSave(text: string): KernelSet[] {
  const sets = new Map<string, KernelSet>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'create' && parts[1] && isTrellisSet(parts[1])) {
      const famIdx = parts.indexOf('family');
      const family = famIdx > 0 && parts[famIdx + 1] === 'inet6' ? 'inet6' : 'inet';
      sets.set(parts[1], { name: parts[1], type: parts[2] ?? '', family, members: [] });
    } else if (parts[0] === 'add' && parts[1] && parts[2]) {
      const s = sets.get(parts[1]);
      if (s) s.members.push(canonicalMember(s.type, parts[2]));
    }
  }
  for (const s of sets.values()) s.members.sort(byCodePoint);
  return [...sets.values()].sort((a, b) => byCodePoint(a.name, b.name));
}

export interface SetPlan {
  /** ipset restore text creating/updating sets (before iptables), or '' for nothing. */
  update: string;
  /** ipset restore text destroying sets nobody references any more (after iptables). */
  destroy: string;
  created: number;
  updated: number;
  deleted: number;
  membersAdded: number;
  membersDeleted: number;
}

function createLine(s: KernelSet, name = s.name): string {
  return `create ${name} ${s.type} family ${s.family} maxelem ${MAXELEM}`;
}

/** The full restore text for a set list (golden tests, benchmark baseline). */
export function renderSetsRestore(sets: KernelSet[]): string {
  const lines: string[] = [];
  for (const s of sets) {
    lines.push(createLine(s));
    for (const m of s.members) lines.push(`add ${s.name} ${m}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export function planSets(desired: KernelSet[], kernel: KernelSet[]): SetPlan {
  const have = new Map(kernel.map((s) => [s.name, s]));
  const want = new Set(desired.map((s) => s.name));
  const lines: string[] = [];
  const plan: SetPlan = { update: '', destroy: '', created: 0, updated: 0, deleted: 0, membersAdded: 0, membersDeleted: 0 };
  for (const s of desired) {
    const cur = have.get(s.name);
    if (!cur) {
      lines.push(createLine(s));
      for (const m of s.members) lines.push(`add ${s.name} ${m}`);
      plan.created++;
      plan.membersAdded += s.members.length;
      continue;
    }
    if (cur.type !== s.type || cur.family !== s.family) {
      const tmp = tempSetName(s.name);
      lines.push(`create ${tmp} ${s.type} family ${s.family} maxelem ${MAXELEM}`);
      for (const m of s.members) lines.push(`add ${tmp} ${m}`);
      lines.push(`swap ${tmp} ${s.name}`, `destroy ${tmp}`);
      plan.updated++;
      plan.membersAdded += s.members.length;
      continue;
    }
    if (cur.members === s.members) continue;
    const curSet = new Set(cur.members);
    const wantSet = new Set(s.members);
    const adds = s.members.filter((m) => !curSet.has(m));
    const dels = cur.members.filter((m) => !wantSet.has(m));
    if (adds.length || dels.length) plan.updated++;
    for (const m of adds) lines.push(`add ${s.name} ${m}`);
    for (const m of dels) lines.push(`del ${s.name} ${m}`);
    plan.membersAdded += adds.length;
    plan.membersDeleted += dels.length;
  }
  plan.update = lines.length ? `${lines.join('\n')}\n` : '';
  const destroy = kernel.filter((s) => !want.has(s.name)).map((s) => `destroy ${s.name}`);
  plan.deleted = destroy.length;
  plan.destroy = destroy.length ? `${destroy.join('\n')}\n` : '';
  return plan;
}
