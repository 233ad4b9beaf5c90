// The resource store on etcd: create/replace/delete with optimistic concurrency on the
// etcd mod revision (a stale write is refused, never silently applied), validated reads,
// and a watcher (watch.ts).
import { Etcd3, type IResponseOp } from 'etcd3';
import { describeKey, resourceKey, type Kind, type Resource, type ResourceKey } from '../model/index.js';
import { silentLogger } from '../log/index.js';
import { encodeResource } from './codec.js';
import { etcdClientOptions, type StoreConfig } from './config.js';
import { StoreError, asStoreError } from './errors.js';
import { keyFor, kindPrefix, normalizePrefix } from './keys.js';
import { rangePrefix } from './kv.js';
import { readKv } from './read.js';
import type { Stored, StoreStats } from './types.js';
import { validateValue } from './validate.js';
import { startWatch, type WatchHandler, type WatchOptions, type Watcher } from './watch.js';

export type { Stored, StoreStats } from './types.js';

export interface Store {
  /** The raw client (IPAM uses it for its own keys under <prefix>ipam/). */
  readonly etcd: Etcd3;
  readonly prefix: string;
  keyFor(key: ResourceKey): string;
  get(key: ResourceKey): Promise<Stored | null>;
  list(kind: Kind, namespace?: string): Promise<Stored[]>;
  create(r: Resource): Promise<Stored>;
  replace(r: Resource, expectedRevision?: string): Promise<Stored>;
  apply(r: Resource): Promise<Stored>;
  delete(key: ResourceKey, expectedRevision?: string): Promise<void>;
  watch(handler: WatchHandler, opts?: WatchOptions): Promise<Watcher>;
  stats(): StoreStats;
  close(): Promise<void>;
}

/** A resource key for `r` with the namespace defaulted, as stored. */
function keyOf(r: Resource): ResourceKey {
  return resourceKey(r);
}

function withRevision(r: Resource, revision: string): Stored {
  return { resource: { ...r, metadata: { ...r.metadata, resourceVersion: revision } } as Resource, revision };
}

function checkRevision(rev: string | undefined): string | undefined {
  if (rev === undefined || rev === '') return undefined;
  if (!/^[1-9]\d*$/.test(rev)) throw new StoreError('INVALID', `revision "${rev}" is not an etcd revision (a positive integer)`);
  return rev;
}

export function openStore(cfg: StoreConfig): Store {
  const prefix = normalizePrefix(cfg.prefix);
  const etcd = new Etcd3(etcdClientOptions(cfg));
  const log = cfg.logger ?? silentLogger();
  const stats: StoreStats = { invalidValues: 0, watchResyncs: 0, watchReconnects: 0, watchProbeFailures: 0 };
  const watchers = new Set<Watcher>();

  const reportInvalid = (etcdKey: string, error: string) => {
    stats.invalidValues++;
    log.warn({ etcdKey, error }, 'skipping an invalid value in etcd');
    try { cfg.onInvalid?.(etcdKey, error); } catch (err) { log.error({ err }, 'onInvalid callback threw'); }
  };

  const validated = (r: Resource): Resource => {
    const v = validateValue(r, describeKey(keyOf(r)));
    if (!v.ok) throw new StoreError('INVALID', v.error);
    return v.resource;
  };

  /** After a failed compare: tells "not there" from "changed since you read it". */
  const refusal = (key: ResourceKey, failure: IResponseOp[] | undefined, expected: string | undefined): StoreError => {
    const kv = failure?.[0]?.response_range?.kvs?.[0];
    if (!kv) return new StoreError('NOT_FOUND', `${describeKey(key)} does not exist`);
    return new StoreError('CONFLICT', `${describeKey(key)} was changed by someone else: it is at revision ${kv.mod_revision}, not ${expected ?? '?'}; read it again and retry`);
  };

  const call = async <T>(doing: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw asStoreError(err, doing);
    }
  };

  const store: Store = {
    etcd,
    prefix,
    keyFor: (key) => keyFor(prefix, key),

    async get(key) {
      const k = keyFor(prefix, key);
      const res = await call(`reading ${describeKey(key)}`, () => etcd.kv.range({ key: Buffer.from(k) }));
      const kv = res.kvs[0];
      if (!kv) return null;
      const read = readKv(prefix, kv);
      if (read.type === 'resource') return read.stored;
      const error = read.type === 'invalid' ? read.error : `${k}: not a resource key`;
      reportInvalid(k, error);
      throw new StoreError('INVALID', `${describeKey(key)} holds an invalid value in etcd: ${error}`);
    },

    async list(kind, namespace) {
      const p = kindPrefix(prefix, kind, namespace);
      const { kvs } = await call(`listing ${kind}`, () => rangePrefix(etcd, p));
      const out: Stored[] = [];
      for (const kv of kvs) {
        const read = readKv(prefix, kv, (k) => k.kind === kind);
        if (read.type === 'invalid') reportInvalid(read.etcdKey, read.error);
        else if (read.type === 'resource') out.push(read.stored);
      }
      return out;
    },

    async create(r) {
      const res0 = validated(r);
      const key = keyOf(res0);
      const k = Buffer.from(keyFor(prefix, key));
      const res = await call(`creating ${describeKey(key)}`, () => etcd.kv.txn({
        compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: k, value: Buffer.from(encodeResource(res0)) } }],
        failure: [],
      }));
      if (!res.succeeded) throw new StoreError('ALREADY_EXISTS', `${describeKey(key)} already exists; use replace or apply to change it`);
      return withRevision(res0, res.header.revision);
    },

    async replace(r, expectedRevision) {
      const res0 = validated(r);
      const key = keyOf(res0);
      const expected = checkRevision(expectedRevision ?? r.metadata.resourceVersion);
      const k = Buffer.from(keyFor(prefix, key));
      const res = await call(`replacing ${describeKey(key)}`, () => etcd.kv.txn({
        compare: [expected !== undefined
          ? { key: k, target: 'Mod', result: 'Equal', mod_revision: expected }
          : { key: k, target: 'Create', result: 'Greater', create_revision: 0 }],
        success: [{ request_put: { key: k, value: Buffer.from(encodeResource(res0)) } }],
        failure: [{ request_range: { key: k } }],
      }));
      if (!res.succeeded) throw refusal(key, res.responses, expected);
      return withRevision(res0, res.header.revision);
    },

    async apply(r) {
      const res0 = validated(r);
      const key = keyOf(res0);
      const k = Buffer.from(keyFor(prefix, key));
      const res = await call(`applying ${describeKey(key)}`, () => etcd.kv.put({ key: k, value: Buffer.from(encodeResource(res0)) }));
      return withRevision(res0, res.header.revision);
    },

    async delete(key, expectedRevision) {
      const expected = checkRevision(expectedRevision);
      const k = Buffer.from(keyFor(prefix, key));
      const res = await call(`deleting ${describeKey(key)}`, () => etcd.kv.txn({
        compare: [expected !== undefined
          ? { key: k, target: 'Mod', result: 'Equal', mod_revision: expected }
          : { key: k, target: 'Create', result: 'Greater', create_revision: 0 }],
        success: [{ request_delete_range: { key: k } }],
        failure: [{ request_range: { key: k } }],
      }));
      if (!res.succeeded) throw refusal(key, res.responses, expected);
    },

    async watch(handler, opts) {
      const w = startWatch({ etcd, prefix, log, stats, reportInvalid }, handler, opts);
      watchers.add(w);
      w.closed.then(() => watchers.delete(w), () => watchers.delete(w));
      return w;
    },

    stats: () => ({ ...stats }),

    async close() {
      await Promise.all([...watchers].map((w) => w.close()));
      etcd.close();
    },
  };
  return store;
}
