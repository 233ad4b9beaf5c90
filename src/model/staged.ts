// Calico's naming of staged policies: StagedNetworkPolicy NS/foo stands for NetworkPolicy
// NS/foo and StagedGlobalNetworkPolicy foo for GlobalNetworkPolicy foo (tiered names carry
// their tier, "T.foo", so the pair is in one tier). What it would do is its stagedAction:
// Set (and Learn, a recommendation still being learned: its rules are what it proposes)
// puts its spec in place of the enforced one's, or adds it; Delete removes the enforced
// one; Ignore (a recommendation someone dismissed) proposes nothing.
import { resourceKey, type GlobalNetworkPolicy, type NetworkPolicy, type Resource, type ResourceKey, type StagedAction, type StagedGlobalNetworkPolicy, type StagedNetworkPolicy } from './resources.js';

export type StagedPolicy = StagedNetworkPolicy | StagedGlobalNetworkPolicy;

export const isStagedPolicy = (r: Resource): r is StagedPolicy => r.kind === 'StagedNetworkPolicy' || r.kind === 'StagedGlobalNetworkPolicy';

/** What a staged policy would do: its action, the enforced policy it names and, unless
 *  it deletes or proposes nothing, that policy as it would be. */
export function enforcedOf(s: StagedPolicy): { action: StagedAction; target: ResourceKey; policy?: NetworkPolicy | GlobalNetworkPolicy } {
  const { stagedAction: action, ...spec } = s.spec;
  const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, ...metadata } = s.metadata;
  const policy = s.kind === 'StagedNetworkPolicy'
    ? { apiVersion: s.apiVersion, kind: 'NetworkPolicy', metadata, spec } as NetworkPolicy
    : { apiVersion: s.apiVersion, kind: 'GlobalNetworkPolicy', metadata, spec } as GlobalNetworkPolicy;
  const target = resourceKey(policy);
  return action === 'Set' || action === 'Learn' ? { action, target, policy } : { action, target };
}
