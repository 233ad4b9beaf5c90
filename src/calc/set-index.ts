// The sets in use on this node: for each, its definition, how many policies and profiles
// reference it, the endpoints in it and a sorted, reference-counted member list (two
// endpoints may contribute the same member). A set is filled once, when first referenced,
// from the label index's candidates; afterwards each endpoint change moves only that
// endpoint's members. Its IpSetState is rebuilt only when its members changed.
import { endpointInSet, endpointMembers, ipSetState, type EndpointInfo, type SetDef } from './compile.js';
import type { EndpointIndex } from './endpoint-index.js';
import type { IpSetState } from './state.js';
import { byCodePoint } from '../model/index.js';

export interface ActiveSet {
  readonly def: SetDef;
  /** References held by policies and profiles in use. */
  refs: number;
  /** Endpoint keys that contribute members. */
  readonly eps: Set<string>;
  /** Member -> how many endpoints contribute it. */
  readonly counts: Map<string, number>;
  /** The members, sorted. */
  sorted: string[];
  /** Built on demand; null after a change. */
  state: IpSetState | null;
}

export interface SetIndex {
  readonly sets: ReadonlyMap<string, ActiveSet>;
  /** What each owner ("policy:ID", "profile:NAME") holds references on. */
  readonly held: ReadonlyMap<string, readonly SetDef[]>;
  /** Holds references on exactly the sets an owner needs now (none: an empty list). */
  hold(owner: string, want: readonly SetDef[]): void;
  /** Moves an endpoint's members between sets after its labels, addresses or ports changed. */
  moveEndpoint(key: string, before: EndpointInfo | undefined, after: EndpointInfo | undefined): void;
  /** The sets in use, sorted by id; unchanged sets keep their IpSetState objects. */
  list(): IpSetState[];
  /** The IpSetState this node would render for any definition, in use or not (explain of
   *  remote endpoints): an unused set is filled by the same scan, and not kept. */
  stateOf(def: SetDef): IpSetState;
}

/** Index of the first element >= x. */
function lowerBound(arr: string[], x: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function createSetIndex(endpoints: EndpointIndex): SetIndex {
  const sets = new Map<string, ActiveSet>();
  const held = new Map<string, readonly SetDef[]>();
  const dirty = new Set<string>();
  let listDirty = true;
  let sortedIds: string[] = [];
  let list: IpSetState[] = [];

  function addMember(s: ActiveSet, m: string): void {
    const n = s.counts.get(m) ?? 0;
    s.counts.set(m, n + 1);
    if (n === 0) s.sorted.splice(lowerBound(s.sorted, m), 0, m);
  }
  function removeMember(s: ActiveSet, m: string): void {
    const n = s.counts.get(m) ?? 0;
    if (n <= 1) {
      s.counts.delete(m);
      const i = lowerBound(s.sorted, m);
      if (s.sorted[i] === m) s.sorted.splice(i, 1);
    } else s.counts.set(m, n - 1);
  }

  function fill(def: SetDef): ActiveSet {
    const s: ActiveSet = { def, refs: 0, eps: new Set(), counts: new Map(), sorted: [], state: null };
    if (def.kind === 'nets') { s.sorted = [...def.nets]; return s; }
    const consider = (k: string, info: EndpointInfo) => {
      if (!endpointInSet(def, info)) return;
      s.eps.add(k);
      for (const m of endpointMembers(def, info)) s.counts.set(m, (s.counts.get(m) ?? 0) + 1);
    };
    const cands = endpoints.labels.candidates(def.selector.ast);
    if (cands) for (const group of cands) for (const k of group) consider(k, endpoints.infos.get(k)!);
    else for (const [k, info] of endpoints.infos) consider(k, info);
    s.sorted = [...s.counts.keys()].sort(byCodePoint);
    return s;
  }

  function ref(def: SetDef): void {
    const have = sets.get(def.id);
    if (have) { have.refs++; return; }
    const s = fill(def);
    s.refs = 1;
    sets.set(def.id, s);
    dirty.add(def.id);
    listDirty = true;
  }
  function unref(id: string): void {
    const s = sets.get(id);
    if (!s) return;
    if (--s.refs > 0) return;
    sets.delete(id);
    dirty.delete(id);
    listDirty = true;
  }

  return {
    sets, held,
    hold(owner, want) {
      const have = held.get(owner) ?? [];
      if (have === want) return;
      for (const d of want) ref(d);
      for (const d of have) unref(d.id);
      if (want.length > 0) held.set(owner, want);
      else held.delete(owner);
    },
    moveEndpoint(key, before, after) {
      for (const s of sets.values()) {
        if (s.def.kind === 'nets') continue;
        const was = s.eps.has(key);
        const is = after !== undefined && endpointInSet(s.def, after);
        if (!was && !is) continue;
        const oldM = was ? endpointMembers(s.def, before!) : [];
        const newM = is ? endpointMembers(s.def, after!) : [];
        if (was && is && sameStrings(oldM, newM)) continue;
        for (const m of oldM) removeMember(s, m);
        for (const m of newM) addMember(s, m);
        if (is) s.eps.add(key);
        else s.eps.delete(key);
        dirty.add(s.def.id);
      }
    },
    list() {
      if (!listDirty && dirty.size === 0) return list;
      for (const id of dirty) { const s = sets.get(id); if (s) s.state = null; }
      dirty.clear();
      if (listDirty) sortedIds = [...sets.keys()].sort(byCodePoint);
      list = sortedIds.map((id) => {
        const s = sets.get(id)!;
        return (s.state ??= ipSetState(s.def, [...s.sorted]));
      });
      listDirty = false;
      return list;
    },
    stateOf(def) {
      const s = sets.get(def.id);
      if (s && !dirty.has(def.id) && s.state) return s.state;
      if (s) return ipSetState(def, [...s.sorted]);
      const f = fill(def);
      return ipSetState(def, f.sorted);
    },
  };
}
