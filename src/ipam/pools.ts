// Which pools a node may allocate from: enabled, of the right family, selecting the
// node by its labels, and (when the request names pools) among those named.
import { parseSelector, type IPPool, type IpFamily, type Node } from '../model/index.js';
import { effectiveBlockSize, parseNet, type Net } from './addr.js';
import type { IpamStore } from './store.js';

export interface PoolInfo {
  name: string;
  cidr: string;
  net: Net;
  blockPrefix: number;
  disabled: boolean;
  nodeSelector: string | undefined;
}

export async function loadPools(store: IpamStore): Promise<PoolInfo[]> {
  const stored = await store.list('IPPool');
  const pools: PoolInfo[] = [];
  for (const s of stored) {
    if (s.resource.kind !== 'IPPool') continue;
    const p = s.resource as IPPool;
    const net = parseNet(p.spec.cidr);
    pools.push({
      name: p.metadata.name,
      cidr: p.spec.cidr,
      net,
      blockPrefix: effectiveBlockSize(net, p.spec.blockSize),
      disabled: p.spec.disabled === true,
      nodeSelector: p.spec.nodeSelector,
    });
  }
  return pools.sort((a, b) => a.name.localeCompare(b.name));
}

export async function nodeLabels(store: IpamStore, node: string): Promise<Record<string, string>> {
  const n = await store.get({ kind: 'Node', name: node });
  return (n?.resource as Node | undefined)?.metadata.labels ?? {};
}

/** Why a pool cannot serve this node, or null when it can. */
export function poolRefusal(p: PoolInfo, labels: Record<string, string>): string | null {
  if (p.disabled) return `pool ${p.name} is disabled`;
  if (p.nodeSelector !== undefined && p.nodeSelector.trim() !== '') {
    try {
      if (!parseSelector(p.nodeSelector).matches(labels)) return `pool ${p.name}'s nodeSelector "${p.nodeSelector}" does not select this node`;
    } catch (e) {
      return `pool ${p.name}'s nodeSelector is invalid (${(e as Error).message})`;
    }
  }
  return null;
}

export function eligiblePools(
  pools: PoolInfo[], labels: Record<string, string>, family: IpFamily, only?: string[],
): { eligible: PoolInfo[]; reasons: string[] } {
  const eligible: PoolInfo[] = [];
  const reasons: string[] = [];
  for (const p of pools) {
    if (p.net.family !== family) continue;
    if (only && only.length > 0 && !only.includes(p.name) && !only.includes(p.cidr)) continue;
    const why = poolRefusal(p, labels);
    if (why) reasons.push(why); else eligible.push(p);
  }
  return { eligible, reasons };
}
