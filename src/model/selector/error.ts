// The one error the selector language throws: code, and the 1-based column to fix.
export class SelectorError extends Error {
  readonly code = 'SELECTOR_SYNTAX';
  constructor(message: string, readonly column: number, readonly expression: string) {
    super(message);
    this.name = 'SelectorError';
  }
}
