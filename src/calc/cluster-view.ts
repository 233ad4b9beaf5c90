// Explain over the agent's incremental calculator, for any endpoint in the cluster. This
// node's endpoints are read from state(), the very DesiredState the dataplane renders.
// Another node's endpoint is compiled from the same parts the way that node's calculator
// compiles it (policies matched by its labels, its profiles, the cluster-wide set members),
// so no pair costs a computeDesiredState. Per-endpoint results are kept until the
// calculator's generation moves.
import { cidrFacts, endpointState, type SetDef } from './compile.js';
import { endpointOfState, lookupOfState, type CompiledEndpoint, type EndpointRef, type ExplainView, type RuleLookup } from './explain.js';
import type { Calculator } from './incremental.js';
import type { IpSetState } from './state.js';
import { byCodePoint } from '../model/index.js';

export function createClusterView(calc: Calculator): ExplainView {
  const { endpoints, policies, profiles, sets } = calc.parts;
  let gen = -1;
  const remote = new Map<string, CompiledEndpoint | undefined>();
  let defs: Map<string, SetDef> | null = null;
  const setStates = new Map<string, IpSetState | undefined>();
  const remoteRules = new Map<string, RuleLookup>();

  const fresh = () => {
    if (gen === calc.generation()) return;
    gen = calc.generation();
    remote.clear();
    refs.clear();
    setStates.clear();
    defs = null;
    remoteRules.clear();
  };

  const defOf = (id: string): SetDef | undefined => {
    if (!defs) {
      defs = new Map();
      for (const p of policies.usage.items.values()) for (const d of p.sets) defs.set(d.id, d);
      for (const p of profiles.items.values()) for (const d of p.sets) defs.set(d.id, d);
    }
    return defs.get(id);
  };

  /** Rules as any other node renders them: compiled policies and profiles are the same on every node. */
  const rulesFor = (nodeName: string): RuleLookup => ({
    nodeName,
    basis: setStates,
    policy: (id) => policies.get(id)?.state,
    profile: (id) => (id.startsWith('Profile/') ? profiles.items.get(id.slice('Profile/'.length))?.state : undefined),
    set: (id) => {
      if (setStates.has(id)) return setStates.get(id);
      const d = defOf(id);
      const s = d ? sets.stateOf(d) : undefined;
      setStates.set(id, s);
      return s;
    },
  });

  const refs = new Map<string, EndpointRef | undefined>();
  const refOf = (key: string): EndpointRef | undefined => {
    fresh();
    if (refs.has(key)) return refs.get(key);
    const r = endpoints.resources.get(key);
    const ref = r && r.kind === 'WorkloadEndpoint'
      ? { ns: r.metadata.namespace ?? 'default', name: r.metadata.name, node: r.spec.node, addrs: r.spec.ipNetworks.map((n) => cidrFacts(n).canonical) }
      : undefined;
    refs.set(key, ref);
    return ref;
  };

  return {
    networkSets: () => [...endpoints.networkSets].sort(byCodePoint).map((k) => endpoints.infos.get(k)!),
    findEndpoint: (ns, name) => refOf(`WorkloadEndpoint/${ns}/${name}`),
    refused: (ns, name) => calc.refused().get(`WorkloadEndpoint/${ns}/${name}`),
    ownerOf(hostCidr) {
      const keys = endpoints.withAddress(hostCidr);
      if (!keys || keys.size === 0) return undefined;
      return refOf([...keys].sort(byCodePoint)[0]!);
    },
    compiled(ep) {
      const id = `WorkloadEndpoint/${ep.ns}/${ep.name}`;
      if (ep.node === calc.nodeName) {
        const state = calc.state();
        const endpoint = endpointOfState(state, id);
        return endpoint ? { endpoint, rules: lookupOfState(state) } : undefined;
      }
      fresh();
      if (remote.has(id)) return remote.get(id);
      const r = endpoints.resources.get(id);
      const info = endpoints.infos.get(id);
      let out: CompiledEndpoint | undefined;
      if (r && info && r.kind === 'WorkloadEndpoint') {
        const { ingress, egress } = policies.applicable(info.labels);
        // A profile that does not exist allows nothing: it is left out, as on its node.
        const profs = [...new Set(info.profiles.filter((n) => profiles.items.has(n)).map((n) => profiles.items.get(n)!.id))];
        let rules = remoteRules.get(r.spec.node);
        if (!rules) remoteRules.set(r.spec.node, (rules = rulesFor(r.spec.node)));
        out = { endpoint: endpointState(r, info, ingress, egress, profs, { ingress: policies.tierGroups(ingress), egress: policies.tierGroups(egress) }), rules };
      }
      remote.set(id, out);
      return out;
    },
  };
}
