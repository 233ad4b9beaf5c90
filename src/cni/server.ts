// trellisd's CNI socket: runs the calls trellis-cni hands over, with etcd connections kept
// warm between calls (one per distinct store setting a configuration names). The socket is
// root-only (0600), a request is one bounded JSON line, and whatever arrives gets an answer
// in the spec's error format: a bad request never reaches the commands, and never takes
// the daemon down. Calls for the same container are run one after another, and IPAM
// changes one at a time (locks.ts).
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { StoreSettings } from './config.js';
import type { CniStore } from './commands.js';
import { MAX_MESSAGE_BYTES, type AgentReply, type AgentRequest } from './client.js';
import { processLocks } from './locks.js';
import { runCni } from './run.js';
import { CNI_ERR, CniError, encodeError } from './spec.js';

export interface CniServerOptions {
  path: string;
  log: Logger;
  /** Opens a store for the settings a configuration names; kept open and shared by later calls. */
  openStore(s: StoreSettings): CniStore;
  deadlineMs?: number;
}

export interface CniServer {
  readonly path: string;
  close(): Promise<void>;
}

function parseRequest(text: string): AgentRequest {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) {
    throw new CniError(CNI_ERR.DECODE_FAILURE, `request on the trellisd CNI socket is not JSON: ${(e as Error).message}`);
  }
  const r = v as Partial<AgentRequest> | null;
  if (!r || typeof r !== 'object' || typeof r.stdin !== 'string' || !r.env || typeof r.env !== 'object'
    || Object.values(r.env).some((x) => typeof x !== 'string')) {
    throw new CniError(CNI_ERR.DECODE_FAILURE, 'request on the trellisd CNI socket must be {"env": {name: string}, "stdin": string}');
  }
  return { env: r.env, stdin: r.stdin };
}

/** "msg: details" of an encoded CNI error (the text itself when it is not one). */
/** The CNI error object in a reply's stdout, for the daemon's log line. */
function replyError(stdout: string): { code: number | null; error: string } {
  try {
    const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
    return { code: typeof e.code === 'number' ? e.code : null, error: [e.msg, e.details].filter(Boolean).join(': ') || stdout.trim() };
  } catch { return { code: null, error: stdout.trim() }; }
}

const errorReply = (e: CniError): AgentReply => ({ code: 1, stdout: `${JSON.stringify(encodeError('1.0.0', e))}\n` });

/** True when something already answers on the path (another trellisd): it is not ours to take. */
function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

export async function startCniServer(opts: CniServerOptions): Promise<CniServer> {
  const log = opts.log.child({ sub: 'cni-socket' });
  const stores = new Map<string, CniStore>();
  const locks = processLocks();
  const inflight = new Set<Promise<unknown>>();
  // Commands close the store they opened; the shared one must outlive the call.
  const shared = (s: StoreSettings): CniStore => {
    const key = JSON.stringify(s);
    let st = stores.get(key);
    if (!st) stores.set(key, (st = opts.openStore(s)));
    return Object.assign(Object.create(st) as CniStore, { close: async () => undefined });
  };

  const handle = async (text: string): Promise<AgentReply> => {
    const req = parseRequest(text);
    const run = runCni(req.env, req.stdin, {
      deadlineMs: opts.deadlineMs ?? 60_000,
      // The commands add containerID (and ifname) themselves.
      logger: (_conf, command) => log.child({ command }),
      openStore: shared,
      locks,
    });
    inflight.add(run);
    try {
      const reply = await run;
      // The plugin's error goes back to the runtime; the daemon's log says it too, so that a
      // failed CNI call is seen from the node and not only in the runtime's output.
      if (reply.code !== 0) log.warn({ command: req.env.CNI_COMMAND, containerID: req.env.CNI_CONTAINERID, ifname: req.env.CNI_IFNAME, ...replyError(reply.stdout) }, 'CNI call failed');
      return reply;
    } finally {
      inflight.delete(run);
    }
  };

  const onConnection = (sock: Socket) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let answered = false;
    let received = false;
    const answer = (r: AgentReply) => {
      if (answered) return;
      answered = true;
      sock.end(JSON.stringify(r));
    };
    // The plugin sends its request at once: a connection still short of it after 10 s idle is
    // dropped (a call being run may take longer: that one is left alone).
    sock.setTimeout(10_000, () => { if (!received) sock.destroy(); });
    sock.on('error', (err) => log.debug({ err: err.message }, 'CNI socket client went away'));
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_MESSAGE_BYTES) {
        answer(errorReply(new CniError(CNI_ERR.DECODE_FAILURE, `request on the trellisd CNI socket exceeds ${MAX_MESSAGE_BYTES} bytes`)));
        sock.destroy();
        return;
      }
      chunks.push(d);
    });
    sock.on('end', () => {
      received = true;
      if (answered) return;
      handle(Buffer.concat(chunks).toString('utf8'))
        .then(answer, (e: unknown) => {
          log.warn({ err: (e as Error).message }, 'refused a CNI request');
          answer(errorReply(e instanceof CniError ? e : new CniError(CNI_ERR.INTERNAL, String((e as Error)?.message ?? e))));
        });
    });
  };

  mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
  if (await inUse(opts.path)) {
    throw new CniError(CNI_ERR.INTERNAL, `${opts.path}: another process already serves CNI calls there (another trellisd?)`);
  }
  try { unlinkSync(opts.path); } catch { /* not there: fine */ }
  // Half-open: the plugin ends its side once the request is sent, and still reads the answer.
  const server: Server = createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(opts.path, 0o600);
  server.on('error', (err) => log.error({ err: err.message }, 'CNI socket error'));
  log.info({ path: opts.path }, 'serving CNI calls');

  return {
    path: opts.path,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try { unlinkSync(opts.path); } catch { /* gone */ }
      await Promise.allSettled([...inflight]);
      await Promise.allSettled([...stores.values()].map((s) => s.close()));
      stores.clear();
    },
  };
}
