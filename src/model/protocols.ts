// The one protocol table. Calico names a protocol one way, the kernel tools another and
// IANA by number; every subsystem translates through this table so the three never drift.

export interface ProtocolEntry {
  /** As Calico spells it in resources ("TCP", never "tcp"). */
  readonly name: 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'SCTP' | 'UDPLite';
  /** IANA protocol number. */
  readonly number: number;
  /** As iptables `-p` and ipset's port members spell it. */
  readonly kernel: string;
  /** Its packets carry ports, so the dataplane can match them. */
  readonly carriesPorts: boolean;
  /** Calico accepts ports for it in a resource (Calico's validator stops at TCP, UDP, SCTP). */
  readonly calicoPorts: boolean;
}

// Order is what users read in "use one of ..." messages.
export const PROTOCOLS: readonly ProtocolEntry[] = [
  { name: 'TCP', number: 6, kernel: 'tcp', carriesPorts: true, calicoPorts: true },
  { name: 'UDP', number: 17, kernel: 'udp', carriesPorts: true, calicoPorts: true },
  { name: 'ICMP', number: 1, kernel: 'icmp', carriesPorts: false, calicoPorts: false },
  { name: 'ICMPv6', number: 58, kernel: 'ipv6-icmp', carriesPorts: false, calicoPorts: false },
  { name: 'SCTP', number: 132, kernel: 'sctp', carriesPorts: true, calicoPorts: true },
  { name: 'UDPLite', number: 136, kernel: 'udplite', carriesPorts: true, calicoPorts: false },
];

export const PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] as const satisfies readonly ProtocolEntry['name'][];

const byNumber = new Map(PROTOCOLS.map((p) => [p.number, p]));
const byLowerName = new Map(PROTOCOLS.map((p) => [p.name.toLowerCase(), p]));

/** The entry for an IANA number Trellis knows by name; undefined for the rest of 1-255. */
export function protocolByNumber(n: number): ProtocolEntry | undefined {
  return byNumber.get(n);
}

/** The entry for a Calico name, compared without case (for CLI and API input). */
export function protocolByName(name: string): ProtocolEntry | undefined {
  return byLowerName.get(name.toLowerCase());
}
