// Checks across fields that a schema of single fields cannot express, as Calico's
// validator makes them: a block size that does not fit its pool, a BGP peer named two
// ways, preDNAT without applyOnForward, and so on. (Rules' own cross-field checks live in
// the rule schema in resources.ts.)
//
// They are applied to user input (YAML files), so that a mistake is refused with a
// message instead of being acted on. Values already stored are not refused for them by
// default: refusing a stored GlobalNetworkPolicy outright would drop its Deny rules too.
import { cidrFamily } from './cidr.js';
import type { FieldPath } from './issues.js';
import type { EndpointPort, Resource } from './resources.js';

export interface Problem { path: FieldPath; message: string }

function portsProblems(ports: EndpointPort[] | undefined): Problem[] {
  const out: Problem[] = [];
  const seen = new Map<string, number>();
  (ports ?? []).forEach((p, i) => {
    const key = `${p.name}/${String(p.protocol)}`;
    const prev = seen.get(key);
    if (prev !== undefined) out.push({ path: ['spec', 'ports', i, 'name'], message: `"${p.name}" (${String(p.protocol)}) is already the name of ports[${prev}]` });
    else seen.set(key, i);
    if (p.hostIP !== undefined && p.hostPort === undefined) out.push({ path: ['spec', 'ports', i, 'hostIP'], message: 'needs hostPort (hostIP says which host address hostPort listens on)' });
  });
  return out;
}

const IP_WITH_PORT = /^(\[(?<v6>[^\]]+)\]|(?<v4>[0-9.]+)):(?<port>\d+)$/;

/** Problems across fields of a resource that has passed its schema. */
export function semanticProblems(r: Resource): Problem[] {
  switch (r.kind) {
    case 'GlobalNetworkPolicy': {
      const out: Problem[] = [];
      if ((r.spec.preDNAT || r.spec.doNotTrack) && r.spec.applyOnForward !== true) {
        out.push({ path: ['spec', 'applyOnForward'], message: `must be true when ${r.spec.preDNAT ? 'preDNAT' : 'doNotTrack'} is set (as in Calico)` });
      }
      if (r.spec.preDNAT && (r.spec.egress?.length ?? 0) > 0) out.push({ path: ['spec', 'egress'], message: 'preDNAT policies have ingress rules only' });
      if (r.spec.preDNAT && r.spec.doNotTrack) out.push({ path: ['spec', 'preDNAT'], message: 'preDNAT and doNotTrack cannot both be set' });
      return out;
    }
    case 'WorkloadEndpoint':
    case 'HostEndpoint': {
      const out = portsProblems(r.spec.ports);
      if (r.kind === 'HostEndpoint' && r.spec.interfaceName === undefined && (r.spec.expectedIPs?.length ?? 0) === 0) {
        out.push({ path: ['spec'], message: 'needs interfaceName or expectedIPs (which interface is this?)' });
      }
      return out;
    }
    case 'IPPool': {
      const fam = cidrFamily(r.spec.cidr);
      const prefix = Number(r.spec.cidr.split('/')[1] ?? (fam === 4 ? 32 : 128));
      const bs = r.spec.blockSize;
      if (bs === undefined) return [];
      const [lo, hi] = fam === 4 ? [20, 32] : [116, 128];
      if (bs < lo || bs > hi) return [{ path: ['spec', 'blockSize'], message: `${bs} is out of range ${lo}-${hi} for an IPv${fam} pool` }];
      if (bs < prefix) return [{ path: ['spec', 'blockSize'], message: `${bs} is larger than the pool itself (/${prefix}): a block must fit in the pool` }];
      return [];
    }
    case 'BGPPeer': {
      const out: Problem[] = [];
      const s = r.spec;
      if (s.node !== undefined && s.nodeSelector !== undefined) out.push({ path: ['spec', 'nodeSelector'], message: 'set node or nodeSelector, not both' });
      if (s.peerIP !== undefined && s.peerSelector !== undefined) out.push({ path: ['spec', 'peerSelector'], message: 'set peerIP or peerSelector, not both' });
      if (s.peerIP === undefined && s.peerSelector === undefined) out.push({ path: ['spec'], message: 'needs peerIP (with asNumber) or peerSelector' });
      if (s.peerIP !== undefined) {
        const m = IP_WITH_PORT.exec(s.peerIP);
        const ip = m ? (m.groups?.v6 ?? m.groups?.v4 ?? '') : s.peerIP;
        const port = m ? Number(m.groups?.port) : 179;
        if (!isIp(ip) || port < 1 || port > 65535) out.push({ path: ['spec', 'peerIP'], message: `"${s.peerIP}" is not an IP address (optionally with a port: 192.0.2.1:1179, [2001:db8::1]:1179)` });
        if (s.asNumber === undefined) out.push({ path: ['spec', 'asNumber'], message: 'is required with peerIP' });
      }
      return out;
    }
    default:
      return [];
  }
}

function isIp(s: string): boolean {
  try { cidrFamily(s); return !s.includes('/'); } catch { return false; }
}
