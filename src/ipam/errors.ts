// Typed IPAM errors: a code a caller can branch on (the CNI plugin maps them to CNI
// error codes, trellisctl to exit codes) and a message a user can act on.
import { TrellisError } from '../model/index.js';

export type IpamErrorCode =
  | 'ADDRESS_IN_USE'
  | 'ADDRESS_RESERVED'
  | 'POOL_EXHAUSTED'
  | 'NO_POOL'
  | 'HANDLE_IN_USE'
  | 'INVALID_REQUEST'
  | 'CONFLICT_RETRIES'
  | 'CORRUPT_RECORD';

export class IpamError extends TrellisError<IpamErrorCode> {}
