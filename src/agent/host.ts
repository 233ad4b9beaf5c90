// Host protection's node-local settings from trellisd's configuration: the failsafes
// (Calico's defaults unless configured) and DefaultEndpointToHostAction. The API's own
// port is a failsafe whenever it listens off loopback, so that no host endpoint policy can
// lock an operator out of the daemon that would let them repair it.
import { ApiInputError, parseListen, isLoopbackHost, type ExplainQuery, type MatrixDoc } from '../api/index.js';
import {
  DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND, ExplainError, explainHostFlow, hostEndpointByRef, hostMatrixIn,
  type DesiredState, type ExplainView, type FailsafePort, type HostConfig,
} from '../calc/index.js';
import type { DaemonConfig } from '../config/index.js';

export function hostConfigOf(config: DaemonConfig): HostConfig {
  const inbound: FailsafePort[] = [...(config.failsafeInboundHostPorts ?? DEFAULT_FAILSAFE_INBOUND)];
  const outbound: FailsafePort[] = [...(config.failsafeOutboundHostPorts ?? DEFAULT_FAILSAFE_OUTBOUND)];
  try {
    const { host, port } = parseListen(config.apiListen);
    if (!isLoopbackHost(host) && !inbound.some((f) => f.protocol === 'tcp' && f.port === port && f.net === undefined)) {
      inbound.push({ protocol: 'tcp', port });
    }
  } catch { /* preflight reports a bad apiListen */ }
  return { failsafeInbound: inbound, failsafeOutbound: outbound, endpointToHost: config.defaultEndpointToHostAction ?? 'Drop' };
}

/**
 * Whether /explain is about this host: `to` or `from` names one of its host endpoints
 * (HOST/<name>, HostEndpoint/<name>, or an address in its expectedIPs). A HOST/ name that
 * does not exist is still a host question, answered with the endpoints there are.
 */
export function isHostFlow(ds: DesiredState, q: ExplainQuery): boolean {
  const names = (ref: string) => {
    try { return hostEndpointByRef(ds, ref) !== undefined; } catch { return true; }
  };
  return names(q.to) || names(q.from);
}

/**
 * /explain about this host: a new connection to its own processes (`to` names one of its
 * host endpoints), from a workload or an address arriving through that endpoint's
 * interface; or from them (`from` names one) out through it, to a workload or an address.
 * Only this node's host endpoints can be asked about; `view` finds workloads elsewhere.
 */
export function explainToHostForApi(ds: DesiredState, q: ExplainQuery, view?: ExplainView): { text: string; result: unknown } {
  try {
    return explainHostFlow(ds, q, view);
  } catch (err) {
    if (err instanceof ExplainError) throw new ApiInputError(err.message);
    throw err;
  }
}

/**
 * /matrix with this node's host endpoints beside the workloads: a row and a column
 * "HOST/<name>" each, the verdicts explain gives; the host to its own addresses (host
 * endpoint to host endpoint) goes over loopback and is allowed.
 */
export function withHostEndpoints(doc: MatrixDoc, ds: DesiredState, view: ExplainView): MatrixDoc {
  if ((ds.host?.endpoints.length ?? 0) === 0) return doc;
  const workloads = doc.endpoints.map((e) => e.id.replace(/^WorkloadEndpoint\//, ''));
  const m = hostMatrixIn(ds, view, workloads, { protocol: doc.protocol, port: doc.port });
  const grow = (allowed: boolean[][]) => [
    ...allowed.map((row, i) => [...row, ...m.toHost[i]!]),
    ...m.fromHost.map((row) => [...row, ...m.hosts.map(() => true)]),
  ];
  return {
    ...doc,
    endpoints: [...doc.endpoints, ...m.hosts.map((h) => ({ id: `HOST/${h.name}`, tenant: 'host', node: ds.nodeName, address: (h.addresses[0] ?? '').replace(/\/\d+$/, '') }))],
    allowed: grow(doc.allowed),
    // The staged preview covers workload pairs; the host rows it shows as they are in force,
    // so the two matrices keep one shape and no host cell reads as a change.
    ...(doc.staged ? { staged: { ...doc.staged, allowed: grow(doc.staged.allowed) } } : {}),
  };
}
