// The IPPool a Docker --subnet lies in: both drivers ask (IPAM's RequestPool and
// RequestAddress, the network driver's CreateNetwork).
import { cidrContains, parseCidr, type IPPool } from '../model/index.js';
import type { IpamStore } from '../ipam/index.js';
import { DockerPluginError } from './protocol.js';

async function pools(store: IpamStore): Promise<IPPool[]> {
  return (await store.list('IPPool')).map((s) => s.resource as IPPool);
}

/** The IPPool a --subnet lies in, or a sentence saying none does. */
export async function poolHolding(store: IpamStore, subnet: string): Promise<IPPool> {
  let c;
  try { c = parseCidr(subnet); } catch { throw new DockerPluginError('IPAM', `--subnet ${subnet} is not a CIDR`); }
  const all = await pools(store);
  const p = all.find((pool) => {
    const pc = parseCidr(pool.spec.cidr);
    return pc.family === c.family && c.prefixLength >= pc.prefixLength && cidrContains(pool.spec.cidr, c.address);
  });
  if (!p) {
    const have = all.map((x) => `${x.metadata.name} ${x.spec.cidr}`).join(', ') || 'none';
    throw new DockerPluginError('IPAM', `subnet ${subnet} lies in no Trellis IPPool (pools: ${have}); create one with trellisctl apply, or use a subnet inside one`);
  }
  return p;
}
