// `trellisctl policy explain --from NS/ENDPOINT|CIDR --to NS/ENDPOINT --port 80/TCP`:
// which policy or profile rule decides a new connection, evaluated on the same compiled
// rules and sets the dataplane renders (calc's explainFlow). Resources come from etcd, or
// with -f from files (offline). Exit 0 whether the flow is allowed or denied (the answer
// is the output), 2 on bad input. `--staged` answers for the cluster with its staged
// policies carried out; `policy preview` lists every pair of endpoints they would change.
import type { Command } from 'commander';
import {
  applyStaged, canonicalCidr, computeDesiredState, describeKey, ExplainError, explainFlow, explainHostFlow, formatExplanation, formatPreview,
  formatStagedChanges, isStagedPolicy, isValidCidrOrIp, previewStaged, resourceKey, resourceView, type ExplainInput, type Kind, type Resource,
} from '../core.js';
import { print, withStore } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { readResources } from '../files.js';
import { missingProfileNotes, resolveEndpointRef } from './explain-refs.js';

/** The kinds that shape policy decisions (and the staged policies that would). */
const POLICY_KINDS: Kind[] = [
  'Namespace', 'Profile', 'Tier', 'NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy',
  'WorkloadEndpoint', 'HostEndpoint', 'NetworkSet', 'GlobalNetworkSet',
];

interface ExplainOpts { from: string; to: string; port: string; file?: string[]; output?: string; ipVersion?: string; srcPort?: string; staged?: boolean }
interface PreviewOpts { file?: string[]; offline?: boolean; port: string; output?: string }

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** "80/TCP", "80" (TCP), "53/UDP", "ICMP", "ICMP/8", "ICMP/8/0", "ICMPv6/128". */
export function parsePortSpec(spec: string): Pick<ExplainInput, 'protocol' | 'port' | 'icmp'> {
  const parts = spec.split('/');
  const bad = () => new CliError(EXIT.BAD_INPUT, `--port "${spec}": expected PORT/PROTOCOL (80/TCP, 53/UDP), or ICMP[/TYPE[/CODE]] / ICMPv6[/TYPE[/CODE]]`);
  const num = (s: string | undefined, max: number) => {
    if (s === undefined || !/^\d+$/.test(s) || Number(s) > max) throw bad();
    return Number(s);
  };
  if (/^\d+$/.test(parts[0] ?? '')) {
    if (parts.length > 2) throw bad();
    const proto = parts[1] ?? 'TCP';
    if (!/^(tcp|udp|sctp|udplite)$/i.test(proto)) throw bad();
    return { protocol: proto, port: num(parts[0], 65535) };
  }
  const proto = parts[0] ?? '';
  if (!/^icmp(v6)?$/i.test(proto) || parts.length > 3) throw bad();
  const out: Pick<ExplainInput, 'protocol' | 'port' | 'icmp'> = { protocol: proto.toLowerCase() === 'icmp' ? 'ICMP' : 'ICMPv6' };
  if (parts.length >= 2) {
    out.icmp = { type: num(parts[1], 254) };
    if (parts.length === 3) out.icmp.code = num(parts[2], 255);
  }
  return out;
}

async function storedResources(cmd: Command): Promise<Resource[]> {
  return withStore(cmd, async (store) => {
    const lists = await Promise.all(POLICY_KINDS.map((k) => store.list(k)));
    return lists.flat().map((s) => s.resource);
  });
}

async function loadResources(cmd: Command, files: string[] | undefined): Promise<Resource[]> {
  if (files && files.length > 0) return readResources(files);
  return storedResources(cmd);
}

/**
 * The stored cluster with the files' staged policies over it (a file's wins over a stored
 * one of the same name), or with --offline the files alone. Only staged policies may come
 * from files over the store: anything else would preview a change no staged policy makes.
 */
async function previewResources(cmd: Command, opts: PreviewOpts): Promise<Resource[]> {
  const files = opts.file ?? [];
  if (opts.offline) {
    if (files.length === 0) throw new CliError(EXIT.BAD_INPUT, '--offline needs the whole cluster in -f FILE|DIR|- (endpoints, profiles, policies and the staged policies)');
    return readResources(files);
  }
  const given = files.length > 0 ? readResources(files) : [];
  const other = given.find((r) => !isStagedPolicy(r));
  if (other) {
    throw new CliError(EXIT.BAD_INPUT, `${describeKey(resourceKey(other))} is not a staged policy: -f gives StagedNetworkPolicy or StagedGlobalNetworkPolicy to preview over the stored cluster (apply other kinds, or give the whole cluster with --offline)`);
  }
  return [...await storedResources(cmd), ...given];
}

type Hep = Extract<Resource, { kind: 'HostEndpoint' }>;
const HOST_REF = /^(HOST|HostEndpoint)\//;

/**
 * The HostEndpoint a --from/--to names: HOST/<name>, HostEndpoint/<name>, or an address in
 * the expectedIPs of one that polices an interface (one with only expectedIPs polices
 * nothing, so its address stays a plain address). Undefined: not a host endpoint.
 */
function hostEndpointNamed(resources: readonly Resource[], ref: string, flag: '--from' | '--to'): Hep | undefined {
  const heps = resources.filter((r): r is Hep => r.kind === 'HostEndpoint');
  if (HOST_REF.test(ref)) {
    const name = ref.replace(HOST_REF, '');
    const hep = heps.find((h) => h.metadata.name === name);
    if (!hep) throw new CliError(EXIT.BAD_INPUT, `${flag} ${ref}: no HostEndpoint ${name} (host endpoints: ${heps.map((h) => h.metadata.name).sort().join(', ') || 'none'})`);
    return hep;
  }
  if (!isValidCidrOrIp(ref) || (ref.includes('/') && !/\/(32|128)$/.test(ref))) return undefined;
  const cidr = canonicalCidr(ref);
  return heps.filter((h) => h.spec.interfaceName !== undefined && (h.spec.expectedIPs ?? []).some((a) => canonicalCidr(a) === cidr))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))[0];
}

/**
 * A flow to (--to) or from (--from) a host endpoint, evaluated on the DesiredState of its
 * node as that node's trellisd computes it, so the text is the API's /explain answer; a
 * workload on another node is evaluated on its own node's state. The failsafes and
 * DefaultEndpointToHostAction are trellisd settings the store does not hold: Calico's
 * defaults are assumed.
 */
function explainHost(resources: readonly Resource[], hep: Hep, from: string, to: string, input: ExplainInput) {
  // ICMP has no port: the host evaluation takes it by protocol number.
  const protocol = input.protocol === 'ICMP' ? '1' : input.protocol === 'ICMPv6' ? '58' : String(input.protocol);
  try {
    const ds = computeDesiredState({ nodeName: hep.spec.node, resources });
    return explainHostFlow(ds, {
      from, to, protocol,
      ...(input.port !== undefined ? { port: input.port } : {}), ...(input.srcPort !== undefined ? { srcPort: input.srcPort } : {}), ...(input.icmp ? { icmp: input.icmp } : {}),
    }, resourceView(resources));
  } catch (err) {
    if (err instanceof ExplainError) {
      throw new CliError(EXIT.BAD_INPUT, `${err.message}${hep.spec.interfaceName === undefined ? ` (HostEndpoint ${hep.metadata.name} has no interfaceName: it polices nothing)` : ''}`);
    }
    throw err;
  }
}

export function register(program: Command): void {
  const policy = program.command('policy').description('policy tools');
  policy.command('explain')
    .description('explain which policy or profile rule allows or denies a new connection')
    .requiredOption('--from <source>', 'NAMESPACE/ENDPOINT (its name, workload or container), an address/CIDR, or HOST/<host endpoint> (or its address)')
    .requiredOption('--to <destination>', 'NAMESPACE/ENDPOINT (its name, workload or container), an endpoint\'s address, or HOST/<host endpoint> (or its address)')
    .option('--port <port/protocol>', '80/TCP, 53/UDP, ICMP/8, ICMPv6/128 ...', '80/TCP')
    .option('--src-port <port>', 'source port, for rules that test it (default: unknown, such rules do not match)')
    .option('--ip-version <4|6>', 'address family to explain when both ends have both (default 4)')
    .option('-f, --file <path>', 'evaluate these files (FILE, DIR or -) instead of etcd; repeatable', collect)
    .option('--staged', 'answer with the staged policies carried out (their stagedAction), as `policy preview` does')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: ExplainOpts, cmd: Command) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new CliError(EXIT.BAD_INPUT, `-o ${opts.output}: expected text or json`);
      const fromIsCidr = /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(opts.from) && (opts.from.includes('.') || opts.from.includes(':'));
      const input: ExplainInput = {
        resources: [],
        from: fromIsCidr ? { cidr: opts.from } : { endpoint: opts.from },
        to: { endpoint: opts.to },
        ...parsePortSpec(opts.port),
      };
      if (opts.ipVersion !== undefined) {
        if (opts.ipVersion !== '4' && opts.ipVersion !== '6') throw new CliError(EXIT.BAD_INPUT, `--ip-version ${opts.ipVersion}: expected 4 or 6`);
        input.ipVersion = Number(opts.ipVersion) as 4 | 6;
      }
      if (opts.srcPort !== undefined) {
        if (!/^\d+$/.test(opts.srcPort) || Number(opts.srcPort) > 65535) throw new CliError(EXIT.BAD_INPUT, `--src-port ${opts.srcPort}: expected 0-65535`);
        input.srcPort = Number(opts.srcPort);
      }
      input.resources = await loadResources(cmd, opts.file);
      let staged: string[] = [];
      if (opts.staged) {
        const applied = applyStaged(input.resources);
        input.resources = applied.resources;
        staged = formatStagedChanges(applied.changes).map((l) => `staged: ${l}`);
        if (staged.length === 0) staged = ['staged: no staged policies, so this is the verdict in force'];
      }
      const toHost = hostEndpointNamed(input.resources, opts.to, '--to');
      const fromHost = hostEndpointNamed(input.resources, opts.from, '--from');
      const hep = toHost ?? fromHost;
      if (hep) {
        // The other end: a workload by any name it goes by, or an address (explain finds its owner).
        const other = (ref: string, flag: '--from' | '--to') => (isValidCidrOrIp(ref) || hostEndpointNamed(input.resources, ref, flag) ? ref : resolveEndpointRef(input.resources, ref, flag));
        const host = explainHost(input.resources, hep, toHost ? other(opts.from, '--from') : opts.from, toHost ? opts.to : other(opts.to, '--to'), input);
        print(opts.output === 'json' ? JSON.stringify(host.result, null, 2) : [host.text.trimEnd(), ...staged.map((l) => `note: ${l}`)].join('\n'));
        return;
      }
      input.to = { endpoint: resolveEndpointRef(input.resources, opts.to, '--to') };
      if (!fromIsCidr) input.from = { endpoint: resolveEndpointRef(input.resources, opts.from, '--from') };
      let result;
      try {
        result = explainFlow(input);
      } catch (err) {
        if (err instanceof ExplainError) throw new CliError(EXIT.BAD_INPUT, err.message);
        throw err;
      }
      result.notes.push(...missingProfileNotes(input.resources, [result.to, ...(result.egress ? [result.from] : [])]), ...staged);
      print(opts.output === 'json' ? JSON.stringify(result, null, 2) : formatExplanation(result));
    });

  policy.command('preview')
    .description('which verdicts between endpoints the staged policies would change (nothing is enforced)')
    .option('-f, --file <path>', 'staged policies (FILE, DIR or -) to preview with the stored ones; repeatable', collect)
    .option('--offline', 'the files are the whole cluster: do not read etcd')
    .option('--port <port/protocol>', '80/TCP, 53/UDP, ICMP ...', '80/TCP')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: PreviewOpts, cmd: Command) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new CliError(EXIT.BAD_INPUT, `-o ${opts.output}: expected text or json`);
      const q = parsePortSpec(opts.port);
      // The matrix asks per protocol and port; an ICMP type would be a question it cannot put.
      if (q.icmp) throw new CliError(EXIT.BAD_INPUT, `--port ${opts.port}: preview takes a protocol without ICMP type (ICMP, ICMPv6)`);
      const resources = await previewResources(cmd, opts);
      const p = previewStaged(resources, { protocol: q.protocol, ...(q.port !== undefined ? { port: q.port } : {}) });
      print(opts.output === 'json' ? JSON.stringify(p, null, 2) : formatPreview(p));
    });
}
