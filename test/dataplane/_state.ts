// Hand-written DesiredState values for the dataplane tests: the lab's two tenants.
import type { CompiledRule, DesiredState, EndpointState } from '../../src/calc/index.js';
import { verdictChain, verdictId } from '../../src/dataplane/iptables/index.js';

export function rule(r: Partial<CompiledRule> & Pick<CompiledRule, 'action' | 'origin'>): CompiledRule {
  return {
    srcSets: [], notSrcSets: [], dstSets: [], notDstSets: [],
    srcPorts: [], notSrcPorts: [], dstPorts: [], notDstPorts: [],
    srcNamedPortSets: [], dstNamedPortSets: [],
    ...r,
  };
}

export interface EpSpec { ns: string; name: string; iface: string; ip: string; app: string }

/** Containers of the lab: tenant-a web/client, tenant-b web/client (+ optional extras). */
export const LAB_EPS: EpSpec[] = [
  { ns: 'tenant-a', name: 'web', iface: 'trla1', ip: '10.65.0.1', app: 'web' },
  { ns: 'tenant-a', name: 'client', iface: 'trla2', ip: '10.65.0.2', app: 'client' },
  { ns: 'tenant-b', name: 'web', iface: 'trlb1', ip: '10.65.1.1', app: 'web' },
  { ns: 'tenant-b', name: 'client', iface: 'trlb2', ip: '10.65.1.2', app: 'client' },
];

const tenantOf = (ns: string) => (ns === 'tenant-a' ? 'a' : 'b');

/**
 * The lab's policy, compiled by hand: profiles allow egress and ingress from the same
 * tenant; deny-ssh (order 10) denies TCP 22 then passes; tenant-a/web-from-tenant-b allows
 * TCP 80 from tenant b to tenant-a's web, then passes.
 */
export function labState(eps: EpSpec[] = LAB_EPS): DesiredState {
  const endpoints: EndpointState[] = eps.map((e) => ({
    id: `WorkloadEndpoint/${e.ns}/${e.name}`,
    namespace: e.ns,
    name: e.name,
    interfaceName: e.iface,
    addresses: [`${e.ip}/32`],
    ingress: {
      policies: [
        'GlobalNetworkPolicy/deny-ssh',
        ...(e.ns === 'tenant-a' && e.app === 'web' ? ['NetworkPolicy/tenant-a/web-from-tenant-b'] : []),
      ],
      profiles: [`Profile/${e.ns}`],
    },
    egress: { policies: [], profiles: [`Profile/${e.ns}`] },
    portMaps: [],
  })).sort((a, b) => a.id.localeCompare(b.id));
  const members = (t: string) => eps.filter((e) => tenantOf(e.ns) === t).map((e) => `${e.ip}/32`).sort();
  return {
    nodeName: 'node-1',
    endpoints,
    policies: [
      {
        id: 'GlobalNetworkPolicy/deny-ssh', order: 10, egress: [],
        ingress: [
          rule({ action: 'Deny', protocol: 6, dstPorts: [{ from: 22, to: 22 }], origin: 'GlobalNetworkPolicy deny-ssh ingress[0]' }),
          rule({ action: 'Pass', origin: 'GlobalNetworkPolicy deny-ssh ingress[1]' }),
        ],
      },
      {
        id: 'NetworkPolicy/tenant-a/web-from-tenant-b', order: null, egress: [],
        ingress: [
          rule({ action: 'Allow', protocol: 6, srcSets: ['tb'], dstPorts: [{ from: 80, to: 80 }], origin: 'NetworkPolicy tenant-a/web-from-tenant-b ingress[0]' }),
          rule({ action: 'Pass', origin: 'NetworkPolicy tenant-a/web-from-tenant-b ingress[1]' }),
        ],
      },
    ],
    profiles: ['a', 'b'].map((t) => ({
      id: `Profile/tenant-${t}`,
      ingress: [rule({ action: 'Allow', srcSets: [`t${t}`], origin: `Profile tenant-${t} ingress[0]` })],
      egress: [rule({ action: 'Allow', origin: `Profile tenant-${t} egress[0]` })],
    })),
    ipsets: [
      { id: 'ta', type: 'hash:net', key: 'sel:tenant == "a"', members: members('a') },
      { id: 'tb', type: 'hash:net', key: 'sel:tenant == "b"', members: members('b') },
    ],
    routes: eps.map((e) => ({ dst: `${e.ip}/32`, family: 4 as const, dev: e.iface })).sort((a, b) => a.dst.localeCompare(b.dst)),
    nat: { masqueradeSources: [], allPools: [] },
  };
}

/** Two profile ids whose ingress verdict chains (profile only, no policies) share a verdict id. */
export function collidingProfiles(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const profile = `Profile/p${i}`;
    const id = verdictId(verdictChain([], [profile], 'ingress'));
    const other = seen.get(id);
    if (other) return [other, profile];
    seen.set(id, profile);
  }
}
