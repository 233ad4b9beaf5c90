// Calico kinds that Trellis reads and validates exactly as Calico does, but does not act
// on yet (issue 14): StagedNetworkPolicy, StagedGlobalNetworkPolicy. They are not in `schemas` (the
// store, the CLI and calc know nothing of them yet); a file holding one is refused with
// its validation issues, or, when it is valid, with a message saying that nothing in
// Trellis would act on it, so that no one believes such a resource is in force.
import { z } from 'zod';
import {
  envelope, globalNetworkPolicySpec, networkPolicySpec, type GlobalNetworkPolicy, type NetworkPolicy,
} from './resources.js';
import { semanticProblems, type Problem } from './semantics.js';

// ---- staged policies -----------------------------------------------------------

const STAGED_ACTIONS = ['Set', 'Delete', 'Learn', 'Ignore'] as const;
const stagedAction = z.enum(STAGED_ACTIONS, { errorMap: (_i, c) => ({ message: `${JSON.stringify(c.data)} is not one of ${STAGED_ACTIONS.join(', ')}` }) }).default('Set');

// ---- the kinds -----------------------------------------------------------------

export const nextSchemas = {
  StagedNetworkPolicy: envelope('StagedNetworkPolicy', true, networkPolicySpec.extend({ stagedAction })),
  StagedGlobalNetworkPolicy: envelope('StagedGlobalNetworkPolicy', false, globalNetworkPolicySpec.extend({ stagedAction })),
} as const;

export type NextKind = keyof typeof nextSchemas;
export const NEXT_KINDS = Object.keys(nextSchemas) as NextKind[];
export const NEXT_NAMESPACED_KINDS: ReadonlySet<NextKind> = new Set(['StagedNetworkPolicy']);
export type NextResource = { [K in NextKind]: z.infer<typeof nextSchemas[K]> }[NextKind];
export type StagedNetworkPolicy = z.infer<typeof nextSchemas.StagedNetworkPolicy>;
export type StagedGlobalNetworkPolicy = z.infer<typeof nextSchemas.StagedGlobalNetworkPolicy>;

export function isNextKind(k: unknown): k is NextKind {
  return typeof k === 'string' && (NEXT_KINDS as string[]).includes(k);
}

/** Calico's checks across fields for these kinds (user input, as in semantics.ts). */
export function nextSemanticProblems(r: NextResource): Problem[] {
  switch (r.kind) {
    case 'StagedNetworkPolicy':
    case 'StagedGlobalNetworkPolicy': {
      const { stagedAction: action, tier: _tier, ...rest } = r.spec;
      if (action === 'Delete') {
        const set = Object.keys(rest).filter((k) => (rest as Record<string, unknown>)[k] !== undefined);
        return set.length === 0 ? [] : [{ path: ['spec', set[0]!], message: `must be left out with stagedAction Delete (only tier may be given: ${set.join(', ')} set)` }];
      }
      const enforced = r.kind === 'StagedNetworkPolicy'
        ? { ...r, kind: 'NetworkPolicy', spec: rest } as NetworkPolicy
        : { ...r, kind: 'GlobalNetworkPolicy', spec: rest } as GlobalNetworkPolicy;
      return semanticProblems(enforced);
    }
    default:
      return [];
  }
}
