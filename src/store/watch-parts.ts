// The watcher's decisions as pure functions (what a watch response means, which invalid
// keys a snapshot fixed, what follows the end of a stream, how long to back off) and the
// liveness probe; watch.ts wires them to etcd, timers and the handler.
import type { ResourceKey, Resource } from '../model/index.js';
import { TrellisError } from '../model/index.js';
import type { Logger } from '../log/index.js';
import { readKey, readKv, type RawKv } from './read.js';

export interface WatchEvent { type: 'put' | 'delete'; key: ResourceKey; resource?: Resource; revision: string }

/** How one stream ended. */
export type StreamEnd = 'closed' | 'lost' | 'compacted' | 'rewound';

/** What the loop does after a stream ended: stop, read a new snapshot (the history it would
 *  resume from is gone or from another cluster), or resume from its position after a backoff. */
export const AFTER_STREAM: Readonly<Record<StreamEnd, 'stop' | 'resync' | 'resume'>> = {
  closed: 'stop', compacted: 'resync', rewound: 'resync', lost: 'resume',
};

export const FIRST_BACKOFF_MS = 100;
export function nextBackoff(ms: number, maxMs: number): number {
  return Math.min(ms * 2, maxMs);
}

/** The parts of etcd3's IWatchResponse the watcher reads. */
export interface WatchResponseLike {
  events: Array<{ type: 'Put' | 'Delete'; kv: RawKv }>;
  header: { revision: string };
  created?: boolean;
  canceled?: boolean;
}

/** What one response asks of the watcher, in order. */
export type WatchOutcome =
  | { type: 'event'; event: WatchEvent }
  | { type: 'invalid'; etcdKey: string; error: string; key?: ResourceKey }
  | { type: 'valid'; etcdKey: string };

/**
 * Events above `position` (at or below it were in the snapshot, or delivered before a
 * reconnect), read and classified; and the new position: the highest event revision, or a
 * progress notification's header revision (nothing below it is pending). A header of a
 * response with events is not used: a catching-up watch carries the current revision there
 * while more events are still to come.
 */
export function classifyResponse(prefix: string, res: WatchResponseLike, position: bigint, accept: (k: ResourceKey) => boolean): { outcomes: WatchOutcome[]; position: bigint } {
  const outcomes: WatchOutcome[] = [];
  let top = position;
  for (const ev of res.events) {
    const rev = BigInt(ev.kv.mod_revision);
    if (rev <= position) continue;
    if (rev > top) top = rev;
    if (ev.type === 'Delete') {
      const read = readKey(prefix, ev.kv.key.toString('utf8'));
      // A deleted key is no longer invalid, whatever kind it was.
      if (read.type !== 'other') outcomes.push({ type: 'valid', etcdKey: read.etcdKey });
      if (read.type !== 'key' || !accept(read.key)) continue;
      outcomes.push({ type: 'event', event: { type: 'delete', key: read.key, revision: ev.kv.mod_revision } });
    } else {
      const read = readKv(prefix, ev.kv, accept);
      if (read.type === 'other') continue;
      if (read.type === 'invalid') { outcomes.push({ type: 'invalid', etcdKey: read.etcdKey, error: read.error, ...(read.key ? { key: read.key } : {}) }); continue; }
      outcomes.push({ type: 'valid', etcdKey: read.etcdKey });
      outcomes.push({ type: 'event', event: { type: 'put', key: read.key, resource: read.stored.resource, revision: read.stored.revision } });
    }
  }
  if (res.events.length === 0 && !res.created && !res.canceled) {
    const hdr = BigInt(res.header.revision);
    if (hdr > top) top = hdr;
  }
  return { outcomes, position: top };
}

/** Keys invalid before a snapshot that it found absent or valid: the snapshot is the whole
 *  truth for the prefixes it read, and only for those. */
export function fixedBySnapshot(invalidBefore: Iterable<string>, invalidNow: ReadonlyMap<string, unknown>, prefixes: readonly string[]): string[] {
  return [...invalidBefore].filter((k) => !invalidNow.has(k) && prefixes.some((p) => k.startsWith(p)));
}

/** Calls a handler callback; one that throws is logged and never stops the watcher. */
export function guarded(log: Logger, what: string, fn: () => void): void {
  try { fn(); } catch (err) { log.error({ err }, `watch ${what} handler threw`); }
}

class ProbeTimeout extends TrellisError<'PROBE_TIMEOUT'> {
  constructor(message: string) { super('PROBE_TIMEOUT', message); }
}

export function answered<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new ProbeTimeout(`no answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (err: unknown) => { clearTimeout(t); reject(err as Error); });
  });
}

/**
 * Every intervalMs, `ask` etcd something small; no answer within timeoutMs calls `failed`
 * once. At most one probe is out at a time. Returns the stop function (0 = no probing).
 */
export function startProbe(ask: () => Promise<unknown>, intervalMs: number, timeoutMs: number, failed: (err: Error) => void): () => void {
  if (intervalMs <= 0) return () => undefined;
  let stopped = false;
  let probing = false;
  const timer = setInterval(() => {
    if (stopped || probing) return;
    probing = true;
    answered(ask(), timeoutMs).then(() => { probing = false; }, (err: Error) => {
      probing = false;
      if (!stopped) failed(err);
    });
  }, intervalMs);
  timer.unref();
  return () => { stopped = true; clearInterval(timer); };
}
