// Single-value checks that Calico's validator makes and the schemas in resources.ts (and
// the cross-field checks in semantics.ts) share: what makes a network one address, a pool
// usable, a net strictly masked, an annotation map acceptable.
import ipaddr from 'ipaddr.js';
import { cidrContains, isValidCidrOrIp, parseCidr } from './cidr.js';
import { labelKeyProblem } from './labels.js';

/** Kubernetes' port name syntax, which Calico applies to endpoint ports: at most 15
 *  lower-case letters, digits and "-", with at least one letter, no "-" at either end,
 *  never "--". */
export const PORT_NAME_RE = /^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

const addressCount = (prefixLength: number, family: 4 | 6): string => {
  const bits = (family === 4 ? 32 : 128) - prefixLength;
  return bits <= 20 ? String(2 ** bits) : `2^${bits}`;
};

/** Null when n is a single address (a bare address, /32 or /128): all a workload
 *  endpoint may claim, as in Calico; a wider claim would make the whole range a policy
 *  address of the endpoint. */
export function endpointNetworkProblem(n: string): string | null {
  if (!isValidCidrOrIp(n)) return null;
  const c = parseCidr(n);
  const full = c.family === 4 ? 32 : 128;
  if (c.prefixLength === full) return null;
  return `"${n}" is ${addressCount(c.prefixLength, c.family)} addresses: a workload endpoint network is one address (/${full})`;
}

/** Null when a CIDR has no host bits set ("10.0.0.0/8", not "10.0.0.1/8"). */
export function hostBitsProblem(n: string): string | null {
  if (!isValidCidrOrIp(n)) return null;
  const c = parseCidr(n);
  const net = networkAddress(c.address, c.prefixLength, c.family);
  return net === c.address ? null : `"${n}" has host bits set: the network is ${net}/${c.prefixLength}`;
}

function networkAddress(address: string, prefixLength: number, family: 4 | 6): string {
  return (family === 4 ? ipaddr.IPv4 : ipaddr.IPv6).networkAddressFromCIDR(`${address}/${prefixLength}`).toString();
}

const LINK_LOCAL = { 4: '169.254.0.0/16', 6: 'fe80::/10' } as const;

/** What Calico refuses in an IPPool's cidr on its own: host bits set, or an overlap with
 *  the link-local range (addresses the kernel and clouds use for themselves). */
export function poolCidrProblems(n: string): string[] {
  if (!isValidCidrOrIp(n)) return [];
  const out: string[] = [];
  const masked = hostBitsProblem(n);
  if (masked) out.push(masked);
  const c = parseCidr(n);
  const ll = LINK_LOCAL[c.family];
  const base = parseCidr(ll).address;
  if (cidrContains(ll, c.address) || cidrContains(`${c.address}/${c.prefixLength}`, base)) {
    out.push(`"${n}" overlaps the link-local range ${ll}: a pool cannot hand out link-local addresses`);
  }
  return out;
}

const ANNOTATIONS_MAX_BYTES = 256 * 1024;
const utf8 = new TextEncoder();

/** Keys that are not label-key syntax (checked in lower case, as Calico does), and a
 *  total size over 256 KiB. */
export function annotationsProblems(obj: Readonly<Record<string, string>>): Array<{ key?: string; message: string }> {
  const out: Array<{ key?: string; message: string }> = [];
  let bytes = 0;
  for (const [k, v] of Object.entries(obj)) {
    const p = labelKeyProblem(k.toLowerCase());
    if (p) out.push({ key: k, message: `annotation key "${k}": ${p.slice(p.indexOf(': ') + 2)}` });
    bytes += utf8.encode(k).length + utf8.encode(v).length;
  }
  if (bytes > ANNOTATIONS_MAX_BYTES) out.push({ message: `annotations total ${bytes} bytes: at most ${ANNOTATIONS_MAX_BYTES} (256 KiB) of keys and values are allowed` });
  return out;
}
