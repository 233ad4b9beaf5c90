// Typed dataplane errors: a code callers can branch on and a message an operator can act on.
export type DataplaneErrorCode = 'EXEC_FAILED' | 'PARSE_FAILED' | 'INVALID_STATE';

export class DataplaneError extends Error {
  readonly code: DataplaneErrorCode;
  constructor(code: DataplaneErrorCode, message: string) {
    super(message);
    this.name = 'DataplaneError';
    this.code = code;
  }
}
