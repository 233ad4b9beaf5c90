// How `policy explain` names its two ends: NAMESPACE/ENDPOINT where ENDPOINT is the
// WorkloadEndpoint's name or, as a user knows it, its workload or container (what the
// runtime called it); or an address that one endpoint holds. A name that matches nothing
// is refused with the names that would have.
import type { Resource } from '../core.js';
import { CliError, EXIT } from '../errors.js';

type Wep = Extract<Resource, { kind: 'WorkloadEndpoint' }>;

const nsOf = (w: Wep) => w.metadata.namespace ?? 'default';
const weps = (resources: readonly Resource[]) => resources.filter((r): r is Wep => r.kind === 'WorkloadEndpoint');
const isAddress = (s: string) => /^[0-9.]+$/.test(s) && s.includes('.') || /^[0-9a-fA-F:]+$/.test(s) && s.includes(':');

function hostPart(net: string): string { return net.split('/')[0]!.toLowerCase(); }

/** Lists at most a few names, and how many more there are. */
function some(names: string[], max = 8): string {
  if (names.length === 0) return 'none';
  return names.slice(0, max).join(', ') + (names.length > max ? `, and ${names.length - max} more` : '');
}

/** The WorkloadEndpoint (NS/NAME) a --to/--from reference means. */
export function resolveEndpointRef(resources: readonly Resource[], ref: string, flag: '--from' | '--to'): string {
  const all = weps(resources);
  if (isAddress(ref)) {
    const owner = all.find((w) => w.spec.ipNetworks.some((n) => hostPart(n) === ref.toLowerCase()));
    if (!owner) throw new CliError(EXIT.BAD_INPUT, `${flag} ${ref}: no WorkloadEndpoint holds this address${flag === '--to' ? ' (the destination must be an endpoint)' : ''}`);
    return `${nsOf(owner)}/${owner.metadata.name}`;
  }
  const m = /^([^/]+)\/([^/]+)$/.exec(ref);
  if (!m) throw new CliError(EXIT.BAD_INPUT, `${flag} "${ref}": expected NAMESPACE/ENDPOINT${flag === '--to' ? ' or an endpoint\'s address' : ', an address or a CIDR'}`);
  const [, ns, name] = m as unknown as [string, string, string];
  const inNs = all.filter((w) => nsOf(w) === ns);
  if (inNs.some((w) => w.metadata.name === name)) return ref;
  const byAlias = inNs.filter((w) => w.spec.workload === name || w.spec.containerID === name || w.spec.pod === name);
  if (byAlias.length === 1) return `${ns}/${byAlias[0]!.metadata.name}`;
  if (byAlias.length > 1) {
    throw new CliError(EXIT.BAD_INPUT, `${flag} ${ref}: ${byAlias.length} endpoints belong to "${name}" (${some(byAlias.map((w) => w.metadata.name))}); name one`);
  }
  const namespaces = [...new Set(all.map(nsOf))].sort();
  const hint = inNs.length > 0
    ? `endpoints in ${ns}: ${some(inNs.map((w) => `${w.spec.workload ?? w.metadata.name}`).sort())}`
    : `no endpoints in namespace ${ns} (namespaces with endpoints: ${some(namespaces)})`;
  throw new CliError(EXIT.BAD_INPUT, `${flag} ${ref}: no WorkloadEndpoint ${ns}/${name}; ${hint}`);
}

/** Notes for profiles an endpoint names that do not exist (they add no rules, so "profiles:
 *  (none)" alone would hide the typo). */
export function missingProfileNotes(resources: readonly Resource[], endpoints: string[]): string[] {
  const have = new Set(resources.filter((r) => r.kind === 'Profile').map((r) => r.metadata.name));
  const notes: string[] = [];
  for (const ref of endpoints) {
    const [ns, name] = ref.split('/') as [string, string];
    const w = weps(resources).find((x) => nsOf(x) === ns && x.metadata.name === name);
    for (const p of w?.spec.profiles ?? []) {
      if (!have.has(p)) notes.push(`WorkloadEndpoint ${ref} names profile ${p}, which does not exist: it adds no rules`);
    }
  }
  return notes;
}
