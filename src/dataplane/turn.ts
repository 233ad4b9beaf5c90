// The dataplane's long steps (planning and encoding a full BGP table) let the event loop run
// between slices: other sessions' keepalives and the API go first.
export const nextTurn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));
