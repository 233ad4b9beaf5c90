// Checks across fields that a schema of single fields cannot express, as Calico's
// validator makes them: a block size that does not fit its pool, a BGP peer named two
// ways, preDNAT without applyOnForward, one IP family per rule, and so on. (Rules' own
// protocol/port checks live in the rule schema in resources.ts.)
//
// They are applied to user input (YAML files), so that a mistake is refused with a
// message instead of being acted on. Values already stored are not refused for them by
// default: refusing a stored GlobalNetworkPolicy outright would drop its Deny rules too.
import { cidrFamily, isValidCidrOrIp, parseCidr } from './cidr.js';
import { hostBitsProblem } from './checks.js';
import type { FieldPath } from './issues.js';
import { communityProblem, type EndpointPort, type Resource, type Rule } from './resources.js';
import { enforcedOf, type StagedPolicy } from './staged.js';
import { isOnlyGlobal } from './selector/index.js';

export interface Problem { path: FieldPath; message: string }

function portsProblems(ports: EndpointPort[] | undefined): Problem[] {
  const out: Problem[] = [];
  const seen = new Map<string, number>();
  (ports ?? []).forEach((p, i) => {
    if (p.name !== '') {
      const key = `${p.name}/${String(p.protocol)}`;
      const prev = seen.get(key);
      if (prev !== undefined) out.push({ path: ['spec', 'ports', i, 'name'], message: `"${p.name}" (${String(p.protocol)}) is already the name of ports[${prev}]` });
      else seen.set(key, i);
    }
    if (p.hostIP !== undefined && p.hostPort === undefined) out.push({ path: ['spec', 'ports', i, 'hostIP'], message: 'needs hostPort (hostIP says which host address hostPort listens on)' });
  });
  return out;
}

const GLOBAL_HERE = 'global() can only be used in a rule\'s namespaceSelector';

/** Calico refuses global() by text: any "global(" in these selectors. */
function globalProblem(path: FieldPath, sel: string | undefined, what = GLOBAL_HERE): Problem[] {
  return sel !== undefined && sel.includes('global(') ? [{ path, message: what }] : [];
}

const NETS_FIELDS = [['source', 'nets'], ['source', 'notNets'], ['destination', 'nets'], ['destination', 'notNets']] as const;

function ruleProblems(rule: Rule, at: FieldPath): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<4 | 6>();
  for (const [side, field] of NETS_FIELDS) {
    const nets = rule[side]?.[field] ?? [];
    const here = new Set<4 | 6>();
    nets.forEach((n, i) => {
      if (!isValidCidrOrIp(n)) return;
      const path = [...at, side, field, i];
      if (!n.includes('/')) { out.push({ path, message: `"${n}" needs a prefix length (${n}/${cidrFamily(n) === 4 ? 32 : 128})` }); return; }
      const masked = hostBitsProblem(n);
      if (masked) { out.push({ path, message: masked }); return; }
      const c = parseCidr(n);
      here.add(c.family);
      if (field === 'notNets' && c.prefixLength === 0) out.push({ path, message: `"${n}" is every address: a rule with it in notNets can never match` });
      if (rule.ipVersion !== undefined && c.family !== rule.ipVersion) out.push({ path, message: `"${n}" is IPv${c.family} but the rule has ipVersion ${rule.ipVersion}` });
    });
    const path = [...at, side, field];
    if (here.size === 2) out.push({ path, message: 'mixes IPv4 and IPv6 CIDRs: a rule matches one IP family (write one rule per family)' });
    else if (here.size === 1 && seen.size === 1 && !seen.has([...here][0]!)) {
      const fam = [...here][0]!;
      out.push({ path, message: `is IPv${fam} but the rule's other nets are IPv${fam === 4 ? 6 : 4}: a rule matches one IP family (write one rule per family)` });
    }
    for (const f of here) seen.add(f);
  }
  for (const side of ['source', 'destination'] as const) {
    const e = rule[side];
    if (!e) continue;
    out.push(...globalProblem([...at, side, 'selector'], e.selector));
    if (e.namespaceSelector !== undefined && e.namespaceSelector.includes('global(') && !isOnlyGlobal(e.namespaceSelector)) {
      out.push({ path: [...at, side, 'namespaceSelector'], message: 'global() cannot be combined with anything else in a selector' });
    }
  }
  return out;
}

function rulesProblems(spec: { ingress?: Rule[]; egress?: Rule[] }): Problem[] {
  return (['ingress', 'egress'] as const).flatMap((dir) => (spec[dir] ?? []).flatMap((r, i) => ruleProblems(r, ['spec', dir, i])));
}

function typesProblems(types: readonly string[] | undefined): Problem[] {
  const out: Problem[] = [];
  (types ?? []).forEach((t, i) => {
    if (types!.indexOf(t) !== i) out.push({ path: ['spec', 'types', i], message: `"${t}" is listed more than once` });
  });
  return out;
}

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const SUBDOMAIN = `${LABEL}(\\.${LABEL})*`;
// Calico names policies more narrowly than other resources: a DNS label, or two joined
// by one dot (Calico's tier.name form); NetworkPolicies may also carry the prefixes
// Calico gives converted Kubernetes policies.
const NP_NAME_RE = new RegExp(`^((${LABEL})(\\.${LABEL})?|((knp|ossg)\\.default\\.(${SUBDOMAIN})))$`);
const GNP_NAME_RE = new RegExp(`^(${LABEL}\\.)?${LABEL}$`);

function policyNameProblem(name: string, re: RegExp): Problem[] {
  return re.test(name) ? [] : [{ path: ['metadata', 'name'], message: `"${name}" is not a policy name: lower-case letters, digits and "-" (at most one ".")` }];
}

const IP_WITH_PORT = /^(\[(?<v6>[^\]]+)\]|(?<v4>[0-9.]+)):(?<port>\d+)$/;
const DEFAULT_BLOCK = { 4: 26, 6: 122 } as const;

const TIER_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Calico's well-known tiers: their order and default action are fixed. */
export const WELL_KNOWN_TIERS: Readonly<Record<string, { order: number; defaultAction: 'Deny' | 'Pass' }>> = {
  default: { order: 1_000_000, defaultAction: 'Deny' },
  'kube-admin': { order: 1_000, defaultAction: 'Pass' },
  'kube-baseline': { order: 10_000_000, defaultAction: 'Pass' },
};

/** Calico names a policy of a tier other than default "TIER.NAME". */
function tierNameProblems(name: string, tier: string | undefined): Problem[] {
  const t = tier ?? 'default';
  const out: Problem[] = [];
  if (t.length > 63 || !TIER_NAME_RE.test(t)) out.push({ path: ['spec', 'tier'], message: `"${t}" is not a tier name: at most 63 lower-case letters, digits and "-"` });
  else if (t !== 'default' && !name.startsWith(`${t}.`)) out.push({ path: ['metadata', 'name'], message: `a policy of tier ${t} is named "${t}.NAME" (Calico's tiered policy naming), not "${name}"` });
  return out;
}

/** Problems across fields of a resource that has passed its schema. */
export function semanticProblems(r: Resource): Problem[] {
  switch (r.kind) {
    case 'Tier': {
      const out: Problem[] = [];
      if (r.metadata.name.length > 63 || !TIER_NAME_RE.test(r.metadata.name)) {
        out.push({ path: ['metadata', 'name'], message: `"${r.metadata.name}" is not a tier name: at most 63 lower-case letters, digits and "-" (no ".": tier names prefix policy names)` });
      }
      const known = WELL_KNOWN_TIERS[r.metadata.name];
      if (known && r.spec.order !== known.order) out.push({ path: ['spec', 'order'], message: `the ${r.metadata.name} tier's order is ${known.order}` });
      if (known && r.spec.defaultAction !== known.defaultAction) out.push({ path: ['spec', 'defaultAction'], message: `the ${r.metadata.name} tier's defaultAction is ${known.defaultAction}` });
      return out;
    }
    case 'NetworkPolicy':
      return [
        ...policyNameProblem(r.metadata.name, NP_NAME_RE),
        ...tierNameProblems(r.metadata.name, r.spec.tier),
        ...globalProblem(['spec', 'selector'], r.spec.selector),
        ...typesProblems(r.spec.types),
        ...rulesProblems(r.spec),
      ];
    case 'GlobalNetworkPolicy': {
      const out: Problem[] = [
        ...policyNameProblem(r.metadata.name, GNP_NAME_RE),
        ...tierNameProblems(r.metadata.name, r.spec.tier),
        ...globalProblem(['spec', 'selector'], r.spec.selector),
        ...globalProblem(['spec', 'namespaceSelector'], r.spec.namespaceSelector),
        ...typesProblems(r.spec.types),
      ];
      if ((r.spec.preDNAT || r.spec.doNotTrack) && r.spec.applyOnForward !== true) {
        out.push({ path: ['spec', 'applyOnForward'], message: `must be true when ${r.spec.preDNAT ? 'preDNAT' : 'doNotTrack'} is set (as in Calico)` });
      }
      if (r.spec.preDNAT && (r.spec.egress?.length ?? 0) > 0) out.push({ path: ['spec', 'egress'], message: 'preDNAT policies have ingress rules only' });
      if (r.spec.preDNAT && r.spec.types?.includes('Egress')) out.push({ path: ['spec', 'types'], message: 'preDNAT policies have type Ingress only' });
      if (r.spec.preDNAT && r.spec.doNotTrack) out.push({ path: ['spec', 'preDNAT'], message: 'preDNAT and doNotTrack cannot both be set' });
      out.push(...rulesProblems(r.spec));
      return out;
    }
    case 'StagedNetworkPolicy':
    case 'StagedGlobalNetworkPolicy': {
      // Calico: a staged Delete names its policy (and tier) only; any other is checked as
      // the policy it would put in force.
      const { stagedAction, tier: _tier, ...rest } = r.spec;
      if (stagedAction === 'Delete') {
        const set = Object.keys(rest).filter((k) => (rest as Record<string, unknown>)[k] !== undefined);
        return set.length === 0 ? [] : [{ path: ['spec', set[0]!], message: `must be left out with stagedAction Delete (only tier may be given: ${set.join(', ')} set)` }];
      }
      const { policy } = enforcedOf({ ...r, spec: { ...r.spec, stagedAction: 'Set' } } as StagedPolicy);
      return semanticProblems(policy!);
    }
    case 'Profile':
      return rulesProblems(r.spec);
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
      const prefix = parseCidr(r.spec.cidr).prefixLength;
      const out = globalProblem(['spec', 'nodeSelector'], r.spec.nodeSelector, 'global() cannot be used in an IPPool nodeSelector');
      const bs = r.spec.blockSize;
      const [lo, hi] = fam === 4 ? [20, 32] : [116, 128];
      if (bs !== undefined && (bs < lo || bs > hi)) {
        out.push({ path: ['spec', 'blockSize'], message: `${bs} is out of range ${lo}-${hi} for an IPv${fam} pool` });
      } else if (r.spec.disabled !== true && prefix > (bs ?? DEFAULT_BLOCK[fam])) {
        const what = bs === undefined ? `the default block size (/${DEFAULT_BLOCK[fam]})` : `its block size (/${bs})`;
        out.push({ path: ['spec', bs === undefined ? 'cidr' : 'blockSize'], message: `the pool (/${prefix}) is smaller than ${what}: IPAM hands out whole blocks, so a pool must hold at least one` });
      }
      if (fam === 6 && (r.spec.vxlanMode ?? 'Never') !== 'Never') {
        out.push({ path: ['spec', 'vxlanMode'], message: 'Trellis encapsulates IPv4 pools only: an IPv6 pool is routed natively (vxlanMode: Never)' });
      }
      return out;
    }
    case 'BGPPeer': {
      const out: Problem[] = [];
      const s = r.spec;
      if (s.node !== undefined && s.nodeSelector !== undefined) out.push({ path: ['spec', 'nodeSelector'], message: 'set node or nodeSelector, not both' });
      if (s.peerIP !== undefined && s.peerSelector !== undefined) out.push({ path: ['spec', 'peerSelector'], message: 'set peerIP or peerSelector, not both' });
      if (s.peerIP === undefined && s.peerSelector === undefined) out.push({ path: ['spec'], message: 'needs peerIP (with asNumber) or peerSelector' });
      if (s.peerSelector !== undefined && s.asNumber !== undefined) out.push({ path: ['spec', 'asNumber'], message: 'must be left out with peerSelector (each selected node peers with its own AS number)' });
      if (s.peerIP !== undefined) {
        const m = IP_WITH_PORT.exec(s.peerIP);
        const ip = m ? (m.groups?.v6 ?? m.groups?.v4 ?? '') : s.peerIP;
        const port = m ? Number(m.groups?.port) : 179;
        if (!isIp(ip) || port < 1 || port > 65535) out.push({ path: ['spec', 'peerIP'], message: `"${s.peerIP}" is not an IP address (optionally with a port: 192.0.2.1:1179, [2001:db8::1]:1179)` });
        if (s.asNumber === undefined) out.push({ path: ['spec', 'asNumber'], message: 'is required with peerIP' });
      }
      return out;
    }
    case 'BGPConfiguration': {
      const out: Problem[] = [];
      const s = r.spec;
      const names = new Set((s.communities ?? []).map((c) => c.name));
      if ((s.communities?.length ?? 0) > 0 && (s.prefixAdvertisements?.length ?? 0) === 0) {
        out.push({ path: ['spec', 'communities'], message: 'are defined but no prefixAdvertisements use them' });
      }
      (s.prefixAdvertisements ?? []).forEach((pa, i) => {
        const masked = isValidCidrOrIp(pa.cidr) ? hostBitsProblem(pa.cidr) : null;
        if (masked) out.push({ path: ['spec', 'prefixAdvertisements', i, 'cidr'], message: masked });
        pa.communities.forEach((c, j) => {
          if (!names.has(c) && communityProblem(c) !== null) {
            out.push({ path: ['spec', 'prefixAdvertisements', i, 'communities', j], message: `"${c}" is neither a community value (aa:nn, aa:nn:mm) nor the name of one in spec.communities` });
          }
        });
      });
      return out;
    }
    default:
      return [];
  }
}

function isIp(s: string): boolean {
  try { cidrFamily(s); return !s.includes('/'); } catch { return false; }
}
