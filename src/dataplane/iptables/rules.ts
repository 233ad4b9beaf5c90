// Compiled policy rules -> iptables rule bodies (the text after "-A <chain>"), per family.
// A rule with several port alternatives (numeric ports beyond one multiport match, named
// port sets) becomes several iptables rules with the same target: ports OR, everything
// else AND, as in Calico.
import type { CompiledRule, Family, PortRange } from '../../calc/index.js';
import { PROTOCOLS, protocolByNumber } from '../../model/index.js';
import { MARK_ACCEPT, MARK_PASS, hex, setName } from './names.js';

const PORT_PROTOS = new Set(PROTOCOLS.filter((p) => p.carriesPorts).map((p) => p.number));
/** multiport takes at most 15 ports, a range counting twice. */
const MULTIPORT_MAX = 15;

export function protoName(p: number): string {
  return protocolByNumber(p)?.kernel ?? String(p);
}

/** Quotes a comment or log prefix for iptables-restore (no quotes or backslashes inside). */
export function quote(s: string, max = 255): string {
  return `"${s.replace(/["\\]/g, "'").replace(/[\r\n]/g, ' ').slice(0, max)}"`;
}

function portText(p: PortRange): string {
  return p.from === p.to ? String(p.from) : `${p.from}:${p.to}`;
}

/** Splits ports into multiport-sized chunks. */
export function portChunks(ports: PortRange[]): string[] {
  const chunks: string[] = [];
  let cur: string[] = [];
  let weight = 0;
  for (const p of ports) {
    const w = p.from === p.to ? 1 : 2;
    if (weight + w > MULTIPORT_MAX) {
      chunks.push(cur.join(','));
      cur = [];
      weight = 0;
    }
    cur.push(portText(p));
    weight += w;
  }
  if (cur.length) chunks.push(cur.join(','));
  return chunks;
}

export interface RuleRenderContext {
  family: Family;
  /** Set names this family's rules reference (filled in while rendering). */
  setRefs: Set<string>;
}

/** Whether a rule applies to a family at all. */
export function ruleInFamily(rule: CompiledRule, family: Family): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== family) return false;
  if (rule.protocol === 1 && family === 6) return false;
  if (rule.protocol === 58 && family === 4) return false;
  return true;
}

/**
 * The match parts of a compiled rule for one family: one string per iptables rule (port
 * alternatives), or [] when the rule cannot match in this family.
 */
export function ruleMatches(rule: CompiledRule, ctx: RuleRenderContext): string[] {
  if (rule.neverMatches || !ruleInFamily(rule, ctx.family)) return [];
  const f = ctx.family;
  const hasIcmp = rule.icmp !== undefined || rule.notIcmp !== undefined;
  let protocol = rule.protocol;
  if (protocol === undefined && hasIcmp) protocol = f === 4 ? 1 : 58;
  const needsPorts = rule.srcPorts.length + rule.notSrcPorts.length + rule.dstPorts.length + rule.notDstPorts.length
    + rule.srcNamedPortSets.length + rule.dstNamedPortSets.length > 0;
  // Ports only exist for port protocols; validation refuses the rest, so such a rule matches nothing.
  if (needsPorts && (protocol === undefined || !PORT_PROTOS.has(protocol))) return [];
  const base: string[] = [];
  if (protocol !== undefined) base.push(`-p ${protoName(protocol)}`);
  if (rule.notProtocol !== undefined) base.push(`! -p ${protoName(rule.notProtocol)}`);
  const set = (id: string, neg: boolean, dir: string) => {
    const n = setName(id, f);
    ctx.setRefs.add(n);
    return `-m set ${neg ? '! ' : ''}--match-set ${n} ${dir}`;
  };
  for (const id of rule.srcSets) base.push(set(id, false, 'src'));
  for (const id of rule.notSrcSets) base.push(set(id, true, 'src'));
  for (const id of rule.dstSets) base.push(set(id, false, 'dst'));
  for (const id of rule.notDstSets) base.push(set(id, true, 'dst'));
  for (const c of portChunks(rule.notSrcPorts)) base.push(`-m multiport ! --sports ${c}`);
  for (const c of portChunks(rule.notDstPorts)) base.push(`-m multiport ! --dports ${c}`);
  if (rule.icmp || rule.notIcmp) {
    const icmpText = (t: { type: number; code?: number }) => (t.code === undefined ? `${t.type}` : `${t.type}/${t.code}`);
    const [mod, opt] = f === 4 ? ['icmp', '--icmp-type'] : ['icmp6', '--icmpv6-type'];
    if (rule.icmp) base.push(`-m ${mod} ${opt} ${icmpText(rule.icmp)}`);
    if (rule.notIcmp) base.push(`-m ${mod} ! ${opt} ${icmpText(rule.notIcmp)}`);
  }
  const alternatives = (ports: PortRange[], named: string[], dir: 'src' | 'dst'): string[] => {
    if (ports.length === 0 && named.length === 0) return [''];
    const opt = dir === 'src' ? '--sports' : '--dports';
    return [
      ...portChunks(ports).map((c) => `-m multiport ${opt} ${c}`),
      ...named.map((id) => set(id, false, `${dir},${dir}`)),
    ];
  };
  const out: string[] = [];
  for (const s of alternatives(rule.srcPorts, rule.srcNamedPortSets, 'src')) {
    for (const d of alternatives(rule.dstPorts, rule.dstNamedPortSets, 'dst')) {
      out.push([...base, s, d].filter(Boolean).join(' '));
    }
  }
  return out;
}

export type RuleOwner = 'policy' | 'profile';

/**
 * Renders a policy's or profile's rules for one direction into a chain body. Allow marks
 * and returns; Pass (policy) marks pass and returns, (profile) returns unmarked; Deny drops;
 * Log logs and continues.
 */
export function renderRuleList(rules: CompiledRule[], owner: RuleOwner, logName: string, dirLetter: 'i' | 'e', ctx: RuleRenderContext): string[] {
  const out: string[] = [];
  rules.forEach((rule, idx) => {
    const matches = ruleMatches(rule, ctx);
    if (matches.length === 0) return;
    const comment = `-m comment --comment ${quote(rule.origin)}`;
    const line = (m: string, target: string) => [m, comment, target].filter(Boolean).join(' ');
    switch (rule.action) {
      case 'Allow':
        for (const m of matches) out.push(line(m, `-j MARK --set-xmark ${hex(MARK_ACCEPT)}/${hex(MARK_ACCEPT)}`));
        out.push(`-m mark --mark ${hex(MARK_ACCEPT)}/${hex(MARK_ACCEPT)} -j RETURN`);
        break;
      case 'Deny':
        for (const m of matches) out.push(line(m, '-j DROP'));
        break;
      case 'Log': {
        const prefix = quote(`${logName.slice(0, 20)} ${dirLetter}${idx}: `, 29);
        for (const m of matches) out.push(line(m, `-j LOG --log-prefix ${prefix}`));
        break;
      }
      case 'Pass':
        if (owner === 'profile') {
          for (const m of matches) out.push(line(m, '-j RETURN'));
        } else {
          for (const m of matches) out.push(line(m, `-j MARK --set-xmark ${hex(MARK_PASS)}/${hex(MARK_PASS)}`));
          out.push(`-m mark --mark ${hex(MARK_PASS)}/${hex(MARK_PASS)} -j RETURN`);
        }
        break;
    }
  });
  return out;
}
