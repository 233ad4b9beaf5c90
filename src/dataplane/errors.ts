// Typed dataplane errors: a code callers can branch on and a message an operator can act on.
import { TrellisError } from '../model/index.js';

export type DataplaneErrorCode = 'EXEC_FAILED' | 'PARSE_FAILED' | 'INVALID_STATE';

export class DataplaneError extends TrellisError<DataplaneErrorCode> {}
