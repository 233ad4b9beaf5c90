// Typed store errors: what callers branch on (code) and what a user reads (message).
import { TrellisError } from '../model/index.js';

export type StoreErrorCode = 'CONFLICT' | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'UNAVAILABLE' | 'INVALID';

export class StoreError extends TrellisError<StoreErrorCode> {}

/** Wraps a client/transport failure as UNAVAILABLE, keeping StoreErrors as they are. */
export function asStoreError(err: unknown, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  // gRPC messages carry a trailing "Resolution note:" and more lines; the first line says it.
  const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/\s*Resolution note:.*$/, '').trim();
  return new StoreError('UNAVAILABLE', `etcd unavailable while ${doing}: ${detail}`, { cause: err });
}
