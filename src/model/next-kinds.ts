// Calico kinds that Trellis reads and validates exactly as Calico does, but does not act
// on yet (issue 14): BGPFilter. They are not in `schemas` (the
// store, the CLI and calc know nothing of them yet); a file holding one is refused with
// its validation issues, or, when it is valid, with a message saying that nothing in
// Trellis would act on it, so that no one believes such a resource is in force.
import { z } from 'zod';
import { cidrFamily, isValidCidrOrIp } from './cidr.js';
import { hostBitsProblem } from './checks.js';
import { communityProblem, envelope } from './resources.js';
import type { Problem } from './semantics.js';

const custom = z.ZodIssueCode.custom;

// ---- BGP filters ---------------------------------------------------------------

const asNumber = z.union([z.number().int().min(0).max(4294967295), z.string().regex(/^(\d+|\d+\.\d+)$/, 'must be an AS number (e.g. 64512 or asdot 1.10)')]);
const community = z.string().superRefine((v, ctx) => {
  const p = communityProblem(v);
  if (p) ctx.addIssue({ code: custom, message: p });
});
const BGP_IFACE_RE = /^[a-zA-Z0-9_.*-]{1,15}$/;
const priority = z.number().int().min(1).max(2147483646);

function bgpFilterRule(family: 4 | 6) {
  const max = family === 4 ? 32 : 128;
  const len = z.number().int().min(0).max(max);
  return z.object({
    cidr: z.string().superRefine((c, ctx) => {
      if (!isValidCidrOrIp(c) || cidrFamily(c) !== family) { ctx.addIssue({ code: custom, message: `"${c}" is not an IPv${family} CIDR` }); return; }
      const p = hostBitsProblem(c);
      if (p) ctx.addIssue({ code: custom, message: p });
    }).optional(),
    prefixLength: z.object({ min: len.optional(), max: len.optional() }).strict().optional(),
    source: z.literal('RemotePeers').optional(),
    interface: z.string().refine((s) => BGP_IFACE_RE.test(s), (s) => ({ message: `"${s}" is not an interface name or pattern: 1-15 letters, digits, "_", ".", "-" and "*"` })).optional(),
    matchOperator: z.enum(['Equal', 'NotEqual', 'In', 'NotIn']).optional(),
    peerType: z.enum(['eBGP', 'iBGP']).optional(),
    communities: z.object({ values: z.array(community).length(1, 'must hold exactly one community') }).strict().optional(),
    asPathPrefix: z.array(asNumber).optional(),
    priority: priority.optional(),
    action: z.enum(['Accept', 'Reject']),
    operations: z.array(z.object({
      addCommunity: z.object({ value: community }).strict().optional(),
      prependASPath: z.object({ prefix: z.array(asNumber).min(1).max(10) }).strict().optional(),
      setPriority: z.object({ value: priority }).strict().optional(),
    }).strict().superRefine((op, ctx) => {
      if (Object.values(op).filter((v) => v !== undefined).length !== 1) ctx.addIssue({ code: custom, message: 'needs exactly one of addCommunity, prependASPath, setPriority' });
    })).min(1).max(10).optional(),
  }).strict().superRefine((r, ctx) => {
    if ((r.cidr !== undefined && r.cidr !== '') !== (r.matchOperator !== undefined)) ctx.addIssue({ code: custom, path: [r.cidr ? 'matchOperator' : 'cidr'], message: 'cidr and matchOperator go together: set both or neither' });
    if (r.prefixLength !== undefined && !r.cidr) ctx.addIssue({ code: custom, path: ['prefixLength'], message: 'needs cidr' });
    if ((r.operations?.length ?? 0) > 0 && r.action !== 'Accept') ctx.addIssue({ code: custom, path: ['operations'], message: 'are for action Accept only' });
  });
}
export const bgpFilterSpec = z.object({
  exportV4: z.array(bgpFilterRule(4)).optional(),
  importV4: z.array(bgpFilterRule(4)).optional(),
  exportV6: z.array(bgpFilterRule(6)).optional(),
  importV6: z.array(bgpFilterRule(6)).optional(),
}).strict();

// ---- the kinds -----------------------------------------------------------------

export const nextSchemas = {
  BGPFilter: envelope('BGPFilter', false, bgpFilterSpec),
} as const;

export type NextKind = keyof typeof nextSchemas;
export const NEXT_KINDS = Object.keys(nextSchemas) as NextKind[];
export const NEXT_NAMESPACED_KINDS: ReadonlySet<NextKind> = new Set([]);
export type NextResource = { [K in NextKind]: z.infer<typeof nextSchemas[K]> }[NextKind];
export type BGPFilter = z.infer<typeof nextSchemas.BGPFilter>;

export function isNextKind(k: unknown): k is NextKind {
  return typeof k === 'string' && (NEXT_KINDS as string[]).includes(k);
}

/** Calico's checks across fields for these kinds (user input, as in semantics.ts). */
export function nextSemanticProblems(_r: NextResource): Problem[] {
  return [];
}
