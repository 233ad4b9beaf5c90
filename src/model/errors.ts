// The one error base. Every error Trellis throws on purpose extends it, so callers branch
// on `instanceof` and `code` (never on a class name, which a rename or a bundler changes)
// and a user reads a message that says what to do.

export class TrellisError<C extends string | number = string> extends Error {
  constructor(readonly code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    // The subclass's name, for logs and stack traces; nothing matches on it.
    this.name = new.target.name;
  }
}
