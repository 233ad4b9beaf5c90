// apply / create / replace / delete / get: resources in the store.
// Input files are read and validated as a whole before the first write (all or nothing);
// each write is then its own etcd transaction, reported one line per resource.
import { Command, Option } from 'commander';
import { describeKey, endpointRefusals, ipamUsage, isStoreRefusal, type IPPool, type WorkloadEndpoint, NAMESPACED_KINDS, resourceKey, type Kind, type Resource, type ResourceKey, type Store, type Stored } from '../core.js';
import { withStore, print, warn } from '../context.js';
import { poolDeletedNote } from './ipam.js';
import { CliError, EXIT } from '../errors.js';
import { readResources } from '../files.js';
import { resolveKind } from '../kinds.js';
import { OUTPUT_FORMATS, renderJson, renderTable, renderYaml, type OutputFormat } from '../output.js';

type Verb = 'apply' | 'create' | 'replace';

const collect = (v: string, prev: string[]) => [...prev, v];

function fileOption(): Option {
  return new Option('-f, --filename <path>', 'file, folder (its .yaml/.yml/.json files) or - for stdin; repeatable').argParser(collect).default([]);
}

/** Writes each resource; a refusal is reported and the rest still go (each is independent). */
async function writeAll(store: Store, verb: Verb, resources: Resource[]): Promise<void> {
  const refused: string[] = [];
  for (const r of resources) {
    const name = describeKey(resourceKey(r));
    try {
      const s: Stored = verb === 'create' ? await store.create(r) : verb === 'replace' ? await store.replace(r) : await store.apply(r);
      print(`${name} ${verb === 'apply' ? 'applied' : verb === 'create' ? 'created' : 'replaced'} (revision ${s.revision})`);
    } catch (err) {
      if (isStoreRefusal(err)) {
        process.stderr.write(`trellisctl: ${err.message}\n`);
        refused.push(name);
        continue;
      }
      throw err;
    }
  }
  if (refused.length > 0) {
    throw new CliError(EXIT.REFUSED, `${refused.length} of ${resources.length} resources refused: ${refused.join(', ')}`);
  }
}

/** BGPPeers naming a BGPFilter that does not exist (the peer runs without it, as in Calico). */
export function missingFilterNotes(resources: readonly Resource[]): string[] {
  const filters = new Set(resources.filter((r) => r.kind === 'BGPFilter').map((r) => r.metadata.name));
  const out: string[] = [];
  for (const r of resources) {
    if (r.kind !== 'BGPPeer') continue;
    for (const f of r.spec.filters ?? []) {
      if (!filters.has(f)) out.push(`BGPPeer ${r.metadata.name} names BGPFilter ${f}, which does not exist: the peer runs without it until it does`);
    }
  }
  return out;
}

/** After a write or delete that touched BGPPeers or BGPFilters, says which references dangle now. */
async function warnMissingFilters(store: Store, kinds: readonly Kind[]): Promise<void> {
  if (!kinds.some((k) => k === 'BGPPeer' || k === 'BGPFilter')) return;
  const [peers, filters] = await Promise.all([store.list('BGPPeer'), store.list('BGPFilter')]);
  for (const n of missingFilterNotes([...peers, ...filters].map((s) => s.resource))) warn(n);
}

function keyFromArgs(kindArg: string, name: string, namespace: string | undefined): ResourceKey {
  const kind = resolveKind(kindArg);
  return NAMESPACED_KINDS.has(kind) ? { kind, namespace: namespace ?? 'default', name } : { kind, name };
}

interface GetOptions { namespace?: string; allNamespaces?: boolean; output: OutputFormat }

async function get(store: Store, kind: Kind, name: string | undefined, o: GetOptions): Promise<void> {
  const namespaced = NAMESPACED_KINDS.has(kind);
  if (o.allNamespaces && name !== undefined) throw new CliError(EXIT.BAD_INPUT, '-A/--all-namespaces lists; it cannot be used with a NAME');
  let found: Resource[];
  if (name !== undefined) {
    const key: ResourceKey = namespaced ? { kind, namespace: o.namespace ?? 'default', name } : { kind, name };
    const s = await store.get(key);
    if (!s) throw new CliError(EXIT.REFUSED, `${describeKey(key)} not found`);
    found = [s.resource];
  } else {
    const ns = namespaced && !o.allNamespaces ? (o.namespace ?? 'default') : undefined;
    found = (await store.list(kind, ns)).map((s) => s.resource);
  }
  switch (o.output) {
    case 'yaml': if (found.length) print(renderYaml(found)); break;
    case 'json': print(renderJson(found, name !== undefined)); break;
    default: process.stdout.write(renderTable(kind, found, o.output === 'wide', o.output === 'wide' && kind === 'WorkloadEndpoint' ? await endpointStatus(store) : undefined));
  }
}

/** Whether calc programs each endpoint or refuses it (a conflict is cluster-wide: every endpoint and pool is read). */
async function endpointStatus(store: Store): Promise<(r: Resource) => string> {
  const [weps, pools] = await Promise.all([store.list('WorkloadEndpoint'), store.list('IPPool')]);
  const key = (r: Resource) => `WorkloadEndpoint/${(r.metadata as { namespace?: string }).namespace ?? 'default'}/${r.metadata.name}`;
  const refused = endpointRefusals(
    weps.map((s) => s.resource).filter((r): r is WorkloadEndpoint => r.kind === 'WorkloadEndpoint').map((r) => [key(r), r]),
    pools.map((s) => s.resource).filter((r): r is IPPool => r.kind === 'IPPool'),
  );
  return (r) => {
    const why = refused.get(key(r));
    return why ? `refused: ${why.join('; ')}` : 'ok';
  };
}

export function register(program: Command): void {
  for (const [verb, what] of [
    ['apply', 'create or replace resources from files'],
    ['create', 'create resources from files (refused if one exists)'],
    ['replace', 'replace existing resources from files (refused if missing, or changed since metadata.resourceVersion)'],
  ] as const) {
    program.command(verb)
      .description(what)
      .addOption(fileOption())
      .action(async (opts: { filename: string[] }, cmd: Command) => {
        const resources = readResources(opts.filename);
        await withStore(cmd, async (store) => {
          try {
            await writeAll(store, verb, resources);
          } finally {
            await warnMissingFilters(store, resources.map((r) => r.kind));
          }
        });
      });
  }

  program.command('delete')
    .description('delete resources named in files, or one resource by KIND NAME')
    .argument('[kind]', 'resource kind (e.g. networkpolicy, gnp, ippool)')
    .argument('[name]', 'resource name')
    .addOption(fileOption())
    .option('-n, --namespace <ns>', 'namespace (namespaced kinds; default "default")')
    .action(async (kindArg: string | undefined, name: string | undefined, opts: { filename: string[]; namespace?: string }, cmd: Command) => {
      let keys: ResourceKey[];
      if (opts.filename.length > 0) {
        if (kindArg !== undefined) throw new CliError(EXIT.BAD_INPUT, 'give either -f FILE or KIND NAME, not both');
        keys = readResources(opts.filename).map(resourceKey);
      } else {
        if (kindArg === undefined || name === undefined) throw new CliError(EXIT.BAD_INPUT, 'delete needs KIND NAME (e.g. trellisctl delete gnp deny-ssh) or -f FILE');
        keys = [keyFromArgs(kindArg, name, opts.namespace)];
      }
      await withStore(cmd, async (store) => {
        const refused: string[] = [];
        for (const key of keys) {
          try {
            // A pool's blocks outlive it (see poolDeletedNote): read them before they are orphans.
            const blocks = key.kind === 'IPPool' ? (await ipamUsage(store)).pools.find((p) => p.name === key.name)?.blocks ?? [] : null;
            await store.delete(key);
            print(`${describeKey(key)} deleted`);
            if (blocks) process.stderr.write(`trellisctl: note: ${poolDeletedNote(key.name, blocks)}\n`);
          } catch (err) {
            if (isStoreRefusal(err)) {
              process.stderr.write(`trellisctl: ${err.message}\n`);
              refused.push(describeKey(key));
              continue;
            }
            throw err;
          }
        }
        await warnMissingFilters(store, keys.map((k) => k.kind));
        if (refused.length > 0) throw new CliError(EXIT.REFUSED, `${refused.length} of ${keys.length} resources not deleted: ${refused.join(', ')}`);
      });
    });

  program.command('get')
    .description('show resources of a kind, or one by name')
    .argument('<kind>', 'resource kind: networkpolicy|np, globalnetworkpolicy|gnp, profile, namespace|ns, wep, hep, ippool, node, bgppeer, bgpconfig, bgpfilter|bf')
    .argument('[name]', 'resource name')
    .option('-n, --namespace <ns>', 'namespace (namespaced kinds; default "default")')
    .option('-A, --all-namespaces', 'every namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json', 'wide', 'table']).default('table'))
    .action(async (kindArg: string, name: string | undefined, opts: { namespace?: string; allNamespaces?: boolean; output: string }, cmd: Command) => {
      const kind = resolveKind(kindArg);
      const output = OUTPUT_FORMATS.find((f) => f === opts.output) ?? 'table';
      await withStore(cmd, (store) => get(store, kind, name, {
        output,
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(opts.allNamespaces ? { allNamespaces: true } : {}),
      }));
    });
}
