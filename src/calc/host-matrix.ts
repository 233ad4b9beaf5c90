// This node's host endpoints in the policy matrix, beside the workloads: for each host
// endpoint (row and column "HOST/<name>"), every workload to it and it to every workload,
// with the verdicts `policy explain` gives (host-explain.ts, the same evaluation). The host
// to its own addresses is loopback, which no host endpoint polices. Kept apart from
// matrix.ts: a node with no host endpoint pays nothing here.
import { protoNumber } from './explain.js';
import { portProtocolName } from './compile.js';
import { hostFlowAllowed, hostFlowPeer } from './host-explain.js';
import type { ExplainView } from './explain.js';
import type { MatrixQuestion } from './matrix.js';
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
  return {
    hosts,
    toHost: peers.map((p) => hosts.map((h) => p !== undefined && hostFlowAllowed(ds, h, p, 'ingress', proto, port))),
    fromHost: hosts.map((h) => peers.map((p) => p !== undefined && hostFlowAllowed(ds, h, p, 'egress', proto, port))),
  };
}
