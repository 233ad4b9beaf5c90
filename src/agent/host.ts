// Host protection's node-local settings from trellisd's configuration: the failsafes
// (Calico's defaults unless configured) and DefaultEndpointToHostAction. The API's own
// port is a failsafe whenever it listens off loopback, so that no host endpoint policy can
// lock an operator out of the daemon that would let them repair it.
import { parseListen, isLoopbackHost } from '../api/index.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND, type HostConfig, type FailsafePort } from '../calc/index.js';
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
