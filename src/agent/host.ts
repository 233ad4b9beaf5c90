// Host protection's node-local settings from trellisd's configuration: the failsafes
// (Calico's defaults unless configured) and DefaultEndpointToHostAction. The API's own
// port is a failsafe whenever it listens off loopback, so that no host endpoint policy can
// lock an operator out of the daemon that would let them repair it.
import { ApiInputError, parseListen, isLoopbackHost, type ExplainQuery } from '../api/index.js';
import {
  DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND, ExplainError, explainHostFlow, type DesiredState, type FailsafePort, type HostConfig,
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
 * /explain with `to=HOST/<host endpoint name>`: a new connection to this host's own
 * processes, from a local workload ("ns/name") or an address arriving through that
 * endpoint's interface. Only this node's host endpoints can be asked about.
 */
export function explainToHostForApi(ds: DesiredState, q: ExplainQuery): { text: string; result: unknown } {
  try {
    return explainHostFlow(ds, q);
  } catch (err) {
    if (err instanceof ExplainError) throw new ApiInputError(err.message);
    throw err;
  }
}
