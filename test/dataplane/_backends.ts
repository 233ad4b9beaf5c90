// Every policy backend, with what the shared suites (_packet-suite.ts, _agreement-suite.ts)
// need to know of it beyond the contract: how to break its objects behind its back (drift),
// how to plant a foreign tool's objects beside them, what its ruleset looks like, and the
// counts it reports for the suites' fixed scenarios. A backend in POLICY_BACKENDS without a
// case here fails the suites (every backend is tested).
import type { Netns } from '../../src/lab/index.js';
import { POLICY_BACKENDS, type ApplyCounts, type PolicyBackendFactory } from '../../src/dataplane/index.js';
import { policyChain } from '../../src/dataplane/iptables/index.js';

export interface BackendCase {
  name: string;
  create: PolicyBackendFactory;
  /** Removes one policy's ingress rules, empties one set and unhooks forwarded traffic, behind the dataplane's back. */
  drift(host: Netns, o: { policyId: string; setId: string }): Promise<void>;
  /** The counts a resync reports repairing exactly that drift. */
  driftRepair: Partial<ApplyCounts>;
  /** Plants another tool's filtering objects (as Docker's), before Trellis's first write. */
  plantForeign(host: Netns): Promise<void>;
  /** Which of the planted objects are gone or broken, and whether Trellis's hooks come first (a list of failures). */
  foreignIntact(host: Netns): Promise<string[]>;
  /** The backend's ruleset (every table and family it writes) as text. */
  dump(host: Netns): Promise<string>;
  /** Names in the dump once an interface dispatch outgrows one chain (past 16 endpoints on trla*). */
  dispatchBranches: string[];
  /** The dump shows `iface`'s ingress running its verdict itself (its id is shared). */
  runsOwnVerdict(iface: string): RegExp;
  /** A name the dump holds while the endpoint on `iface` exists. */
  endpointObject(iface: string): string;
  /** Counts of a policy edit that changes one IPv4 profile only (no IPv6 addresses in the lab). */
  oneProfileEdit: Partial<ApplyCounts>;
  /** Counts of removing one IPv4-only endpoint. */
  oneEndpointRemoved: Partial<ApplyCounts>;
  /** What another tool's careless "flush everything" does to this backend's filtering (as `iptables -F`). */
  foreignFlush(host: Netns): Promise<void>;
  /** Removes the hooks that send traffic into the backend's filtering (the jumps from the built-in chains). */
  unhookAll(host: Netns): Promise<void>;
}

const iptables: BackendCase = {
  name: 'iptables',
  create: POLICY_BACKENDS.iptables!,
  async drift(host, o) {
    await host.run(['iptables', '-F', policyChain(o.policyId, 'ingress')]);
    await host.run(['ipset', 'flush', `trl4-${o.setId}`]);
    await host.run(['iptables', '-D', 'FORWARD', '-j', 'trl-forward']);
  },
  driftRepair: { chainsWritten: 1, chainsDeleted: 0, jumpsFixed: 1, setsUpdated: 1, setsCreated: 0, membersAdded: 2 },
  async plantForeign(host) {
    for (const argv of [
      ['iptables', '-N', 'DOCKER'], ['iptables', '-A', 'DOCKER', '-j', 'RETURN'], ['iptables', '-A', 'FORWARD', '-j', 'DOCKER'],
      ['iptables', '-t', 'nat', '-N', 'DOCKER'], ['iptables', '-t', 'nat', '-A', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'],
      ['ipset', 'create', 'docker-x', 'hash:net'], ['ipset', 'add', 'docker-x', '172.17.0.0/16'],
    ]) await host.run(argv);
  },
  async foreignIntact(host) {
    const failures: string[] = [];
    const filter = await host.run(['iptables-save', '-t', 'filter']);
    if (!filter.includes(':DOCKER - ')) failures.push('DOCKER chain gone');
    if (!filter.includes('-A DOCKER -j RETURN')) failures.push('DOCKER rule gone');
    if (!filter.includes('-A FORWARD -j DOCKER')) failures.push('FORWARD -> DOCKER gone');
    const fwd = filter.split('\n').filter((l) => l.startsWith('-A FORWARD'));
    if (fwd[0] !== '-A FORWARD -j trl-forward') failures.push(`our jump is not first: ${fwd[0]}`);
    if (fwd.filter((l) => l.includes('trl-')).length !== 1) failures.push('not exactly one jump of ours in FORWARD');
    const nat = await host.run(['iptables-save', '-t', 'nat']);
    if (!nat.includes('-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER')) failures.push('nat DOCKER jump gone');
    if (!(await host.run(['ipset', 'list', '-n'])).includes('docker-x')) failures.push('foreign set gone');
    return failures;
  },
  // Without the save's time stamps and chain counters: two dumps of one ruleset are one text.
  dump: async (host) => [await host.run(['iptables-save']), await host.run(['ip6tables-save'])].join('\n')
    .split('\n').filter((l) => !l.startsWith('# ')).map((l) => l.replace(/ \[\d+:\d+\]$/, ' [0:0]')).join('\n'),
  dispatchBranches: ['trl-from-wl-trla', 'trl-from-wl-trla1', 'trl-to-wl-trla2'].map((c) => `:${c} `),
  runsOwnVerdict: (iface) => new RegExp(`-A trl-tw-${iface} -j trl-vi-`),
  endpointObject: (iface) => `trl-tw-${iface}`,
  oneProfileEdit: { chainsWritten: 1, setsDeleted: 0, writeCommands: 1 },
  oneEndpointRemoved: { chainsDeleted: 2, membersDeleted: 1 },
  async foreignFlush(host) {
    await host.run(['iptables', '-F']);
    await host.run(['ip6tables', '-F']);
  },
  async unhookAll(host) {
    for (const hook of ['FORWARD', 'INPUT', 'OUTPUT']) await host.run(['iptables', '-D', hook, '-j', `trl-${hook.toLowerCase()}`]);
  },
};

const CASES: Record<string, BackendCase> = { iptables };

/** One case per backend the dataplane has. */
export function backendCases(): BackendCase[] {
  return Object.keys(POLICY_BACKENDS).map((name) => {
    const c = CASES[name];
    if (!c) throw new Error(`policy backend ${name} has no test case in test/dataplane/_backends.ts: add one so the shared suites run against it`);
    return c;
  });
}

/** The fields of `want` whose values `got` does not have, as "field: got x, want y". */
export function countMismatches(got: ApplyCounts, want: Partial<ApplyCounts>): string[] {
  return (Object.entries(want) as Array<[keyof ApplyCounts, number]>).filter(([k, v]) => got[k] !== v).map(([k, v]) => `${k}: got ${got[k]}, want ${v}`);
}
