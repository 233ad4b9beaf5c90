// The watcher: a consistent snapshot (range reads pinned to one revision), then every
// change after it, in revision order, each exactly once.
//
// Recovery, as a small state machine:
//   syncing   --snapshot read-->            streaming(from snapshot revision + 1)
//   streaming --stream lost/etcd restart--> backoff -> streaming(from last delivered + 1)
//   streaming --ErrCompacted on resume-->   syncing (onSync again: the history is gone;
//                                           any server-side cancel is treated so)
//   streaming --etcd went back in time-->   syncing (restored or wiped cluster)
// Events at or below the last delivered revision are dropped, so a replay after a
// reconnect is never applied twice. Only event revisions (and progress notifications)
// advance the position: a catching-up watch response carries the *current* revision
// in its header while more events are still to come.
import type { Etcd3, IWatchResponse, Watcher as EtcdWatcher } from 'etcd3';
import { KINDS, type Kind, type Resource, type ResourceKey } from '../model/index.js';
import type { Logger } from '../log/index.js';
import { kindPrefix, parseEtcdKey } from './keys.js';
import { currentRevision, isCompactedError, rangePrefix } from './kv.js';
import type { Stored, StoreStats } from './store.js';
import { decodeValue } from './codec.js';

export interface WatchEvent { type: 'put' | 'delete'; key: ResourceKey; resource?: Resource; revision: string }
export type WatchStatus = 'connected' | 'disconnected' | 'resyncing';

export interface WatchHandler {
  /** The full state of the watched kinds at `revision`: at start and after every resync. */
  onSync(snapshot: Stored[], revision: string): void;
  onEvent(ev: WatchEvent): void;
  onInvalid?(etcdKey: string, error: string): void;
  onStatus?(s: WatchStatus): void;
}

export interface WatchOptions {
  kinds?: Kind[];
  /** Longest wait between reconnect attempts (default 2000 ms). */
  maxBackoffMs?: number;
}

export interface Watcher {
  /** Resolves at the first onSync. */
  readonly synced: Promise<void>;
  /** Resolves when the watcher has stopped. */
  readonly closed: Promise<void>;
  /** The revision of the last snapshot or event delivered ("0" before the first sync). */
  revision(): string;
  close(): Promise<void>;
}

export interface WatchContext {
  etcd: Etcd3;
  prefix: string;
  log: Logger;
  stats: StoreStats;
  reportInvalid(etcdKey: string, error: string): void;
}

type StreamEnd = 'closed' | 'lost' | 'compacted' | 'rewound';


export function startWatch(ctx: WatchContext, handler: WatchHandler, opts: WatchOptions = {}): Watcher {
  const { etcd, prefix, log } = ctx;
  const kinds = new Set<Kind>(opts.kinds ?? KINDS);
  const maxBackoff = opts.maxBackoffMs ?? 2000;
  let position = 0n;
  let closing = false;
  let status: WatchStatus | null = null;
  let stopStream: (() => void) | null = null;
  let wake: (() => void) | null = null;
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => { resolveSynced = r; });

  const setStatus = (s: WatchStatus) => {
    if (s === status) return;
    status = s;
    try { handler.onStatus?.(s); } catch (err) { log.error({ err }, 'watch onStatus handler threw'); }
  };
  const invalid = (etcdKey: string, error: string) => {
    ctx.reportInvalid(etcdKey, error);
    try { handler.onInvalid?.(etcdKey, error); } catch (err) { log.error({ err }, 'watch onInvalid handler threw'); }
  };

  async function snapshot(): Promise<void> {
    // One revision for every kind: the reads are pinned to it, so together they are
    // the state at one instant.
    const rev = await currentRevision(etcd, prefix);
    const items: Stored[] = [];
    for (const kind of kinds) {
      const { kvs } = await rangePrefix(etcd, kindPrefix(prefix, kind), rev);
      for (const kv of kvs) {
        const etcdKey = kv.key.toString('utf8');
        const parsed = parseEtcdKey(prefix, etcdKey);
        if (parsed.type === 'ipam') continue;
        if (parsed.type === 'invalid') { invalid(etcdKey, `${etcdKey}: ${parsed.reason}`); continue; }
        if (parsed.key.kind !== kind) continue;
        const d = decodeValue(etcdKey, parsed.key, kv.value, kv.mod_revision);
        if (!d.ok) { invalid(etcdKey, d.error); continue; }
        items.push({ resource: d.resource, revision: kv.mod_revision });
      }
    }
    position = rev;
    try { handler.onSync(items, rev.toString()); } catch (err) { log.error({ err }, 'watch onSync handler threw'); }
    resolveSynced();
  }

  function deliver(res: IWatchResponse): void {
    const floor = position;
    let top = position;
    for (const ev of res.events) {
      const rev = BigInt(ev.kv.mod_revision);
      if (rev <= floor) continue; // already in the snapshot, or delivered before a reconnect
      if (rev > top) top = rev;
      const etcdKey = ev.kv.key.toString('utf8');
      const parsed = parseEtcdKey(prefix, etcdKey);
      if (parsed.type === 'ipam') continue;
      if (parsed.type === 'invalid') { invalid(etcdKey, `${etcdKey}: ${parsed.reason}`); continue; }
      if (!kinds.has(parsed.key.kind)) continue;
      let out: WatchEvent;
      if (ev.type === 'Delete') {
        out = { type: 'delete', key: parsed.key, revision: ev.kv.mod_revision };
      } else {
        const d = decodeValue(etcdKey, parsed.key, ev.kv.value, ev.kv.mod_revision);
        if (!d.ok) { invalid(etcdKey, d.error); continue; }
        out = { type: 'put', key: parsed.key, resource: d.resource, revision: ev.kv.mod_revision };
      }
      try { handler.onEvent(out); } catch (err) { log.error({ err }, 'watch onEvent handler threw'); }
    }
    // A response without events is a progress notification: nothing below its revision is pending.
    if (res.events.length === 0 && !res.created && !res.canceled) {
      const hdr = BigInt(res.header.revision);
      if (hdr > top) top = hdr;
    }
    position = top;
  }

  function stream(from: bigint, onConnected: () => void): Promise<StreamEnd> {
    // close() may have come while the snapshot was being delivered.
    if (closing) return Promise.resolve('closed');
    return new Promise((resolve) => {
      let w: EtcdWatcher | null = null;
      let done = false;
      const finish = (how: StreamEnd) => {
        if (done) return;
        done = true;
        stopStream = null;
        const ended = w;
        // The etcd3 watcher would resume on its own from the revision in the last
        // response header; that header can be ahead of what was delivered, so it is
        // cancelled and this loop resumes from its own position instead.
        ended?.cancel().catch(() => undefined);
        resolve(how);
      };
      stopStream = () => finish('closed');
      w = etcd.watch().prefix(prefix).startRevision(from.toString()).watcher();
      w.on('error', (err: Error) => {
        if (done) return;
        // The server cancelled the watch. etcd 3.4 gives no reason for the usual cause,
        // a start revision already compacted (the client drops compact_revision), so any
        // cancel is answered with a fresh snapshot: always correct, whatever the cause.
        log.warn({ err: err.message }, 'etcd cancelled the watch (compacted history?): resyncing');
        finish('compacted');
      });
      w.on('disconnected', (err: Error) => {
        if (done) return;
        log.warn({ err: err?.message }, 'etcd watch stream lost');
        finish('lost');
      });
      w.on('connected', (res: IWatchResponse) => {
        if (done) return;
        if (BigInt(res.header.revision) < position) {
          log.warn({ etcdRevision: res.header.revision, position: position.toString() }, 'etcd is at an older revision than already seen (restored or replaced cluster): resyncing');
          finish('rewound');
          return;
        }
        onConnected();
      });
      w.on('data', (res: IWatchResponse) => {
        if (!done) deliver(res);
      });
    });
  }

  async function loop(): Promise<void> {
    let needSync = true;
    let first = true;
    let backoff = 100;
    while (!closing) {
      try {
        if (needSync) {
          if (!first) { setStatus('resyncing'); ctx.stats.watchResyncs++; }
          await snapshot();
          needSync = false;
          first = false;
        }
        const end = await stream(position + 1n, () => { backoff = 100; setStatus('connected'); });
        if (end === 'closed') break;
        if (end === 'compacted' || end === 'rewound') { needSync = true; continue; }
        ctx.stats.watchReconnects++;
        setStatus('disconnected');
      } catch (err) {
        if (closing) break;
        // A compaction between the revision read and the pinned range reads: read again.
        if (!isCompactedError(err)) {
          log.warn({ err: (err as Error).message }, 'etcd unreachable; retrying');
          setStatus('disconnected');
        }
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, backoff);
      });
      wake = null;
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }

  const closed = loop().catch((err) => { log.error({ err }, 'etcd watcher stopped'); });

  return {
    synced,
    closed,
    revision: () => position.toString(),
    async close() {
      closing = true;
      stopStream?.();
      wake?.();
      await closed;
    },
  };
}

