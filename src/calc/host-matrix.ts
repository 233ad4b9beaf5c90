// This node's host endpoints in the policy matrix, beside the workloads: for each host
// endpoint (row and column "HOST/<name>"), every workload to it and it to every workload,
// with the verdicts `policy explain` gives (host-explain.ts, the same evaluation). The host
// to its own addresses is loopback, which no host endpoint polices. Kept apart from
// matrix.ts: a node with no host endpoint pays nothing here. The workloads' own side is
// memoized by their matrix shape per host endpoint row, as matrixIn does per peer, so the
// host rows cost about a workload row each (the explain bench's hostEndpoints ratio).
import { evaluateDirection, protoNumber, type CompiledEndpoint, type ExplainView, type Packet } from './explain.js';
import { portProtocolName } from './compile.js';
import { hostFlowAllowed, hostFlowPeer, type Direction, type WorkloadDecider } from './host-explain.js';
import { shapeKey, type MatrixQuestion } from './matrix.js';
import type { DesiredState, HostEndpointState } from './state.js';

export interface HostMatrix {
  /** This node's host endpoints, in id order. */
  hosts: HostEndpointState[];
  /** toHost[i][k]: from workloads[i] to hosts[k]. */
  toHost: boolean[][];
  /** fromHost[k][j]: from hosts[k] to workloads[j]. */
  fromHost: boolean[][];
}

/** `workloads`: "NAMESPACE/NAME", as matrixIn takes them; one explain cannot evaluate is denied both ways. */
export function hostMatrixIn(ds: DesiredState, view: ExplainView, workloads: readonly string[], q: MatrixQuestion): HostMatrix {
  const hosts = ds.host?.endpoints ?? [];
  if (hosts.length === 0) return { hosts: [], toHost: workloads.map(() => []), fromHost: [] };
  const proto = protoNumber(q.protocol);
  const port = q.port !== undefined && portProtocolName(proto) !== undefined ? q.port : undefined;
  const peers = workloads.map((w) => hostFlowPeer(ds, view, w));
  // A workload's side depends on it only through its shape (matrix.ts) at its address; the
  // other end is the host endpoint's address, fixed per row: one evaluation per shape and row.
  const memo = new Map<string, boolean>();
  const shapes = new WeakMap<object, Map<string, string>>();
  // Shapes per workload, direction and address: computing one walks the workload's rules.
  const shapeOf = (c: CompiledEndpoint, direction: Direction, pkt: Packet): string => {
    const addr = direction === 'egress' ? pkt.src : pkt.dst;
    let m = shapes.get(c.endpoint);
    if (!m) shapes.set(c.endpoint, (m = new Map()));
    let k = m.get(`${direction}|${addr}`);
    if (k === undefined) m.set(`${direction}|${addr}`, (k = shapeKey(c, direction, addr, proto, port)));
    return k;
  };
  const decide = (row: string): WorkloadDecider => (c, direction, pkt) => {
    const key = `${row}|${pkt.family}|${shapeOf(c, direction, pkt)}`;
    let v = memo.get(key);
    if (v === undefined) memo.set(key, (v = evaluateDirection(c.rules, c.endpoint, direction, pkt).allowed));
    return v;
  };
  return {
    hosts,
    toHost: peers.map((p) => hosts.map((h) => p !== undefined && hostFlowAllowed(ds, h, p, 'ingress', proto, port, decide(`${h.id}>`)))),
    fromHost: hosts.map((h) => { const d = decide(`${h.id}<`); return peers.map((p) => p !== undefined && hostFlowAllowed(ds, h, p, 'egress', proto, port, d)); }),
  };
}
