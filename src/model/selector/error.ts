// The one error the selector language throws: code, and the 1-based column to fix.
import { TrellisError } from '../errors.js';

export class SelectorError extends TrellisError<'SELECTOR_SYNTAX'> {
  constructor(message: string, readonly column: number, readonly expression: string) {
    super('SELECTOR_SYNTAX', message);
  }
}
