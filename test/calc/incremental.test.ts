// The incremental calculator must always equal the full computation over the same
// resources: random (seeded) sequences of upserts and removes over a small universe of
// namespaces, profiles, endpoints, policies and pools (and staged policies, which must
// change nothing), compared after every step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState, createCalculator, createClusterView, explainFlow, explainIn, matrixIn, type ExplainQuestion } from '../../src/calc/index.js';
import { resourceKey, type Resource } from '../../src/model/index.js';
import { gnetset, gnp, hep, namespace, netset, np, pool, profile, sgnp, snp, tier, wep } from './_fixtures.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const maybe = (p = 0.5) => rand() < p;
  const NS = ['ns0', 'ns1', 'ns2'];
  const labelsOf = () => {
    const l: Record<string, string> = {};
    if (maybe()) l.app = pick(['web', 'db', 'cli']);
    if (maybe(0.3)) l.tier = pick(['1', '2']);
    return l;
  };
  const SELECTORS = ['', 'all()', 'app == "web"', 'app == "db"', 'has(tier)', 'app in {"web", "db"}', 'tier == "1" || app == "cli"', '!has(app)', 'trusted == "yes"'];
  const NS_SELECTORS = ['team == "x"', 'all()', 'has(team)', 'projectcalico.org/name == "ns1"', 'global()'];
  const entity = () => {
    const e: Record<string, unknown> = {};
    if (maybe(0.4)) e.selector = pick(SELECTORS);
    if (maybe(0.2)) e.notSelector = pick(SELECTORS);
    if (maybe(0.2)) e.namespaceSelector = pick(NS_SELECTORS);
    if (maybe(0.15)) e.nets = [pick(['10.0.0.0/16', '10.0.1.0/24', 'fd00::/64', '192.0.2.0/24'])];
    if (maybe(0.1)) e.notNets = [pick(['10.0.0.0/16', 'fd00::/64'])];
    return e;
  };
  const rule = () => {
    const r: Record<string, unknown> = { action: pick(['Allow', 'Deny', 'Pass', 'Log']) };
    if (maybe(0.5)) r.source = entity();
    const dst = maybe(0.5) ? entity() : undefined;
    if (maybe(0.4)) {
      r.protocol = pick(['TCP', 'UDP']);
      const d = dst ?? {};
      d.ports = [pick([80, '8000:8100', 'http', 'dns'])];
      r.destination = d;
    } else if (dst) r.destination = dst;
    return r;
  };
  const rules = () => Array.from({ length: Math.floor(rand() * 3) }, rule);
  const policySpec = (global: boolean) => {
    const s: Record<string, unknown> = {};
    if (maybe(0.7)) s.order = pick([1, 10, 100]);
    if (maybe(0.8)) s.selector = pick(SELECTORS);
    if (maybe(0.6)) s.ingress = rules();
    if (maybe(0.5)) s.egress = rules();
    if (maybe(0.3)) s.types = pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
    if (global && maybe(0.3)) s.namespaceSelector = pick(NS_SELECTORS);
    return s;
  };
  const TIERS = ['default', 'platform', 'tenant'];
  // A tiered policy is named TIER.NAME, as Calico names it; a tier without its Tier resource is possible too.
  const tiered = (name: string, spec: Record<string, unknown>) => {
    const t = maybe(0.5) ? 'default' : pick(TIERS);
    return t === 'default' ? { name, spec } : { name: `${t}.${name}`, spec: { ...spec, tier: t } };
  };
  const makers: Array<() => Resource> = [
    () => namespace(pick(NS), maybe(0.8) ? { team: pick(['x', 'y']) } : {}),
    () => profile(`p${Math.floor(rand() * 3)}`, { ingress: rules(), egress: rules(), ...(maybe(0.5) ? { labelsToApply: { trusted: pick(['yes', 'no']) } } : {}) }),
    () => {
      const i = Math.floor(rand() * 12);
      const ip = maybe(0.8) ? `10.0.${i % 3}.${i + 1 + (maybe(0.1) ? 1 : 0)}/32` : `fd00::${i + 1}/128`;
      return wep(NS[i % 3]!, `e${i}`, {
        node: pick(['n0', 'n1']), ip: maybe(0.2) ? [ip, `fd00::${100 + i}/128`] : ip, labels: labelsOf(),
        profiles: maybe(0.7) ? [pick(['p0', 'p1', 'p2', 'p3'])] : [],
        ports: maybe(0.5) ? [{ name: pick(['http', 'dns']), protocol: pick(['TCP', 'UDP']), port: pick([80, 53, 8080]), ...(maybe(0.2) ? { hostPort: 30000 + i } : {}) }] : [],
      });
    },
    () => hep(`h${Math.floor(rand() * 3)}`, { ips: [pick(['10.0.9.1', '10.0.9.2', 'fd00::99'])], labels: labelsOf(), node: 'n0' }),
    () => { const p = tiered(`np${Math.floor(rand() * 4)}`, policySpec(false)); return np(pick(NS), p.name, p.spec); },
    () => { const p = tiered(`g${Math.floor(rand() * 4)}`, policySpec(true)); return gnp(p.name, p.spec); },
    () => pool(`pool${Math.floor(rand() * 2)}`, pick(['10.0.0.0/16', 'fd00::/64', '10.0.0.0/8']), { natOutgoing: maybe(), disabled: maybe(0.2) }),
    () => (maybe()
      ? netset(pick(NS), `s${Math.floor(rand() * 3)}`, [pick(['192.0.2.0/24', '198.51.100.7/32', '2001:db8::/64', '10.0.0.0/8'])], labelsOf())
      : gnetset(`gs${Math.floor(rand() * 3)}`, [pick(['203.0.113.0/24', '0.0.0.0/0', '2001:db8:1::/48'])], labelsOf())),
    () => tier(pick(['platform', 'tenant']), { ...(maybe(0.8) ? { order: pick([10, 100, 2_000_000]) } : {}), defaultAction: pick(['Deny', 'Pass'] as const) }),
    // Staged policies under the enforced ones' names: never enforced, so never in the state.
    () => {
      const action = pick(['Set', 'Delete', 'Learn', 'Ignore']);
      const spec = (global: boolean) => (action === 'Delete' ? { stagedAction: action } : { ...policySpec(global), stagedAction: action });
      return maybe() ? snp(pick(NS), `np${Math.floor(rand() * 4)}`, spec(false)) : sgnp(`g${Math.floor(rand() * 4)}`, spec(true));
    },
  ];
  const weights = [1, 1, 4, 1, 2, 2, 1, 1, 1, 1];
  const once = (): Resource => {
    let x = rand() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < makers.length; i++) {
      x -= weights[i]!;
      if (x < 0) return makers[i]!();
    }
    return makers[0]!();
  };
  // A random rule can be one the schema refuses (IPv4 source nets, IPv6 destination nets):
  // draw again, as a user would have had to write it again.
  return (): Resource => {
    for (;;) {
      try { return once(); } catch (e) { if (!(e instanceof Error && e.name === 'ZodError')) throw e; }
    }
  };
}

const keyOf = (r: Resource) => { const k = resourceKey(r); return `${k.kind}/${k.namespace ?? ''}/${k.name}`; };

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`random sequence (seed ${seed}): incremental state equals the full computation after every step`, () => {
    const rand = prng(seed);
    const next = generator(rand);
    const node = seed % 2 === 0 ? 'n0' : 'n1';
    const calc = createCalculator(node);
    const current = new Map<string, Resource>();
    for (let step = 0; step < 250; step++) {
      const keys = [...current.keys()];
      let op: string;
      if (keys.length > 0 && rand() < 0.25) {
        const k = keys[Math.floor(rand() * keys.length)]!;
        const r = current.get(k)!;
        current.delete(k);
        calc.remove(resourceKey(r));
        op = `remove ${k}`;
      } else {
        const r = next();
        current.set(keyOf(r), r);
        calc.upsert(r);
        op = `upsert ${keyOf(r)}`;
      }
      const want = computeDesiredState({ nodeName: node, resources: [...current.values()] });
      assert.equal(calc.state(), want, `seed ${seed} step ${step} (${op}): incremental state differs from full`);
    }
  });
}

/** The result, or the error message explain gave: both views must agree on either. */
function outcome(f: () => unknown): unknown {
  try { return f(); } catch (e) { return `error: ${(e as Error).message}`; }
}

for (const seed of [11, 12, 13]) {
  test(`random sequence (seed ${seed}): explain over the calculator equals explain over the resources for every pair`, () => {
    const rand = prng(seed);
    const next = generator(rand);
    const calc = createCalculator(seed % 2 === 0 ? 'n0' : 'n1');
    const view = createClusterView(calc);
    const current = new Map<string, Resource>();
    let compared = 0;
    for (let step = 0; step < 160; step++) {
      const keys = [...current.keys()];
      if (keys.length > 0 && rand() < 0.25) {
        const k = keys[Math.floor(rand() * keys.length)]!;
        calc.remove(resourceKey(current.get(k)!));
        current.delete(k);
      } else {
        const r = next();
        current.set(keyOf(r), r);
        calc.upsert(r);
      }
      if (step % 16 !== 15) continue;
      const resources = [...current.values()];
      const refs = resources.flatMap((r) => (r.kind === 'WorkloadEndpoint' ? [`${r.metadata.namespace ?? 'default'}/${r.metadata.name}`] : []));
      for (const q of [{ protocol: 'TCP', port: 80 }, { protocol: 'UDP', port: 53 }, { protocol: 'ICMP' }] as const) {
        const m = matrixIn(view, refs, q);
        refs.forEach((a, i) => refs.forEach((b, j) => {
          const one = outcome(() => explainIn(view, { from: { endpoint: a }, to: { endpoint: b }, ...q }));
          const want = typeof one === 'object' && one !== null && 'allowed' in one ? one.allowed : false;
          assert.is(m[i]![j], want, `seed ${seed} step ${step}: matrix ${a} -> ${b} ${JSON.stringify(q)} equals explain`);
        }));
      }
      const froms = [...refs.map((endpoint) => ({ endpoint })), { cidr: '10.0.1.2' }, { cidr: '192.0.2.7' }];
      for (const from of froms) {
        for (const to of refs) {
          for (const q of [{ protocol: 'TCP', port: 80 }, { protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 8080 }] as const) {
            const question: ExplainQuestion = { from, to: { endpoint: to }, ...q };
            const want = outcome(() => explainFlow({ resources, ...question }));
            const got = outcome(() => explainIn(view, question));
            assert.equal(got, want, `seed ${seed} step ${step}: ${JSON.stringify(question)}`);
            compared++;
          }
        }
      }
    }
    assert.ok(compared > 100, `compared ${compared} flows`);
  });
}

test('generation moves on relevant changes only, and state() is reused while it stands', () => {
  const calc = createCalculator('n0');
  calc.upsert(namespace('ns0'));
  const g = calc.generation();
  const s1 = calc.state();
  assert.is(calc.state(), s1, 'state() without updates returns the same object');
  calc.upsert({ apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: {} } as Resource);
  assert.is(calc.generation(), g, 'a BGP resource does not move the generation');
  calc.upsert(wep('ns0', 'a', { node: 'n0', ip: '10.0.0.1/32' }));
  assert.ok(calc.generation() > g, 'an endpoint moves the generation');
  const s2 = calc.state();
  assert.is(s2.endpoints.length, 1, 'the local endpoint is in the state');
  calc.upsert(wep('ns0', 'b', { node: 'n1', ip: '10.0.0.2/32' }));
  assert.is(calc.state().endpoints[0], s2.endpoints[0], 'an unchanged endpoint state is the same object');
});

test.run();
