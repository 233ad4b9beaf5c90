// Per-interface and global sysctls the workload plumbing needs, in the namespace the
// dataplane runs in (never anywhere else):
//  - proxy_arp=1 + proxy_delay=0: the host veth answers ARP for the containers'
//    link-local gateway (169.254.1.1) at once, so no bridge and no gateway address are needed;
//  - rp_filter=1 (strict): a container cannot send with another's (or any foreign) source;
//  - forwarding=1 on the interface and net.ipv4.ip_forward=1;
//  - IPv6 endpoints: proxy_ndp=1 and forwarding on the interface and for all.
import type { DesiredState } from '../calc/index.js';
import { byCodePoint } from './names.js';

export type Sysctls = Map<string, string>;

export interface SysctlWant {
  /** sysctl(8) key ("net.ipv4.conf.trla1.proxy_arp"). */
  key: string;
  /** The /proc/sys file, for reading many at once. */
  path: string;
  value: string;
  /** The interface it belongs to, or null for a global key. */
  iface: string | null;
}

function want(parts: string[], value: string, iface: string | null): SysctlWant {
  // sysctl keys use "." as separator, so a "." in an interface name is written as "/".
  return { key: parts.map((p) => p.replace(/\./g, '/')).join('.'), path: `/proc/sys/${parts.join('/')}`, value, iface };
}

/** Desired sysctls; interfaces not in `links` (when given) are left out. */
export function desiredSysctls(ds: DesiredState, links: Set<string> | null): SysctlWant[] {
  const out: SysctlWant[] = [want(['net', 'ipv4', 'ip_forward'], '1', null)];
  let any6 = false;
  for (const e of [...ds.endpoints].sort((a, b) => byCodePoint(a.interfaceName, b.interfaceName))) {
    const i = e.interfaceName;
    if (links && !links.has(i)) continue;
    out.push(
      want(['net', 'ipv4', 'conf', i, 'forwarding'], '1', i),
      want(['net', 'ipv4', 'conf', i, 'proxy_arp'], '1', i),
      want(['net', 'ipv4', 'conf', i, 'rp_filter'], '1', i),
      want(['net', 'ipv4', 'neigh', i, 'proxy_delay'], '0', i),
    );
    if (e.addresses.some((a) => a.includes(':'))) {
      any6 = true;
      out.push(want(['net', 'ipv6', 'conf', i, 'forwarding'], '1', i), want(['net', 'ipv6', 'conf', i, 'proxy_ndp'], '1', i));
    }
  }
  if (any6) out.push(want(['net', 'ipv6', 'conf', 'all', 'forwarding'], '1', null));
  return out;
}

/** Desired sysctls as key -> value (tests, the benchmark's raw floor). */
export function renderSysctls(ds: DesiredState, links: Set<string> | null): Sysctls {
  return new Map(desiredSysctls(ds, links).map((w) => [w.key, w.value]));
}

/** Parses `grep -sH . <paths>` output ("path:value" per line) into path -> value. */
export function parseGrepValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

/** The wanted values that differ from what was read (path -> value). */
export function planSysctls(wants: SysctlWant[], have: Map<string, string>): SysctlWant[] {
  return wants.filter((w) => have.get(w.path) !== w.value);
}
