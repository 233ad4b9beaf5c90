// The Docker face: libnetwork's remote NetworkDriver (network-driver.ts) and IpamDriver
// (ipam-driver.ts) calls, routed by path. Each call answers; none throws: a refusal is a
// sentence Docker shows the user.
import { IpamError } from '../ipam/index.js';
import { NetlinkError } from '../workload/index.js';
import type { DriverDeps } from './deps.js';
import { DockerApiError } from './engine.js';
import { createIpamDriver } from './ipam-driver.js';
import { createNetworkDriver } from './network-driver.js';
import { DockerPluginError } from './protocol.js';

export type { DockerStore, DriverDeps } from './deps.js';
export { CONTAINER_LABEL, dockerPorts, endpointLabels, joinRoutes, NETWORK_LABEL, networkProfile, networkProfileName } from './network.js';

export interface DriverReply { status: number; body: Record<string, unknown> }

export function createDriver(deps: DriverDeps) {
  const { log } = deps;
  const ipam = createIpamDriver(deps);
  const net = createNetworkDriver(deps);

  const calls: Record<string, (body: unknown) => Promise<Record<string, unknown>>> = {
    '/Plugin.Activate': async () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
    '/NetworkDriver.GetCapabilities': async () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': net.CreateNetwork,
    '/NetworkDriver.DeleteNetwork': net.DeleteNetwork,
    '/NetworkDriver.CreateEndpoint': net.CreateEndpoint,
    '/NetworkDriver.DeleteEndpoint': net.DeleteEndpoint,
    '/NetworkDriver.EndpointOperInfo': net.EndpointOperInfo,
    '/NetworkDriver.Join': net.Join,
    '/NetworkDriver.Leave': net.Leave,
    // Docker programs nothing for a remote driver's -p: the endpoint's ports already carry them.
    '/NetworkDriver.ProgramExternalConnectivity': async () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': async () => ({}),
    '/NetworkDriver.DiscoverNew': async () => ({}),
    '/NetworkDriver.DiscoverDelete': async () => ({}),
    '/NetworkDriver.AllocateNetwork': async () => ({}),
    '/NetworkDriver.FreeNetwork': async () => ({}),
    '/IpamDriver.GetCapabilities': async () => ({ RequiresMACAddress: false }),
    '/IpamDriver.GetDefaultAddressSpaces': async () => ({ LocalDefaultAddressSpace: 'trellis-local', GlobalDefaultAddressSpace: 'trellis-global' }),
    '/IpamDriver.RequestPool': ipam.RequestPool,
    '/IpamDriver.ReleasePool': ipam.ReleasePool,
    '/IpamDriver.RequestAddress': ipam.RequestAddress,
    '/IpamDriver.ReleaseAddress': ipam.ReleaseAddress,
  };

  /**
   * One plugin call: never throws. A refusal is HTTP 500 with `Err` (Docker shows it to the
   * user); the IPAM side must not answer 200, which Engine 20.10 reads as "No address returned".
   */
  async function handle(path: string, body: unknown): Promise<DriverReply> {
    const call = calls[path];
    if (!call) return { status: 404, body: { Err: `trellis: ${path} is not a call Trellis implements` } };
    try {
      return { status: 200, body: await call(body) };
    } catch (e) {
      const message = errorSentence(e);
      log.warn({ call: path, err: message }, 'docker plugin call refused');
      return { status: 500, body: { Err: `trellis: ${message}` } };
    }
  }

  return { handle };
}

export type Driver = ReturnType<typeof createDriver>;

function errorSentence(e: unknown): string {
  if (e instanceof DockerPluginError || e instanceof NetlinkError || e instanceof DockerApiError) return e.message;
  if (e instanceof IpamError) return e.message;
  return (e as Error)?.message ?? String(e);
}
