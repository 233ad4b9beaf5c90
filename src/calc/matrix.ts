// The verdict for every ordered pair of endpoints, as explainIn gives it pair by pair,
// at cluster scale. A direction's verdict depends on the deciding endpoint only through its
// rule lists (ids, read from one rule basis) and through which of those rules' sets hold
// its own address; so endpoints alike in both share one evaluation per peer address. The
// pair's cell is then two memo lookups. Tests hold it equal to explainIn for every pair.
import {
  evaluateDirection, inNetSet, inPortSet, protoNumber,
  type CompiledEndpoint, type ExplainView, type Packet, type RuleLookup,
} from './explain.js';
import { portProtocolName } from './compile.js';
import type { CompiledRule, Family } from './state.js';

type Direction = 'ingress' | 'egress';

interface Prepared {
  compiled: CompiledEndpoint;
  /** First host address per family. */
  v4?: string;
  v6?: string;
  /** Shape id per direction and family: equal ids evaluate alike. */
  shape: Map<string, number>;
}

const basisIds = new WeakMap<object, number>();
let nextBasis = 0;
function basisId(b: object): number {
  let id = basisIds.get(b);
  if (id === undefined) basisIds.set(b, (id = nextBasis++));
  return id;
}

function rulesOf(rules: RuleLookup, c: CompiledEndpoint, direction: Direction): CompiledRule[] {
  const dir = c.endpoint[direction];
  const out: CompiledRule[] = [];
  for (const id of dir.policies) out.push(...(rules.policy(id)?.[direction] ?? []));
  for (const id of dir.profiles) out.push(...(rules.profile(id)?.[direction] ?? []));
  return out;
}

/** Which sets that test the endpoint's own side hold its address (egress: the source side). */
function ownSignature(c: CompiledEndpoint, direction: Direction, addr: string, protocol: number, port: number | undefined): string {
  const set = c.rules.set;
  let bits = '';
  const net = (id: string) => { const s = set(id); bits += s !== undefined && s.type === 'hash:net' && inNetSet(s, addr) ? '1' : '0'; };
  for (const r of rulesOf(c.rules, c, direction)) {
    if (direction === 'egress') {
      r.srcSets.forEach(net);
      r.notSrcSets.forEach(net);
    } else {
      r.dstSets.forEach(net);
      r.notDstSets.forEach(net);
      for (const id of r.dstNamedPortSets) { const s = set(id); bits += s !== undefined && inPortSet(s, addr, protocol, port) ? '1' : '0'; }
    }
  }
  return bits;
}

/** Endpoints with equal keys (for a direction, at the address `addr` they hold) get the same
 *  verdict from the same peer: the matrix evaluates each key once per peer address. */
export function shapeKey(c: CompiledEndpoint, direction: Direction, addr: string, protocol: number, port: number | undefined): string {
  const dir = c.endpoint[direction];
  return `${basisId(c.rules.basis)}|${direction}|${dir.policies.join(',')};${dir.profiles.join(',')}|${ownSignature(c, direction, addr, protocol, port)}`;
}

export interface MatrixQuestion { protocol: string | number; port?: number }

/** allowed[i][j]: from endpoints[i] to endpoints[j] ("NAMESPACE/NAME"); an endpoint explain
 *  cannot evaluate is denied both ways, as the dataplane fails closed. */
export function matrixIn(view: ExplainView, endpoints: readonly string[], q: MatrixQuestion): boolean[][] {
  const protocol = protoNumber(q.protocol);
  const port = q.port !== undefined && portProtocolName(protocol) !== undefined ? q.port : undefined;
  const families: Family[] = protocol === 58 ? [6] : protocol === 1 ? [4] : [4, 6];
  const shapeIds = new Map<string, number>();
  const prepared: Array<Prepared | undefined> = endpoints.map((ref) => {
    const m = /^([^/]+)\/([^/]+)$/.exec(ref);
    const ep = m ? view.findEndpoint(m[1]!, m[2]!) : undefined;
    const compiled = ep ? view.compiled(ep) : undefined;
    if (!ep || !compiled) return undefined;
    const p: Prepared = { compiled, shape: new Map() };
    for (const a of ep.addrs) {
      const host = a.slice(0, a.lastIndexOf('/'));
      if (host.includes(':')) p.v6 ??= host;
      else p.v4 ??= host;
    }
    for (const direction of ['ingress', 'egress'] as const) {
      for (const f of [4, 6] as const) {
        const addr = f === 4 ? p.v4 : p.v6;
        if (addr === undefined) continue;
        const key = `${f}|${shapeKey(compiled, direction, addr, protocol, port)}`;
        let id = shapeIds.get(key);
        if (id === undefined) shapeIds.set(key, (id = shapeIds.size));
        p.shape.set(`${direction}${f}`, id);
      }
    }
    return p;
  });

  const n = endpoints.length;
  const memo = new Map<number, boolean>();
  const pkt: Packet = { src: '', dst: '', family: 4, protocol };
  if (port !== undefined) pkt.port = port;
  const verdict = (decider: Prepared, direction: Direction, f: Family, peerIndex: number, src: string, dst: string): boolean => {
    const shape = decider.shape.get(`${direction}${f}`)!;
    const key = (shape * 2 + (f === 6 ? 1 : 0)) * n + peerIndex;
    const had = memo.get(key);
    if (had !== undefined) return had;
    pkt.src = src;
    pkt.dst = dst;
    pkt.family = f;
    const allowed = evaluateDirection(decider.compiled.rules, decider.compiled.endpoint, direction, pkt).allowed;
    memo.set(key, allowed);
    return allowed;
  };

  return prepared.map((s, i) => prepared.map((d, j) => {
    if (!s || !d) return false;
    for (const f of families) {
      const src = f === 4 ? s.v4 : s.v6;
      const dst = f === 4 ? d.v4 : d.v6;
      if (src === undefined || dst === undefined) continue;
      return verdict(s, 'egress', f, j, src, dst) && verdict(d, 'ingress', f, i, src, dst);
    }
    return false;
  }));
}
