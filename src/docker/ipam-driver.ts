// libnetwork's IpamDriver: addresses from Trellis IPAM (block affinity, the same
// compare-and-swap as CNI). The gateway is Trellis's fixed link-local one, answered at
// RequestPool, so Docker never asks for a gateway address.
import { randomBytes } from 'node:crypto';
import { allocate, handleOfAddress, releaseByHandle } from '../ipam/index.js';
import { cidrContains, isValidIp } from '../model/index.js';
import { GATEWAY_V4, GATEWAY_V6, withPrefix } from '../workload/index.js';
import type { DriverDeps } from './deps.js';
import { poolHolding } from './pools.js';
import { DockerPluginError, GATEWAY_REQUEST, OPT_REQUEST_TYPE, parseRequest, releaseAddress, releasePool, requestAddress, requestPool } from './protocol.js';

const DEFAULT_POOL_V4 = 'trellis-default-v4';
const DEFAULT_POOL_V6 = 'trellis-default-v6';
const POOL_PREFIX = 'trellis:';
const HANDLE_PREFIX = 'docker.';

const bare = (a: string) => a.split('/')[0]!;

export function createIpamDriver(deps: Pick<DriverDeps, 'store' | 'node' | 'log' | 'ipamLock'>) {
  const { store, node, log } = deps;
  return {
    async RequestPool(body: unknown) {
      const r = parseRequest(requestPool, 'RequestPool', body);
      if (r.SubPool) throw new DockerPluginError('IPAM', '--ip-range is not supported by Trellis IPAM: addresses come from the IPPool holding --subnet');
      // The gateway is Trellis's fixed link-local one, so Docker never asks for a gateway address.
      const data = { 'com.docker.network.gateway': r.V6 ? `${GATEWAY_V6}/128` : `${GATEWAY_V4}/32` };
      if (!r.Pool) return { PoolID: r.V6 ? DEFAULT_POOL_V6 : DEFAULT_POOL_V4, Pool: r.V6 ? '::/0' : '0.0.0.0/0', Data: data };
      await poolHolding(store, r.Pool);
      return { PoolID: `${POOL_PREFIX}${r.Pool}`, Pool: r.Pool, Data: data };
    },
    async ReleasePool(body: unknown) {
      parseRequest(releasePool, 'ReleasePool', body);
      return {};
    },
    async RequestAddress(body: unknown) {
      const r = parseRequest(requestAddress, 'RequestAddress', body);
      const subnet = r.PoolID.startsWith(POOL_PREFIX) ? r.PoolID.slice(POOL_PREFIX.length) : null;
      if (!subnet && r.PoolID !== DEFAULT_POOL_V4 && r.PoolID !== DEFAULT_POOL_V6) {
        throw new DockerPluginError('IPAM', `RequestAddress: field "PoolID" "${r.PoolID}" was not handed out by Trellis`);
      }
      const v6 = r.PoolID === DEFAULT_POOL_V6 || (subnet?.includes(':') ?? false);
      if (r.Options[OPT_REQUEST_TYPE] === GATEWAY_REQUEST) return { Address: v6 ? `${GATEWAY_V6}/128` : `${GATEWAY_V4}/32` };
      if (r.Address && !isValidIp(r.Address)) throw new DockerPluginError('IPAM', `--ip ${r.Address} is not an IP address`);
      const pool = subnet ? await poolHolding(store, subnet) : null;
      if (r.Address && subnet && !cidrContains(subnet, r.Address)) throw new DockerPluginError('IPAM', `--ip ${r.Address} is outside the network's subnet ${subnet}`);
      const handle = `${HANDLE_PREFIX}${randomBytes(8).toString('hex')}`;
      const alloc = await deps.ipamLock(() => allocate(store, {
        node, handle, family: v6 ? 6 : 4,
        ...(r.Address ? { address: r.Address } : {}),
        ...(pool ? { pools: [pool.metadata.name] } : {}),
        attrs: { orchestrator: 'docker', pool: r.PoolID },
      }));
      log.debug({ address: alloc.address, handle }, 'docker address allocated');
      return { Address: withPrefix(alloc.address), Data: {} };
    },
    async ReleaseAddress(body: unknown) {
      const r = parseRequest(releaseAddress, 'ReleaseAddress', body);
      const a = bare(r.Address);
      if (a === GATEWAY_V4 || a === GATEWAY_V6) return {};
      if (!isValidIp(a)) throw new DockerPluginError('IPAM', `ReleaseAddress: field "Address" "${r.Address}" is not an IP address`);
      const handle = await handleOfAddress(store, a);
      // Only what this driver handed out: an address another runtime holds is not Docker's to free.
      if (handle?.startsWith(HANDLE_PREFIX)) await deps.ipamLock(() => releaseByHandle(store, handle));
      return {};
    },
  };
}
