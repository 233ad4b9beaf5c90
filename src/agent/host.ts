// Host protection's node-local settings from trellisd's configuration: the failsafes
// (Calico's defaults unless configured) and DefaultEndpointToHostAction. The API's own
// port is a failsafe whenever it listens off loopback, so that no host endpoint policy can
// lock an operator out of the daemon that would let them repair it.
import { ApiInputError, parseListen, isLoopbackHost, type ExplainQuery } from '../api/index.js';
import {
  DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND, explainToHost, formatHostVerdict, type DesiredState, type FailsafePort, type HostConfig,
} from '../calc/index.js';
import { isValidCidrOrIp } from '../model/index.js';
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
 * /explain with `to=HOST/<host endpoint name>`: a new connection to this host's own
 * processes, from a local workload ("ns/name") or an address arriving through that
 * endpoint's interface. Only this node's host endpoints can be asked about.
 */
export function explainToHostForApi(ds: DesiredState, q: ExplainQuery): { text: string; result: unknown } {
  const name = q.to.replace(/^HOST\//, '').replace(/^HostEndpoint\//, '');
  const ep = ds.host?.endpoints.find((e) => e.name === name);
  if (!ep) throw new ApiInputError(`no host endpoint "${name}" on this node (${ds.host?.endpoints.map((e) => e.name).join(', ') || 'it has none'})`);
  const protocol = (q.protocol ?? 'TCP').toUpperCase();
  const proto = protocol === 'TCP' ? 6 : protocol === 'UDP' ? 17 : /^\d+$/.test(protocol) ? Number(protocol) : NaN;
  if (!Number.isInteger(proto) || proto < 1 || proto > 255) throw new ApiInputError(`protocol "${q.protocol}" is not TCP, UDP or 1-255`);
  const dst = ep.addresses[0]?.replace(/\/\d+$/, '') ?? (q.from.includes(':') ? '::' : '0.0.0.0');
  const wl = ds.endpoints.find((e) => `${e.namespace}/${e.name}` === q.from.replace(/^WorkloadEndpoint\//, ''));
  const src = wl ? wl.addresses[0]!.replace(/\/\d+$/, '') : q.from;
  if (!wl && !isValidCidrOrIp(src)) throw new ApiInputError(`from "${q.from}" is neither a local workload (ns/name) nor an address`);
  const pkt = { src, dst, family: (src.includes(':') ? 6 : 4) as 4 | 6, protocol: proto, ...(q.port !== undefined ? { port: q.port } : {}) };
  const result = explainToHost(ds, wl ? { workload: wl } : { iface: ep.interfaceName }, pkt);
  return { text: `${q.from} -> ${q.to}${q.port !== undefined ? ` ${protocol}/${q.port}` : ''}: ${formatHostVerdict(result)}\n`, result };
}
