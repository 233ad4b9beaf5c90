// Selector language face. PLACEHOLDER until the selector parser lands: the contract is
//   parseSelector(expr) -> Selector { source, canonical, matches(labels) } or throws SelectorError
//   selectorIssue(expr) -> null when valid, else the error message (with column)
export interface Selector {
  readonly source: string;
  /** Canonical string form: equivalent selectors share it (used to name ipsets). */
  readonly canonical: string;
  matches(labels: Readonly<Record<string, string>>): boolean;
}

export class SelectorError extends Error {
  readonly code = 'SELECTOR_SYNTAX';
  constructor(message: string, readonly column: number, readonly expression: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

export function parseSelector(_expr: string): Selector {
  throw new SelectorError('selector parser not built yet', 1, _expr);
}

export function selectorIssue(_expr: string): string | null {
  return null;
}
