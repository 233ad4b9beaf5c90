// Kind names on the command line: case-insensitive, singular, plural or short, as calicoctl.
import { KINDS, type Kind } from '../model/index.js';
import { CliError, EXIT } from './errors.js';

const ALIASES: Record<Kind, string[]> = {
  NetworkPolicy: ['networkpolicy', 'networkpolicies', 'netpol', 'netpols', 'np', 'policy', 'policies', 'pol', 'pols'],
  GlobalNetworkPolicy: ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp', 'gnps'],
  StagedNetworkPolicy: ['stagednetworkpolicy', 'stagednetworkpolicies', 'stagedpolicy', 'stagedpolicies', 'snp', 'spol', 'spols'],
  StagedGlobalNetworkPolicy: ['stagedglobalnetworkpolicy', 'stagedglobalnetworkpolicies', 'sgnp', 'sgnps'],
  Profile: ['profile', 'profiles', 'pro', 'pros'],
  Namespace: ['namespace', 'namespaces', 'ns'],
  WorkloadEndpoint: ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'],
  HostEndpoint: ['hostendpoint', 'hostendpoints', 'hep', 'heps'],
  IPPool: ['ippool', 'ippools', 'pool', 'pools'],
  Node: ['node', 'nodes', 'no'],
  BGPPeer: ['bgppeer', 'bgppeers', 'peer', 'peers'],
  BGPConfiguration: ['bgpconfiguration', 'bgpconfigurations', 'bgpconfig', 'bgpconfigs'],
  BGPFilter: ['bgpfilter', 'bgpfilters', 'bgpf', 'bgpfs', 'bf', 'bfs'],
  GlobalNetworkSet: ['globalnetworkset', 'globalnetworksets', 'gns', 'gnss'],
  NetworkSet: ['networkset', 'networksets', 'netset', 'netsets'],
  Tier: ['tier', 'tiers'],
  IPReservation: ['ipreservation', 'ipreservations', 'ipres', 'reservation', 'reservations'],
};

const BY_ALIAS = new Map<string, Kind>(KINDS.flatMap((k) => ALIASES[k].map((a) => [a, k] as const)));

const shortest = (k: Kind) => [...ALIASES[k]].sort((a, b) => a.length - b.length)[0] ?? k;

export function resolveKind(name: string): Kind {
  const k = BY_ALIAS.get(name.toLowerCase());
  if (!k) throw new CliError(EXIT.BAD_INPUT, `unknown resource kind "${name}"; known kinds: ${KINDS.map((x) => `${x} (${shortest(x)})`).join(', ')}`);
  return k;
}

export function kindAliases(kind: Kind): readonly string[] {
  return ALIASES[kind];
}
