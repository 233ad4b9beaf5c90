// Kernel object names Trellis owns. Everything starts with "trl": chains "trl-" (<= 28
// chars, the iptables limit), sets "trl4-"/"trl6-" (<= 31, the ipset limit), so that
// reading the kernel can pick out exactly Trellis's objects and leave the rest alone.
import { createHash } from 'node:crypto';
import type { Family } from '../../calc/index.js';
import { WORKLOAD_IFACE_PREFIX, byCodePoint } from '../names.js';

export { WORKLOAD_IFACE_PREFIX, byCodePoint };

export const CHAIN_PREFIX = 'trl-';
export const SET_PREFIX = 'trl';
export const MAX_CHAIN_LEN = 28;
export const MAX_SET_LEN = 31;

/** Mark bits Trellis uses inside its own chains (0x30000): Allow and Pass verdicts of a policy chain. */
export const MARK_ACCEPT = 0x10000;
export const MARK_PASS = 0x20000;
/**
 * The upper 14 bits carry the verdict chain an endpoint chain chose, so that one dispatch
 * (one jump per verdict chain) runs the decision shared by endpoints with the same lists,
 * and endpoint chains stay a few rules: the kernel re-validates every rule reachable from
 * the hooks on each rule write, so every rule in the table costs every write.
 */
export const MARK_VERDICT = 0xfffc0000;
export const VERDICT_SHIFT = 18;
/** Every mark bit Trellis owns (as Calico's default mask). */
export const MARK_MASK = (MARK_ACCEPT | MARK_PASS | MARK_VERDICT) >>> 0;
/** Verdict id: nothing left to evaluate (the endpoint chain already ran its verdict chain). */
export const VERDICT_DONE = 1;
const VERDICT_IDS = (MARK_VERDICT >>> VERDICT_SHIFT) - 1; // 1..16382 usable, 0 = unset
export const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
/** The mark value of a verdict id. */
export const verdictMark = (id: number): number => id * 2 ** VERDICT_SHIFT;

/** Short lowercase base-32-ish hash (sha256, hex) of a string. */
export function shortHash(s: string, len = 16): string {
  return createHash('sha256').update(s).digest('hex').slice(0, len);
}

/** The chains the built-in hooks jump to (one jump each, at position 1). */
export const DISPATCH = {
  filter: { FORWARD: 'trl-forward', INPUT: 'trl-input', OUTPUT: 'trl-output' },
  nat: { PREROUTING: 'trl-nat-pre', OUTPUT: 'trl-nat-out', POSTROUTING: 'trl-nat-post' },
  raw: { PREROUTING: 'trl-raw-pre' },
  security: { FORWARD: 'trl-sec-forward', INPUT: 'trl-sec-input', OUTPUT: 'trl-sec-output' },
} as const;

/**
 * Where filter accepts a workload's packet before its verdict chains (conntrack, neighbour
 * discovery): sets MARK_ACCEPT on the way, so that every packet filter accepts for a
 * workload carries it, which the security table's guard checks.
 */
export const ACCEPT_CHAIN = 'trl-accept';

export const FROM_WL_DISPATCH = 'trl-from-wl';
/** Dispatch by the verdict id in the mark, after the endpoint chains (egress, ingress). */
export const VERDICT_DISPATCH = { egress: 'trl-vd-from-wl', ingress: 'trl-vd-to-wl' } as const;
export const TO_WL_DISPATCH = 'trl-to-wl';
/** Host-originated traffic DNATed (nat OUTPUT) to a workload: the hook still reports -o lo, so dispatch by address. */
export const TO_WL_ADDR_DISPATCH = 'trl-to-wl-addr';

/** Egress (from-workload) chain of an endpoint interface. */
export function fromWlChain(iface: string): string {
  return fit(`trl-fw-${iface}`);
}
/** Ingress (to-workload) chain of an endpoint interface. */
export function toWlChain(iface: string): string {
  return fit(`trl-tw-${iface}`);
}
// Chain names of policies and profiles are asked for once per endpoint chain on every
// render: remember them rather than hash the same id thousands of times.
const idHashes = new Map<string, string>();
function idHash(id: string): string {
  let h = idHashes.get(id);
  if (h === undefined) {
    if (idHashes.size >= 100_000) idHashes.clear();
    idHashes.set(id, (h = shortHash(id)));
  }
  return h;
}

export function policyChain(policyId: string, dir: 'ingress' | 'egress'): string {
  return `trl-p${dir === 'ingress' ? 'i' : 'o'}-${idHash(policyId)}`;
}
/** The chain holding an ordered list of policies, shared by every endpoint with that list. */
export function policyGroupChain(policyIds: readonly string[], dir: 'ingress' | 'egress'): string {
  return `trl-g${dir === 'ingress' ? 'i' : 'o'}-${idHash(policyIds.join('\n'))}`;
}
/**
 * The chain deciding an endpoint's traffic in one direction once conntrack let it through:
 * its policy group, then its profiles. Shared by every endpoint with the same lists.
 */
export function verdictChain(policyIds: readonly string[], profileIds: readonly string[], dir: 'ingress' | 'egress'): string {
  return `trl-v${dir === 'ingress' ? 'i' : 'o'}-${idHash(`${policyIds.join('\n')}\n|\n${profileIds.join('\n')}`)}`;
}
/** The verdict id (2..16382) a verdict chain is dispatched by: from its name, so stable across restarts. */
export function verdictId(chainName: string): number {
  return VERDICT_DONE + 1 + (parseInt(chainName.slice(-8), 16) % (VERDICT_IDS - VERDICT_DONE));
}
export function profileChain(profileId: string, dir: 'ingress' | 'egress'): string {
  return `trl-pr${dir === 'ingress' ? 'i' : 'o'}-${idHash(profileId)}`;
}

function fit(name: string): string {
  return name.length <= MAX_CHAIN_LEN ? name : `${name.slice(0, 7)}${shortHash(name, MAX_CHAIN_LEN - 7)}`;
}

const SET_ID_RE = /^[A-Za-z0-9_.:-]{1,26}$/;
/** Kernel set name for a logical set id in one family: trl4-<id> / trl6-<id> (ids too long or odd are hashed). */
export function setName(id: string, family: Family): string {
  const safe = SET_ID_RE.test(id) ? id : `h${shortHash(id, 20)}`;
  return `${SET_PREFIX}${family}-${safe}`;
}
/** Name used while building a replacement set before `swap` (type or family change). */
export function tempSetName(name: string): string {
  return `trlt-${shortHash(name, 20)}`;
}

/** Internal sets for outgoing NAT (not part of DesiredState.ipsets). */
export const NAT_MASQ_SET_ID = 'nat-masq';
export const NAT_POOLS_SET_ID = 'nat-pools';

export function isTrellisSet(name: string): boolean {
  return /^trl[46t]-/.test(name);
}
export function isTrellisChain(name: string): boolean {
  return name.startsWith(CHAIN_PREFIX);
}
