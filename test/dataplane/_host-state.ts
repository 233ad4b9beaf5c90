// Hand-written DesiredState values for the host endpoint tests: three open containers (two
// tenants; their profile allows everything, so what is refused is the host's doing) and a
// host with the given host endpoints and host policies.
import type { CompiledRule, DesiredState, EndpointToHostAction, HostEndpointState, PolicyState } from '../../src/calc/index.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../../src/calc/index.js';
import { rule, type EpSpec } from './_state.js';

export const HOST_EPS: EpSpec[] = [
  { ns: 'tenant-a', name: 'web', iface: 'trla1', ip: '10.65.0.1', app: 'web' },
  { ns: 'tenant-a', name: 'client', iface: 'trla2', ip: '10.65.0.2', app: 'client' },
  { ns: 'tenant-b', name: 'client', iface: 'trlb2', ip: '10.65.1.2', app: 'client' },
];

/** A host endpoint with every list given (or empty). */
export function hep(name: string, interfaceName: string, lists: Partial<Omit<HostEndpointState, 'id' | 'name' | 'interfaceName' | 'addresses'>> = {}): HostEndpointState {
  return {
    id: `HostEndpoint/${name}`, name, interfaceName, addresses: [],
    ingress: { policies: [], profiles: [] }, egress: { policies: [], profiles: [] },
    forwardIngress: [], forwardEgress: [], preDnatIngress: [], untrackedIngress: [], untrackedEgress: [],
    ...lists,
  };
}

export const tcpRule = (action: CompiledRule['action'], port: number, origin: string, more: Partial<CompiledRule> = {}): CompiledRule =>
  rule({ action, protocol: 6, dstPorts: [{ from: port, to: port }], origin, ...more });

export function policy(name: string, ingress: CompiledRule[], egress: CompiledRule[] = [], flags: Partial<PolicyState> = {}): PolicyState {
  return { id: `GlobalNetworkPolicy/${name}`, order: null, ingress, egress, ...flags };
}

export interface HostLabOptions {
  heps?: HostEndpointState[];
  policies?: PolicyState[];
  endpointToHost?: EndpointToHostAction;
  portMaps?: boolean;
}

export function hostLabState(o: HostLabOptions = {}): DesiredState {
  const endpoints = HOST_EPS.map((e) => ({
    id: `WorkloadEndpoint/${e.ns}/${e.name}`, namespace: e.ns, name: e.name, interfaceName: e.iface, addresses: [`${e.ip}/32`],
    ingress: { policies: [], profiles: ['Profile/open'] }, egress: { policies: [], profiles: ['Profile/open'] },
    portMaps: o.portMaps && e.iface === 'trla1' ? [{ protocol: 'tcp' as const, hostPort: 8080, containerIP: e.ip, containerPort: 80 }] : [],
  })).sort((a, b) => a.id.localeCompare(b.id));
  const members = (ns: string) => HOST_EPS.filter((e) => e.ns === ns).map((e) => `${e.ip}/32`).sort();
  return {
    nodeName: 'node-1',
    endpoints,
    policies: [],
    profiles: [{
      id: 'Profile/open',
      ingress: [rule({ action: 'Allow', origin: 'Profile open ingress[0]' })],
      egress: [rule({ action: 'Allow', origin: 'Profile open egress[0]' })],
    }],
    ipsets: [
      { id: 'ta', type: 'hash:net', key: 'sel:ns == "tenant-a"', members: members('tenant-a') },
      { id: 'tb', type: 'hash:net', key: 'sel:ns == "tenant-b"', members: members('tenant-b') },
    ],
    routes: HOST_EPS.map((e) => ({ dst: `${e.ip}/32`, family: 4 as const, dev: e.iface })).sort((a, b) => a.dst.localeCompare(b.dst)),
    nat: { masqueradeSources: [], allPools: [] },
    host: {
      endpoints: o.heps ?? [],
      policies: (o.policies ?? []).sort((a, b) => a.id.localeCompare(b.id)),
      failsafe: { inbound: [...DEFAULT_FAILSAFE_INBOUND], outbound: [...DEFAULT_FAILSAFE_OUTBOUND] },
      endpointToHost: o.endpointToHost ?? 'Drop',
    },
  };
}
