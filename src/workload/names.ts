// Deterministic names from the container ID and interface name, so that DEL and CHECK
// find what ADD made without reading anything back.
import { createHash } from 'node:crypto';

function digest(containerID: string, ifname: string): string {
  return createHash('sha256').update(`${containerID}.${ifname}`).digest('hex');
}

/** Host side of the veth: "trl" + 11 hex characters (15 in all, the kernel's limit). */
export function hostVethName(containerID: string, ifname: string): string {
  return `trl${digest(containerID, ifname).slice(0, 11)}`;
}

/** A locally administered unicast MAC for the container side. */
export function containerMac(containerID: string, ifname: string): string {
  const h = digest(containerID, ifname);
  const bytes = [0x02, ...[0, 1, 2, 3, 4].map((i) => parseInt(h.slice(12 + i * 2, 14 + i * 2), 16))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The host side answers ARP for the gateway with this MAC (as Calico's do). */
export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
export const GATEWAY_V4 = '169.254.1.1';
/** The containers' IPv6 gateway: a link-local address every host veth carries (like 169.254.1.1, never routed). */
export const GATEWAY_V6 = 'fe80::1';

export function ipamHandle(containerID: string, ifname: string): string {
  return `${containerID}.${ifname}`;
}

/** "<node>-<orchestrator>-<containerID>-<ifname>", lower-cased to a valid resource name. */
export function endpointName(node: string, orchestrator: string, containerID: string, ifname: string): string {
  const raw = `${node}-${orchestrator}-${containerID}-${ifname}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
  return raw.replace(/^[^a-z0-9]+/, '').replace(/[^a-z0-9]+$/, '').slice(0, 253).replace(/[^a-z0-9]+$/, '');
}
