// Constants more than one subsystem must agree on.

/** The version trellisd and trellisctl report. */
export const VERSION = '0.1.0';

/** Route protocol numbers Trellis owns: it only ever reads or writes routes with these.
 *  The workload-attach path and the dataplane both write workload routes, so they share one. */
export const ROUTE_PROTO_WORKLOAD = 78;
export const ROUTE_PROTO_BGP = 79;

/** Plain code-point order: deterministic, and far cheaper than localeCompare on hot paths. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
