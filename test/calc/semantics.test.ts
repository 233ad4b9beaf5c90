// Calico's policy semantics, table-driven: each case is a small resource set and flows
// whose verdict and deciding rule (or default) are checked through explainFlow, which
// evaluates the DesiredState the dataplane renders.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explainFlow, type Verdict, type ExplainInput } from '../../src/calc/index.js';
import type { Resource } from '../../src/model/index.js';
import { gnp, hep, namespace, np, profile, tenants, wep } from './_fixtures.js';

const decider = (v: Verdict | undefined): string => !v ? '(none)' : v.decidedBy.kind === 'rule' ? v.decidedBy.hit.origin : v.decidedBy.reason;

interface Flow {
  from: string; to: string; proto?: string; port?: number; icmp?: { type: number; code?: number }; ipVersion?: 4 | 6;
  allowed: boolean;
  /** Expected decider of the ingress side (a rule origin or a default reason). */
  ingress?: string;
  egress?: string;
  logged?: string[];
  passedBy?: string;
}
interface Case { name: string; resources: Resource[]; flows: Flow[] }

// Two namespaces with a client and a server each, on two nodes; no policy, no profile.
const base = (): Resource[] => [
  namespace('ns1', { team: 'x' }), namespace('ns2', { team: 'y' }),
  wep('ns1', 'cli', { node: 'n1', ip: ['10.1.0.1/32', 'fd00::1/128'], labels: { role: 'cli' } }),
  wep('ns1', 'srv', { node: 'n2', ip: ['10.1.0.2/32', 'fd00::2/128'], labels: { role: 'srv' }, ports: [{ name: 'http', protocol: 'TCP', port: 8080 }, { name: 'dns', protocol: 'UDP', port: 5353 }] }),
  wep('ns2', 'cli', { node: 'n1', ip: '10.2.0.1/32', labels: { role: 'cli' } }),
  wep('ns2', 'srv', { node: 'n2', ip: '10.2.0.2/32', labels: { role: 'srv' }, ports: [{ name: 'http', protocol: 'TCP', port: 9090 }] }),
];
const allowAll = profile('open', { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] });
/** base() with every endpoint given profile 'open'. */
const openBase = (): Resource[] => [allowAll, ...base().map((r) => r.kind === 'WorkloadEndpoint' ? { ...r, spec: { ...r.spec, profiles: ['open'] } } as Resource : r)];
const egressOpen = gnp('egress-open', { order: 1000, selector: 'all()', types: ['Egress'], egress: [{ action: 'Allow' }] });

const cases: Case[] = [
  {
    name: 'no policy and no profile: default deny both ways',
    resources: base(),
    flows: [{ from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: false, ingress: 'no policy and no profile: default deny', egress: 'no policy and no profile: default deny' }],
  },
  {
    name: 'no policy -> profiles decide',
    resources: openBase(),
    flows: [{ from: 'ns1/cli', to: 'ns2/srv', port: 80, allowed: true, ingress: 'Profile open ingress[0]', egress: 'Profile open egress[0]' }],
  },
  {
    name: 'policy applies but no rule matches -> deny, profiles not consulted',
    resources: [...openBase(), np('ns1', 'only-443', { selector: 'role == "srv"', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [443] } }] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: false, ingress: 'policies applied but no rule matched: default deny' },
      { from: 'ns1/cli', to: 'ns1/srv', port: 443, allowed: true, ingress: 'NetworkPolicy ns1/only-443 ingress[0]' },
      // types defaulted to Ingress only: egress of the server is still the profile's
      { from: 'ns1/srv', to: 'ns2/srv', port: 80, allowed: true, egress: 'Profile open egress[0]' },
    ],
  },
  {
    name: 'lower order Deny beats a later Allow; equal order sorts by name',
    resources: [...openBase(),
      gnp('b-allow', { order: 100, selector: 'role == "srv"', ingress: [{ action: 'Allow' }] }),
      gnp('a-deny', { order: 100, selector: 'role == "srv"', ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }] }),
      gnp('z-first', { order: 1, selector: 'role == "srv"', ingress: [{ action: 'Deny', protocol: 'UDP' }] }),
    ],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 22, allowed: false, ingress: 'GlobalNetworkPolicy a-deny ingress[0]' },
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'GlobalNetworkPolicy b-allow ingress[0]' },
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'UDP', port: 53, allowed: false, ingress: 'GlobalNetworkPolicy z-first ingress[0]' },
    ],
  },
  {
    name: 'absent order comes after every numbered order',
    resources: [...openBase(),
      gnp('aaa-unordered', { selector: 'all()', ingress: [{ action: 'Deny' }] }),
      gnp('zzz-ordered', { order: 5000, selector: 'all()', ingress: [{ action: 'Allow' }] }),
    ],
    flows: [{ from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'GlobalNetworkPolicy zzz-ordered ingress[0]' }],
  },
  {
    name: 'Pass skips the remaining policies and goes to the profiles',
    resources: [...openBase(),
      gnp('first', { order: 1, selector: 'all()', ingress: [{ action: 'Pass', source: { selector: 'role == "cli"' } }] }),
      gnp('second', { order: 2, selector: 'all()', ingress: [{ action: 'Deny' }] }),
    ],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'Profile open ingress[0]', passedBy: 'GlobalNetworkPolicy first ingress[0]' },
      { from: 'ns1/srv', to: 'ns2/srv', port: 80, allowed: false, ingress: 'GlobalNetworkPolicy second ingress[0]' },
    ],
  },
  {
    name: 'Pass with no profile -> deny',
    resources: [...base(), gnp('pass', { selector: 'all()', ingress: [{ action: 'Pass' }], egress: [{ action: 'Allow' }] })],
    flows: [{ from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: false, ingress: 'passed to profiles, but the endpoint has none: default deny', egress: 'GlobalNetworkPolicy pass egress[0]' }],
  },
  {
    name: 'Log continues to the next rule',
    resources: [...openBase(), gnp('log', { selector: 'all()', ingress: [{ action: 'Log' }, { action: 'Deny', protocol: 'TCP', destination: { ports: [23] } }, { action: 'Log', protocol: 'UDP' }, { action: 'Allow' }] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 23, allowed: false, ingress: 'GlobalNetworkPolicy log ingress[1]', logged: ['GlobalNetworkPolicy log ingress[0]'] },
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'GlobalNetworkPolicy log ingress[3]', logged: ['GlobalNetworkPolicy log ingress[0]'] },
    ],
  },
  {
    name: 'types absent: egress-only rules make an Egress-only policy; both rule kinds make both',
    resources: [...openBase(),
      gnp('eg-only', { order: 1, selector: 'role == "cli"', egress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [25] } }] }),
      gnp('both', { order: 2, selector: 'role == "srv"', ingress: [{ action: 'Allow' }], egress: [{ action: 'Deny' }] }),
    ],
    flows: [
      { from: 'ns1/cli', to: 'ns2/cli', port: 25, allowed: false, egress: 'GlobalNetworkPolicy eg-only egress[0]' },
      // eg-only does not apply to ingress of cli: the profile decides; cli's egress (80) has no matching rule -> deny
      { from: 'ns1/cli', to: 'ns2/cli', port: 80, allowed: false, ingress: 'Profile open ingress[0]', egress: 'policies applied but no rule matched: default deny' },
      { from: 'ns1/srv', to: 'ns2/srv', port: 80, allowed: false, ingress: 'GlobalNetworkPolicy both ingress[0]', egress: 'GlobalNetworkPolicy both egress[0]' },
    ],
  },
  {
    name: 'explicit types: Ingress without ingress rules denies ingress; listed egress rules ignored without Egress',
    resources: [...openBase(), gnp('lockdown', { selector: 'role == "srv"', types: ['Ingress'], egress: [{ action: 'Deny' }] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: false, ingress: 'policies applied but no rule matched: default deny' },
      { from: 'ns1/srv', to: 'ns2/cli', port: 80, allowed: true, egress: 'Profile open egress[0]' },
    ],
  },
  {
    name: 'NetworkPolicy: applies only in its namespace; rule selectors default to its namespace',
    resources: [...base(), egressOpen, np('ns1', 'srv-from-cli', { selector: 'role == "srv"', ingress: [{ action: 'Allow', source: { selector: 'role == "cli"' } }] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'NetworkPolicy ns1/srv-from-cli ingress[0]' },
      { from: 'ns2/cli', to: 'ns1/srv', port: 80, allowed: false, ingress: 'policies applied but no rule matched: default deny' },
      { from: 'ns1/cli', to: 'ns2/srv', port: 80, allowed: false, ingress: 'no policy and no profile: default deny' },
    ],
  },
  {
    name: 'GlobalNetworkPolicy: rule selectors match every namespace; namespaceSelector narrows',
    resources: [...base(), egressOpen,
      gnp('srv-from-any-cli', { order: 2, selector: 'role == "srv"', ingress: [{ action: 'Allow', source: { selector: 'role == "cli"' } }] }),
      gnp('ns2-srv-deny-x', { order: 1, selector: 'role == "srv"', namespaceSelector: 'team == "y"', ingress: [{ action: 'Deny', source: { namespaceSelector: 'team == "x"' } }, { action: 'Pass' }] }),
    ],
    flows: [
      { from: 'ns2/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'GlobalNetworkPolicy srv-from-any-cli ingress[0]' },
      { from: 'ns1/cli', to: 'ns2/srv', port: 80, allowed: false, ingress: 'GlobalNetworkPolicy ns2-srv-deny-x ingress[0]' },
      { from: 'ns2/cli', to: 'ns2/srv', port: 80, allowed: false, ingress: 'passed to profiles, but the endpoint has none: default deny' },
    ],
  },
  {
    name: 'NetworkPolicy rule namespaceSelector: allow a port from a selected namespace',
    resources: [...base(), egressOpen, np('ns1', 'from-y', { selector: 'role == "srv"', ingress: [{ action: 'Allow', protocol: 'TCP', source: { namespaceSelector: 'team == "y"', selector: 'role == "cli"' }, destination: { ports: [80, '8000:8100'] } }] })],
    flows: [
      { from: 'ns2/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'NetworkPolicy ns1/from-y ingress[0]' },
      { from: 'ns2/cli', to: 'ns1/srv', port: 8050, allowed: true, ingress: 'NetworkPolicy ns1/from-y ingress[0]' },
      { from: 'ns2/cli', to: 'ns1/srv', port: 8101, allowed: false },
      { from: 'ns2/srv', to: 'ns1/srv', port: 80, allowed: false },
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: false },
    ],
  },
  {
    name: 'namespaceSelector on projectcalico.org/name and on a missing label',
    resources: [...base(), egressOpen, np('ns1', 'by-name', { selector: 'role == "srv"', ingress: [{ action: 'Allow', source: { namespaceSelector: 'projectcalico.org/name == "ns2"' } }] })],
    flows: [
      { from: 'ns2/cli', to: 'ns1/srv', port: 80, allowed: true },
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: false },
    ],
  },
  {
    name: 'notSelector is not namespaced; notNets and notPorts exclude',
    resources: [...base(), egressOpen, gnp('nots', { selector: 'role == "srv"', ingress: [
      { action: 'Allow', protocol: 'TCP', source: { notSelector: 'role == "srv"', notNets: ['10.2.0.0/16'] }, destination: { notPorts: [22, '6000:6999'] } },
    ] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: true, ingress: 'GlobalNetworkPolicy nots ingress[0]' },
      { from: 'ns1/cli', to: 'ns1/srv', port: 22, allowed: false },
      { from: 'ns1/cli', to: 'ns1/srv', port: 6500, allowed: false },
      { from: 'ns2/cli', to: 'ns1/srv', port: 80, allowed: false },
      { from: 'ns2/srv', to: 'ns1/srv', port: 80, allowed: false },
    ],
  },
  {
    name: 'nets from outside the cluster: no egress side',
    resources: [...base(), gnp('ext', { selector: 'role == "srv"', ingress: [{ action: 'Allow', source: { nets: ['192.0.2.0/24'] } }] })],
    flows: [
      { from: '192.0.2.7', to: 'ns1/srv', port: 80, allowed: true, ingress: 'GlobalNetworkPolicy ext ingress[0]', egress: '(none)' },
      { from: '198.51.100.7', to: 'ns1/srv', port: 80, allowed: false, egress: '(none)' },
    ],
  },
  {
    name: 'a source address that belongs to an endpoint is that endpoint: its egress policy applies',
    resources: [...base(), gnp('ext', { selector: 'all()', ingress: [{ action: 'Allow' }], egress: [{ action: 'Deny' }] })],
    flows: [{ from: '10.1.0.1', to: 'ns1/srv', port: 80, allowed: false, ingress: 'GlobalNetworkPolicy ext ingress[0]', egress: 'GlobalNetworkPolicy ext egress[0]' }],
  },
  {
    name: 'named ports resolve per endpoint and protocol',
    resources: [...base(), egressOpen, gnp('named', { selector: 'role == "srv"', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['http'] } }] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 8080, allowed: true, ingress: 'GlobalNetworkPolicy named ingress[0]' },
      { from: 'ns1/cli', to: 'ns2/srv', port: 9090, allowed: true },
      { from: 'ns1/cli', to: 'ns2/srv', port: 8080, allowed: false },
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'UDP', port: 8080, allowed: false },
    ],
  },
  {
    name: 'named port on an egress destination restricted by the destination selector',
    resources: [...openBase(), gnp('cli-out', { selector: 'role == "cli"', egress: [{ action: 'Allow', protocol: 'UDP', destination: { selector: 'role == "srv"', ports: ['dns'] } }] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'UDP', port: 5353, allowed: true, egress: 'GlobalNetworkPolicy cli-out egress[0]' },
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'TCP', port: 5353, allowed: false },
    ],
  },
  {
    name: 'ICMP type/code and ipVersion',
    resources: [...base(), egressOpen, gnp('icmp', { selector: 'role == "srv"', ingress: [
      { action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 } },
      { action: 'Allow', protocol: 'ICMPv6', notICMP: { type: 128 } },
      { action: 'Allow', ipVersion: 6, protocol: 'TCP', destination: { ports: [443] } },
    ] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'ICMP', icmp: { type: 8, code: 0 }, allowed: true, ingress: 'GlobalNetworkPolicy icmp ingress[0]' },
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'ICMP', icmp: { type: 8, code: 1 }, allowed: false },
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'ICMPv6', icmp: { type: 129 }, allowed: true, ingress: 'GlobalNetworkPolicy icmp ingress[1]' },
      { from: 'ns1/cli', to: 'ns1/srv', proto: 'ICMPv6', icmp: { type: 128 }, allowed: false },
      { from: 'ns1/cli', to: 'ns1/srv', port: 443, ipVersion: 6, allowed: true, ingress: 'GlobalNetworkPolicy icmp ingress[2]' },
      { from: 'ns1/cli', to: 'ns1/srv', port: 443, ipVersion: 4, allowed: false },
    ],
  },
  {
    name: 'nets of one family imply ipVersion',
    resources: [...base(), egressOpen, gnp('v6', { selector: 'role == "srv"', ingress: [{ action: 'Allow', source: { nets: ['fd00::/64'] } }] })],
    flows: [
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, ipVersion: 6, allowed: true },
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, ipVersion: 4, allowed: false },
    ],
  },
  {
    name: 'profile labelsToApply feed selectors; Pass in a profile moves to the next profile',
    resources: [
      ...base().map((r) => r.kind === 'WorkloadEndpoint' && r.metadata.name === 'cli' && r.metadata.namespace === 'ns1' ? { ...r, spec: { ...r.spec, profiles: ['tagged'] } } as Resource : r),
      profile('tagged', { labelsToApply: { trusted: 'yes' }, egress: [{ action: 'Allow' }] }),
      profile('first', { ingress: [{ action: 'Pass', source: { selector: 'trusted == "yes"' } }, { action: 'Deny' }] }),
      profile('second', { ingress: [{ action: 'Allow' }] }),
      ...[wep('ns1', 'guarded', { node: 'n2', ip: '10.1.0.9/32', profiles: ['first', 'second'] })],
    ],
    flows: [
      { from: 'ns1/cli', to: 'ns1/guarded', port: 80, allowed: true, ingress: 'Profile second ingress[0]' },
      { from: '10.2.0.1', to: 'ns1/guarded', port: 80, allowed: false, ingress: 'Profile first ingress[1]' },
    ],
  },
  {
    name: 'host endpoints are set members; namespaceSelector: global() picks them, others do not',
    resources: [...base(), egressOpen, hep('host1', { ips: ['10.9.0.1'], labels: { role: 'cli' } }),
      gnp('from-hosts', { order: 1, selector: 'role == "srv"', ingress: [{ action: 'Allow', source: { namespaceSelector: 'global()' } }, { action: 'Deny', source: { namespaceSelector: 'all()' } }, { action: 'Allow', source: { selector: 'role == "cli"' } }] })],
    flows: [
      { from: '10.9.0.1', to: 'ns1/srv', port: 80, allowed: true, ingress: 'GlobalNetworkPolicy from-hosts ingress[0]' },
      { from: 'ns1/cli', to: 'ns1/srv', port: 80, allowed: false, ingress: 'GlobalNetworkPolicy from-hosts ingress[1]' },
    ],
  },
  {
    name: 'fail closed: a named notPort widens a Deny and disables an Allow',
    resources: [...openBase(), gnp('weird', { order: 1, selector: 'role == "srv"', ingress: [
      { action: 'Allow', protocol: 'TCP', source: { selector: 'role == "srv"' }, destination: { notPorts: ['http'] } },
      { action: 'Deny', protocol: 'TCP', destination: { notPorts: ['http', 443] } },
      { action: 'Allow' },
    ] })],
    flows: [
      // Allow[0] would match srv -> srv:80 in Calico; it cannot be rendered, so it never matches; Deny[1] covers 8080 too
      { from: 'ns1/srv', to: 'ns2/srv', port: 80, allowed: false, ingress: 'GlobalNetworkPolicy weird ingress[1]' },
      { from: 'ns1/cli', to: 'ns1/srv', port: 8080, allowed: false, ingress: 'GlobalNetworkPolicy weird ingress[1]' },
      { from: 'ns1/cli', to: 'ns1/srv', port: 443, allowed: true, ingress: 'GlobalNetworkPolicy weird ingress[2]' },
    ],
  },
  {
    name: 'the brief\'s tenant lab (literal): deny-ssh\'s Pass sends everything to the profiles before web-from-tenant-b',
    resources: tenants(),
    flows: [
      { from: 'tenant-a/client', to: 'tenant-a/web', port: 80, allowed: true, ingress: 'Profile tenant-a ingress[0]', passedBy: 'GlobalNetworkPolicy deny-ssh ingress[1]' },
      { from: 'tenant-b/client', to: 'tenant-a/web', port: 80, allowed: false, ingress: 'no profile rule matched: default deny', passedBy: 'GlobalNetworkPolicy deny-ssh ingress[1]' },
      { from: 'tenant-a/client', to: 'tenant-a/web', port: 22, allowed: false, ingress: 'GlobalNetworkPolicy deny-ssh ingress[0]' },
    ],
  },
];

for (const c of cases) {
  test(c.name, () => {
    for (const f of c.flows) {
      const what = `${f.from} -> ${f.to} ${f.proto ?? 'TCP'}${f.port !== undefined ? `/${f.port}` : ''}${f.ipVersion ? ` v${f.ipVersion}` : ''}`;
      const input: ExplainInput = {
        resources: c.resources,
        from: /^[\d.:a-f]+(\/\d+)?$/.test(f.from) ? { cidr: f.from } : { endpoint: f.from },
        to: { endpoint: f.to }, protocol: f.proto ?? 'TCP',
      };
      if (f.port !== undefined) input.port = f.port;
      if (f.icmp) input.icmp = f.icmp;
      if (f.ipVersion) input.ipVersion = f.ipVersion;
      const r = explainFlow(input);
      assert.is(r.allowed, f.allowed, `${what}: allowed`);
      if (f.ingress !== undefined) assert.is(decider(r.ingress), f.ingress, `${what}: ingress decided by`);
      if (f.egress !== undefined) assert.is(decider(r.egress), f.egress, `${what}: egress decided by`);
      if (f.logged) assert.equal(r.ingress.logged.map((l) => l.origin), f.logged, `${what}: Log rules hit`);
      if (f.passedBy) assert.is(r.ingress.passedBy?.origin, f.passedBy, `${what}: passed by`);
    }
  });
}

test.run();
