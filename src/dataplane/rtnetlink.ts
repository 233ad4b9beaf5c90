// The Node-API helper native/rtnetlink (built by .ci/install; `sh native/build.sh` by hand):
// batched route requests (route-writer.ts) and filtered route notifications
// (route-events.ts). Loaded once, lazily; where it is missing both fall back to iproute2.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** A route notification as the helper reports it (route-events.ts makes it a RouteEvent). */
export interface NativeRouteEvent { deleted: boolean; family: 4 | 6; dst: string; dev: string | null; proto: number; table: number; type: number }

export interface Exchanged {
  failures: Array<{ seq: number; code: string; message: string; detail: string }>;
  /** Requests answered (all of them unless fatal). */
  sent: number;
  /** Why the exchange itself stopped (socket, namespace, lost answers); null when it did not. */
  fatal: string | null;
}

/** kind "ready" | "lost" (no payload), "error" (the message), "routes" (NativeRouteEvent[]). */
export type WatchCallback = (kind: 'ready' | 'lost' | 'error' | 'routes', payload: undefined | string | NativeRouteEvent[]) => void;

export interface RtnetlinkNative {
  exchange(messages: Buffer, netnsPath: string | null): Promise<Exchanged>;
  watchRoutes(netnsPath: string | null, ignoreProto: number, onEvents: WatchCallback): { stop(): void };
}

// src/dataplane/rtnetlink.ts and dist/dataplane/rtnetlink.js both sit two folders below the repository root.
const HELPER = fileURLToPath(new URL('../../native/rtnetlink/build/rtnetlink.node', import.meta.url));

let loaded: { native: RtnetlinkNative } | { error: string } | null = null;

export function loadRtnetlink(): { native: RtnetlinkNative } | { error: string } {
  if (loaded) return loaded;
  if (process.env.TRELLIS_NO_NATIVE_NETLINK === '1') return (loaded = { error: 'TRELLIS_NO_NATIVE_NETLINK=1' });
  try {
    loaded = { native: createRequire(import.meta.url)(HELPER) as RtnetlinkNative };
  } catch (e) {
    loaded = { error: `the rtnetlink helper ${HELPER} cannot be loaded (${(e as Error).message.split('\n')[0]}); build it with \`bash .ci/install\` or \`sh native/build.sh\`` };
  }
  return loaded;
}
