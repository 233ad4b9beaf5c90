// Host endpoints -> iptables chains (pure): the host's own traffic through its interfaces,
// forwarded traffic (applyOnForward), preDNAT (mangle) and doNotTrack (raw), after Calico's
// packet paths. Returned as plain chain bodies; render.ts hashes them into ChainSpecs and
// places the hook rules around the workload ones.
//
//   raw PREROUTING/OUTPUT  trl-raw-pre / trl-raw-out: -i/-o <hep> -g trl-hui-/trl-huo-<if>:
//                          failsafes (ACCEPT), then the doNotTrack policies; one that allows
//                          goes to trl-untracked (NOTRACK, MARK_ACCEPT kept, ACCEPT); a
//                          packet none decides goes on unmarked. filter then accepts an
//                          untracked packet carrying MARK_ACCEPT first thing (Calico: an
//                          untracked allow skips every other policy).
//   mangle PREROUTING      trl-mangle-pre: -i <hep> -g trl-hpre-<if>: established ACCEPT,
//                          failsafes, the preDNAT policies: an allow clears the mark and
//                          ACCEPTs (the packet still meets filter's policy after DNAT), a
//                          deny drops, nothing decided goes on.
//   filter INPUT/OUTPUT    after the workload rules: trl-from-hep / trl-to-hep by interface
//                          -> trl-hi-/trl-ho-<if>: established accept, failsafes, the normal
//                          policies, then the profiles, then DROP (no policy or profile allowing
//                          denies: fail closed). Allowed: MARK_ACCEPT, and the hook accepts.
//   filter FORWARD         trl-from-hep-fw before the workload rules, trl-to-hep-fw after
//                          them: only applyOnForward policies; none in a direction allows.
// Loopback and the workload interfaces are never host endpoint traffic, "*" included: the
// host's processes keep talking to themselves, and workloads keep their own policy.
import type { DesiredState, DirectionState, FailsafePort, Family, HostEndpointState, HostState, PolicyState, ProfileState } from '../../calc/index.js';
import { ACCEPT_CHAIN, MARK_ACCEPT, MARK_MASK, MARK_PASS, byCodePoint, hex, shortHash } from './names.js';
import { quote, renderRuleList, type RuleRenderContext } from './rules.js';
import type { DispatchChain } from './dispatch.js';

export const HOST_CHAINS = {
  fromHep: 'trl-from-hep', toHep: 'trl-to-hep', fromHepFw: 'trl-from-hep-fw', toHepFw: 'trl-to-hep-fw',
  failsafeIn: 'trl-failsafe-in', failsafeOut: 'trl-failsafe-out',
  wlToHost: 'trl-wl-to-host', manglePre: 'trl-mangle-pre', preAccept: 'trl-pre-accept',
  rawPre: 'trl-raw-pre', rawOut: 'trl-raw-out', untracked: 'trl-untracked',
  secFromHep: 'trl-sec-from-hep', secToHep: 'trl-sec-to-hep',
} as const;

const MAX_CHAIN_LEN = 28;
const ALL_INTERFACES = '*';
/** Interface names cannot hold "+": the all-interfaces endpoint's chains cannot clash with a real interface's. */
const ALL_TOKEN = '+all';

const markAccept = `${hex(MARK_ACCEPT)}/${hex(MARK_ACCEPT)}`;
const notPassed = `-m mark --mark 0x0/${hex(MARK_PASS)}`;
const clearMark = `-j MARK --set-xmark 0x0/${hex(MARK_MASK)}`;
const setAccept = `-j MARK --set-xmark ${markAccept}`;

function fit(name: string): string {
  return name.length <= MAX_CHAIN_LEN ? name : `${name.slice(0, 7)}${shortHash(name, MAX_CHAIN_LEN - 7)}`;
}
const ifToken = (iface: string) => (iface === ALL_INTERFACES ? ALL_TOKEN : iface);
export const hepChain = (kind: 'hi' | 'ho' | 'hfi' | 'hfo' | 'hpre' | 'hui' | 'huo', iface: string): string => fit(`trl-${kind}-${ifToken(iface)}`);
/** A policy's rules for host endpoints (one name per policy and direction, in whichever table runs them). */
export const hostPolicyChain = (id: string, dir: 'ingress' | 'egress'): string => `trl-hp${dir === 'ingress' ? 'i' : 'o'}-${shortHash(id)}`;
export const hostProfileChain = (id: string, dir: 'ingress' | 'egress'): string => `trl-hr${dir === 'ingress' ? 'i' : 'o'}-${shortHash(id)}`;

/** The host state to render: a hand-written DesiredState without one has no host endpoints and Calico's defaults. */
export function hostOf(ds: DesiredState): HostState {
  return ds.host ?? DEFAULT_HOST;
}
const DEFAULT_HOST: HostState = { endpoints: [], policies: [], failsafe: { inbound: [], outbound: [] }, endpointToHost: 'Drop' };

function addrFamily(cidr: string): Family {
  return cidr.includes(':') ? 6 : 4;
}

/** Failsafe rules of one chain; `reply`: also the answers to the other direction's failsafes (raw: no conntrack there). */
function failsafeRules(own: readonly FailsafePort[], other: readonly FailsafePort[], dir: 'in' | 'out', family: Family, target: string, reply: boolean): string[] {
  const peer = dir === 'in' ? '-s' : '-d';
  const line = (f: FailsafePort, portOpt: '--dport' | '--sport') => {
    const net = f.net ? `${peer} ${f.net} ` : '';
    const what = `${portOpt === '--dport' ? `failsafe ${dir}` : `failsafe ${dir === 'in' ? 'out' : 'in'} reply`} ${f.protocol}:${f.port}${f.net ? `:${f.net}` : ''}`;
    return `${net}-p ${f.protocol} -m ${f.protocol} ${portOpt} ${f.port} -m comment --comment ${quote(what)} -j ${target}`;
  };
  const fits = (f: FailsafePort) => !f.net || addrFamily(f.net) === family;
  return [
    ...own.filter(fits).map((f) => line(f, '--dport')),
    ...(reply ? other.filter(fits).map((f) => line(f, '--sport')) : []),
  ];
}

interface Ctx {
  family: Family;
  policies: Map<string, PolicyState>;
  profiles: Map<string, ProfileState>;
  rules: RuleRenderContext;
  /** Policy/profile chains this table needs, by name. */
  used: Map<string, DispatchChain>;
}

function policyRun(c: Ctx, ids: readonly string[], dir: 'ingress' | 'egress', onAllow: string): string[] {
  const body: string[] = [];
  for (const id of ids) {
    const p = c.policies.get(id);
    if (!p) {
      body.push(`-m comment --comment ${quote(`missing policy ${id}`)} -j DROP`);
      continue;
    }
    const name = hostPolicyChain(id, dir);
    if (!c.used.has(name)) c.used.set(name, { name, body: renderRuleList(p[dir], 'policy', id.split('/').slice(1).join('/') || id, dir === 'ingress' ? 'i' : 'e', c.rules) });
    body.push(`${notPassed} -j ${name}`);
    body.push(`-m mark --mark ${markAccept} ${onAllow}`);
  }
  return body;
}

/**
 * A direction's normal policies tier by tier, as a workload's verdict chain runs them: an
 * allow does `onAllow`; a tier whose policies neither allowed nor passed ends in its default
 * action (Deny drops, Pass goes on), and the pass mark is cleared before the next tier. A
 * plain list is one tier whose drop says `plainDeny`.
 */
function tieredRun(c: Ctx, d: DirectionState, dir: 'ingress' | 'egress', onAllow: string, plainDeny: string): string[] {
  if (!d.tiers) return d.policies.length > 0 ? [...policyRun(c, d.policies, dir, onAllow), `${notPassed} -m comment --comment ${quote(plainDeny)} -j DROP`] : [];
  const body: string[] = [];
  d.tiers.forEach((t, i) => {
    if (i > 0) body.push(`-j MARK --set-xmark 0x0/${hex(MARK_PASS)}`);
    body.push(...policyRun(c, t.policies, dir, onAllow));
    if (t.defaultAction === 'Deny') body.push(`${notPassed} -m comment --comment ${quote(`tier ${t.name}: no policy allowed or passed`)} -j DROP`);
  });
  return body;
}

function profileRun(c: Ctx, ids: readonly string[], dir: 'ingress' | 'egress'): string[] {
  const body: string[] = [];
  for (const id of ids) {
    const p = c.profiles.get(id);
    if (!p) continue; // a profile that does not exist allows nothing
    const name = hostProfileChain(id, dir);
    if (!c.used.has(name)) c.used.set(name, { name, body: renderRuleList(p[dir], 'profile', id.split('/').slice(1).join('/') || id, dir === 'ingress' ? 'i' : 'e', c.rules) });
    body.push(`-j ${name}`);
    body.push(`-m mark --mark ${markAccept} -j RETURN`);
  }
  return body;
}

/** The host endpoint chain for the host's own traffic (filter INPUT or OUTPUT). */
function localChain(c: Ctx, ep: HostEndpointState, dir: 'ingress' | 'egress'): DispatchChain {
  const d = ep[dir];
  const body = [
    clearMark,
    `-m conntrack --ctstate RELATED,ESTABLISHED -j ${ACCEPT_CHAIN}`,
    '-m conntrack --ctstate INVALID -j DROP',
    `-j ${dir === 'ingress' ? HOST_CHAINS.failsafeIn : HOST_CHAINS.failsafeOut}`,
  ];
  body.push(...tieredRun(c, d, dir, '-j RETURN', 'no policy allowed'));
  body.push(...profileRun(c, d.profiles, dir));
  body.push('-m comment --comment "no policy or profile allowed" -j DROP');
  return { name: hepChain(dir === 'ingress' ? 'hi' : 'ho', ep.interfaceName), body };
}

/** The host endpoint chain for forwarded traffic: applyOnForward policies only, none allows. */
function forwardChain(c: Ctx, ep: HostEndpointState, dir: 'ingress' | 'egress'): DispatchChain {
  const ids = dir === 'ingress' ? ep.forwardIngress : ep.forwardEgress;
  const body = [clearMark, `-m conntrack --ctstate RELATED,ESTABLISHED -j ${ACCEPT_CHAIN}`, '-m conntrack --ctstate INVALID -j DROP'];
  if (ids.length === 0) {
    body.push(`${setAccept}`, '-m comment --comment "no applyOnForward policy: forwarded traffic allowed" -j RETURN');
  } else {
    body.push(...policyRun(c, ids, dir, '-j RETURN'));
    body.push('-m comment --comment "no applyOnForward policy allowed" -j DROP');
  }
  return { name: hepChain(dir === 'ingress' ? 'hfi' : 'hfo', ep.interfaceName), body };
}

/** Which endpoint polices each interface: one per interface name (the first by id), "*" for the rest. */
function byInterface(h: HostState): HostEndpointState[] {
  const seen = new Map<string, HostEndpointState>();
  for (const ep of h.endpoints) if (!seen.has(ep.interfaceName)) seen.set(ep.interfaceName, ep);
  return [...seen.values()].sort((a, b) => (a.interfaceName === ALL_INTERFACES ? 1 : 0) - (b.interfaceName === ALL_INTERFACES ? 1 : 0)
    || byCodePoint(a.interfaceName, b.interfaceName));
}

/** Dispatch by interface: loopback and workload interfaces return, each endpoint's interface goes to its chain, "*" takes the rest. */
function dispatch(name: string, flag: '-i' | '-o', eps: readonly HostEndpointState[], guards: readonly string[], target: (ep: HostEndpointState) => string): DispatchChain {
  const body = [`${flag} lo -j RETURN`, ...guards.map((g) => `${flag} ${g} -j RETURN`)];
  for (const ep of eps) body.push(ep.interfaceName === ALL_INTERFACES ? `-g ${target(ep)}` : `${flag} ${ep.interfaceName} -g ${target(ep)}`);
  return { name, body };
}

export interface HostFilterPart {
  chains: DispatchChain[];
  /** First in trl-input/trl-output/trl-forward (untracked accepts). */
  head: string[];
  /** The end of trl-input: what a workload's traffic to the host meets after its egress policy. */
  endpointToHost: (guard: string) => string[];
  inputTail: string[];
  outputTail: string[];
  forwardHead: string[];
  forwardTail: string[];
}

export interface HostTablePart { chains: DispatchChain[]; hooks: Array<{ hook: string; chain: string }> }

export interface HostRender {
  filter: HostFilterPart;
  /**
   * The security table's guard for host endpoint traffic, as for workloads: every packet
   * filter lets through on a policed interface carries MARK_ACCEPT, so a foreign flush of
   * filter leaves the host fail closed (failsafes included) until the next resync, not open.
   */
  security: { chains: DispatchChain[]; input: string[]; output: string[]; forward: string[] };
  /** preDNAT (null: no endpoint has a preDNAT policy). */
  mangle: HostTablePart | null;
  /** doNotTrack: rules for trl-raw-pre and the raw chains (null: no endpoint has one). */
  raw: { pre: string[]; out: string[]; chains: DispatchChain[] } | null;
}

const ACTION_TARGET = { Drop: 'DROP', Return: 'RETURN', Accept: 'ACCEPT' } as const;

export function renderHost(ds: DesiredState, family: Family, guards: readonly string[], rules: RuleRenderContext): HostRender {
  const h = hostOf(ds);
  const action = ACTION_TARGET[h.endpointToHost];
  const eps = byInterface(h);
  const all = eps.find((e) => e.interfaceName === ALL_INTERFACES);
  const wlToHost = all !== undefined && all.ingress.policies.length > 0;
  const endpointToHost = (g: string) => [
    ...(wlToHost ? [`-i ${g} -j ${HOST_CHAINS.wlToHost}`] : []),
    `-i ${g} -m comment --comment "DefaultEndpointToHostAction ${h.endpointToHost}" -j ${action}`,
  ];
  if (eps.length === 0) {
    return {
      filter: { chains: [], head: [], endpointToHost, inputTail: [], outputTail: [], forwardHead: [], forwardTail: [] },
      security: { chains: [], input: [], output: [], forward: [] }, mangle: null, raw: null,
    };
  }
  const policies = new Map(h.policies.map((p) => [p.id, p]));
  const profiles = new Map(ds.profiles.map((p) => [p.id, p]));
  const ctx = (): Ctx => ({ family, policies, profiles, rules, used: new Map() });
  const { inbound, outbound } = h.failsafe;

  // filter
  const f = ctx();
  const chains: DispatchChain[] = [
    dispatch(HOST_CHAINS.fromHep, '-i', eps, guards, (ep) => hepChain('hi', ep.interfaceName)),
    dispatch(HOST_CHAINS.toHep, '-o', eps, guards, (ep) => hepChain('ho', ep.interfaceName)),
    dispatch(HOST_CHAINS.fromHepFw, '-i', eps, guards, (ep) => hepChain('hfi', ep.interfaceName)),
    dispatch(HOST_CHAINS.toHepFw, '-o', eps, guards, (ep) => hepChain('hfo', ep.interfaceName)),
    { name: HOST_CHAINS.failsafeIn, body: failsafeRules(inbound, outbound, 'in', family, ACCEPT_CHAIN, false) },
    { name: HOST_CHAINS.failsafeOut, body: failsafeRules(outbound, inbound, 'out', family, ACCEPT_CHAIN, false) },
  ];
  for (const ep of eps) chains.push(localChain(f, ep, 'ingress'), localChain(f, ep, 'egress'), forwardChain(f, ep, 'ingress'), forwardChain(f, ep, 'egress'));
  if (wlToHost) {
    // A workload's traffic to the host, once its egress policy allowed it, meets the
    // all-interfaces endpoint's ingress policies (not its profiles, nor the failsafes): an
    // allow accepts, a deny or no policy allowing drops, a pass leaves it to the default action.
    chains.push({
      name: HOST_CHAINS.wlToHost,
      body: [
        clearMark,
        ...tieredRun(f, all.ingress, 'ingress', `-j ${ACCEPT_CHAIN}`, 'no policy of the all-interfaces host endpoint allowed'),
        setAccept,
      ],
    });
  }
  chains.push(...f.used.values());
  const anyUntracked = eps.some((e) => e.untrackedIngress.length + e.untrackedEgress.length > 0);
  const head = anyUntracked ? [`-m mark --mark ${markAccept} -m conntrack --ctstate UNTRACKED -m comment --comment "allowed by doNotTrack policy" -j ACCEPT`] : [];
  const allowed = `-m mark --mark ${markAccept} -m comment --comment "allowed by host endpoint policy" -j ACCEPT`;
  const filter: HostFilterPart = {
    chains, head, endpointToHost,
    inputTail: [`-j ${HOST_CHAINS.fromHep}`, allowed],
    outputTail: [`-j ${HOST_CHAINS.toHep}`, allowed],
    forwardHead: [`-j ${HOST_CHAINS.fromHepFw}`],
    forwardTail: [`-j ${HOST_CHAINS.toHepFw}`],
  };

  // mangle: preDNAT
  let mangle: HostTablePart | null = null;
  const pre = eps.filter((e) => e.preDnatIngress.length > 0);
  if (pre.length > 0) {
    const m = ctx();
    const mc: DispatchChain[] = [
      dispatch(HOST_CHAINS.manglePre, '-i', pre, guards, (ep) => hepChain('hpre', ep.interfaceName)),
      { name: HOST_CHAINS.preAccept, body: [clearMark, '-j ACCEPT'] },
      { name: HOST_CHAINS.failsafeIn, body: failsafeRules(inbound, outbound, 'in', family, 'ACCEPT', false) },
    ];
    for (const ep of pre) {
      mc.push({
        name: hepChain('hpre', ep.interfaceName),
        body: [
          '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', clearMark, `-j ${HOST_CHAINS.failsafeIn}`,
          ...policyRun(m, ep.preDnatIngress, 'ingress', `-g ${HOST_CHAINS.preAccept}`),
          `-m comment --comment "no preDNAT policy decided" ${clearMark}`,
        ],
      });
    }
    mc.push(...m.used.values());
    mangle = { chains: mc, hooks: [{ hook: 'PREROUTING', chain: HOST_CHAINS.manglePre }] };
  }

  // raw: doNotTrack
  let raw: HostRender['raw'] = null;
  if (anyUntracked) {
    const r = ctx();
    const rin = eps.filter((e) => e.untrackedIngress.length > 0);
    const rout = eps.filter((e) => e.untrackedEgress.length > 0);
    const rc: DispatchChain[] = [
      { name: HOST_CHAINS.untracked, body: ['-j CT --notrack', '-j ACCEPT'] },
      { name: HOST_CHAINS.failsafeIn, body: failsafeRules(inbound, outbound, 'in', family, 'ACCEPT', true) },
      { name: HOST_CHAINS.failsafeOut, body: failsafeRules(outbound, inbound, 'out', family, 'ACCEPT', true) },
    ];
    const untrackedChain = (ep: HostEndpointState, dir: 'ingress' | 'egress'): DispatchChain => ({
      name: hepChain(dir === 'ingress' ? 'hui' : 'huo', ep.interfaceName),
      body: [
        clearMark, `-j ${dir === 'ingress' ? HOST_CHAINS.failsafeIn : HOST_CHAINS.failsafeOut}`,
        ...policyRun(r, dir === 'ingress' ? ep.untrackedIngress : ep.untrackedEgress, dir, `-g ${HOST_CHAINS.untracked}`),
        `-m comment --comment "no doNotTrack policy decided" ${clearMark}`,
      ],
    });
    const preName = 'trl-raw-hep-in';
    const outName = 'trl-raw-hep-out';
    if (rin.length) rc.push(dispatch(preName, '-i', rin, guards, (ep) => hepChain('hui', ep.interfaceName)), ...rin.map((ep) => untrackedChain(ep, 'ingress')));
    if (rout.length) rc.push(dispatch(outName, '-o', rout, guards, (ep) => hepChain('huo', ep.interfaceName)), ...rout.map((ep) => untrackedChain(ep, 'egress')));
    rc.push(...r.used.values());
    raw = { pre: rin.length ? [`-j ${preName}`] : [], out: rout.length ? [`-j ${outName}`] : [], chains: rc };
  }
  const guard = '-m mark ! --mark 0x10000/0x10000 -m comment --comment "not accepted by the host endpoint rules" -j DROP';
  const secDispatch = (name: string, flag: '-i' | '-o'): DispatchChain => ({
    name,
    body: [`${flag} lo -j RETURN`, ...guards.map((g) => `${flag} ${g} -j RETURN`),
      ...eps.map((ep) => (ep.interfaceName === ALL_INTERFACES ? guard : `${flag} ${ep.interfaceName} ${guard}`))],
  });
  const security = {
    chains: [secDispatch(HOST_CHAINS.secFromHep, '-i'), secDispatch(HOST_CHAINS.secToHep, '-o')],
    input: [`-j ${HOST_CHAINS.secFromHep}`], output: [`-j ${HOST_CHAINS.secToHep}`],
    forward: [`-j ${HOST_CHAINS.secFromHep}`, `-j ${HOST_CHAINS.secToHep}`],
  };
  return { filter, security, mangle, raw };
}
