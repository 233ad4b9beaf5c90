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
//
// A silent partition (packets dropped, no reset) leaves a gRPC stream open and quiet, and
// a quiet stream looks like an idle cluster. So while streaming, etcd is asked for one key
// every probeIntervalMs; no answer within probeTimeoutMs counts as a lost stream (status
// 'disconnected', then the usual resume). The partition is thus noticed within
// probeIntervalMs + probeTimeoutMs: 10 s by default, a third of the 30 s partition that
// once went unnoticed. A one-key read takes etcd milliseconds; 5 s is the etcd client's own
// dial timeout and leaves room for a loaded host or an etcd leader election (about 1 s)
// without false alarms.
//
// The watcher also keeps the set of keys whose value is invalid, as of what it delivered:
// a later valid value or a delete takes a key out of it (onValid).
import type { Etcd3, IKeyValue, IWatchResponse, Watcher as EtcdWatcher } from 'etcd3';
import { KINDS, type Kind, type ResourceKey } from '../model/index.js';
import type { Logger } from '../log/index.js';
import { kindPrefix } from './keys.js';
import { etcdReadAt, lastValidInHistory, type HistoryKv } from './history.js';
import { currentRevision, isCompactedError, rangePrefix } from './kv.js';
import { readKv } from './read.js';
import {
  AFTER_STREAM, FIRST_BACKOFF_MS, classifyResponse, fixedBySnapshot, guarded, nextBackoff, startProbe,
  type StreamEnd, type WatchEvent,
} from './watch-parts.js';
import type { Stored, StoreStats } from './types.js';

export type { WatchEvent } from './watch-parts.js';
export type WatchStatus = 'connected' | 'disconnected' | 'resyncing';

export interface WatchHandler {
  /** The full state of the watched kinds at `revision`: at start and after every resync. */
  onSync(snapshot: Stored[], revision: string): void;
  onEvent(ev: WatchEvent): void;
  /**
   * A value that does not parse or validate (skipped); called again each time it is read.
   * `key`: the resource the key names (absent when the key itself is malformed), so that
   * the handler can keep the last valid version of it in force. `historyRevision`: in a
   * snapshot, the resource's last valid version was found in etcd's history (history.ts)
   * and the snapshot carries it, from that revision, in place of the invalid value.
   */
  onInvalid?(etcdKey: string, error: string, key?: ResourceKey, historyRevision?: string): void;
  /** A key reported invalid has since been fixed or deleted. */
  onValid?(etcdKey: string): void;
  onStatus?(s: WatchStatus): void;
}

export interface WatchOptions {
  kinds?: Kind[];
  /** Longest wait between reconnect attempts (default 2000 ms). */
  maxBackoffMs?: number;
  /** How often a streaming watcher checks that etcd still answers (default 5000 ms; 0: never). */
  probeIntervalMs?: number;
  /** How long that check may take before the stream counts as lost (default 5000 ms). */
  probeTimeoutMs?: number;
}

export const DEFAULT_PROBE_INTERVAL_MS = 5000;
export const DEFAULT_PROBE_TIMEOUT_MS = 5000;

export interface Watcher {
  /** Resolves at the first onSync. */
  readonly synced: Promise<void>;
  /** Resolves when the watcher has stopped. */
  readonly closed: Promise<void>;
  /** The revision of the last snapshot or event delivered ("0" before the first sync). */
  revision(): string;
  /** Keys whose value is invalid as of the last delivered revision, with the reason. */
  invalid(): ReadonlyMap<string, string>;
  close(): Promise<void>;
}

export interface WatchContext {
  etcd: Etcd3;
  prefix: string;
  log: Logger;
  stats: StoreStats;
  reportInvalid(etcdKey: string, error: string): void;
}

export function startWatch(ctx: WatchContext, handler: WatchHandler, opts: WatchOptions = {}): Watcher {
  const { etcd, prefix, log } = ctx;
  const kinds = new Set<Kind>(opts.kinds ?? KINDS);
  const maxBackoff = opts.maxBackoffMs ?? 2000;
  const probeInterval = opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const probeTimeout = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const accept = (k: ResourceKey) => kinds.has(k.kind);
  const invalidKeys = new Map<string, string>();
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
    guarded(log, 'onStatus', () => handler.onStatus?.(s));
  };
  const invalid = (etcdKey: string, error: string, key?: ResourceKey, historyRevision?: string) => {
    invalidKeys.set(etcdKey, error);
    ctx.reportInvalid(etcdKey, error);
    guarded(log, 'onInvalid', () => handler.onInvalid?.(etcdKey, error, key, historyRevision));
  };

  /** The last valid version of an invalid value's resource in etcd's history, if it is still there. */
  async function fromHistory(kv: IKeyValue, kind: Kind): Promise<Stored | null> {
    const decode = (prev: HistoryKv) => {
      const r = readKv(prefix, prev, (k) => k.kind === kind);
      return r.type === 'resource' ? r.stored : null;
    };
    const out = await lastValidInHistory(kv, etcdReadAt(etcd, kv.key), decode);
    const etcdKey = kv.key.toString('utf8');
    if (out.found) log.warn({ key: etcdKey, revision: out.found.revision }, 'invalid value in etcd: its last valid version, from etcd history, stays in force');
    else log.warn({ key: etcdKey, why: out.why }, 'invalid value in etcd with no valid version in etcd history: nothing of it is in force');
    return out.found;
  }
  const valid = (etcdKey: string) => {
    if (!invalidKeys.delete(etcdKey)) return;
    guarded(log, 'onValid', () => handler.onValid?.(etcdKey));
  };

  async function snapshot(): Promise<void> {
    // One revision for every kind: the reads are pinned to it, so together they are
    // the state at one instant.
    const rev = await currentRevision(etcd, prefix);
    const items: Stored[] = [];
    const seenInvalid = new Map<string, { error: string; key?: ResourceKey; historyRevision?: string }>();
    const prefixes: string[] = [];
    for (const kind of kinds) {
      const p = kindPrefix(prefix, kind);
      prefixes.push(p);
      const { kvs } = await rangePrefix(etcd, p, rev);
      for (const kv of kvs) {
        const read = readKv(prefix, kv, (k) => k.kind === kind);
        if (read.type === 'invalid') {
          // Only a resource the key names can be held; a malformed key names none.
          const held = read.key ? await fromHistory(kv, kind) : null;
          if (held) items.push(held);
          seenInvalid.set(read.etcdKey, { error: read.error, ...(read.key ? { key: read.key } : {}), ...(held ? { historyRevision: held.revision } : {}) });
        } else if (read.type === 'resource') items.push(read.stored);
      }
    }
    for (const k of fixedBySnapshot(invalidKeys.keys(), seenInvalid, prefixes)) valid(k);
    for (const [k, { error, key, historyRevision }] of seenInvalid) invalid(k, error, key, historyRevision);
    position = rev;
    guarded(log, 'onSync', () => handler.onSync(items, rev.toString()));
    resolveSynced();
  }

  function deliver(res: IWatchResponse): void {
    const { outcomes, position: next } = classifyResponse(prefix, res, position, accept);
    for (const o of outcomes) {
      if (o.type === 'valid') valid(o.etcdKey);
      else if (o.type === 'invalid') invalid(o.etcdKey, o.error, o.key);
      else guarded(log, 'onEvent', () => handler.onEvent(o.event));
    }
    position = next;
  }

  function stream(from: bigint, onConnected: () => void): Promise<StreamEnd> {
    // close() may have come while the snapshot was being delivered.
    if (closing) return Promise.resolve('closed');
    return new Promise((resolve) => {
      let w: EtcdWatcher | null = null;
      let done = false;
      // One key, the prefix itself (never a resource): an index lookup for etcd, however
      // many resources there are, answered with a header.
      const stopProbe = startProbe(() => etcd.kv.range({ key: Buffer.from(prefix) }), probeInterval, probeTimeout, (err) => {
        if (done) return;
        ctx.stats.watchProbeFailures++;
        log.warn({ err: err.message, probeTimeoutMs: probeTimeout }, 'etcd did not answer the liveness probe: treating the watch as lost');
        finish('lost');
      });
      const finish = (how: StreamEnd) => {
        if (done) return;
        done = true;
        stopProbe();
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
    let backoff = FIRST_BACKOFF_MS;
    while (!closing) {
      try {
        if (needSync) {
          if (!first) { setStatus('resyncing'); ctx.stats.watchResyncs++; }
          await snapshot();
          needSync = false;
          first = false;
        }
        const end = await stream(position + 1n, () => { backoff = FIRST_BACKOFF_MS; setStatus('connected'); });
        const next = AFTER_STREAM[end];
        if (next === 'stop') break;
        if (next === 'resync') { needSync = true; continue; }
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
      backoff = nextBackoff(backoff, maxBackoff);
    }
  }

  const closed = loop().catch((err) => { log.error({ err }, 'etcd watcher stopped'); });

  return {
    synced,
    closed,
    revision: () => position.toString(),
    invalid: () => invalidKeys,
    async close() {
      closing = true;
      stopStream?.();
      wake?.();
      await closed;
    },
  };
}

