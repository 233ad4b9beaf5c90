// The spec's error codes and error object as plain data, importing nothing: the plugin's
// fast path (client.ts, handing the call to trellisd) loads this and not spec.ts, whose
// CniError extends TrellisError and so loads the whole model face (zod, yaml, ipaddr.js),
// about 110 ms before main on every CNI call (measured by the cni bench's nodeStart).

/** Error codes from the spec (1-99 reserved), and Trellis's own above 100. */
export const CNI_ERR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  /** STATUS: cannot serve ADD now. */
  PLUGIN_NOT_AVAILABLE: 50,
  POOL_EXHAUSTED: 101,
  ADDRESS_IN_USE: 102,
  NO_POOL: 103,
  CHECK_FAILED: 110,
  INTERNAL: 999,
} as const;

/** The spec's error object; takes any error with a CNI code (CniError, or one built on the fast path). */
export function encodeError(version: string, e: { code: number; message: string; details?: string }): Record<string, unknown> {
  return { cniVersion: version, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) };
}
