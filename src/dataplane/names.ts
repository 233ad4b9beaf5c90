// Names every policy backend and the plumbing share: the host-side workload interface
// prefix, what Linux accepts as an interface name, and the one string order used for
// deterministic output.

/** Host-side workload interfaces are named trl<something>; traffic on one we do not know is dropped. */
export const WORKLOAD_IFACE_PREFIX = 'trl';

const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;
export function validIfaceName(name: string): boolean {
  return IFACE_RE.test(name);
}

// The string order is the model's (calc sorts with it too); passed on for the backends.
export { byCodePoint } from '../model/index.js';
