// The plugin's side of trellisd's CNI socket: one JSON line out ({env, stdin}), one JSON
// line back ({code, stdout}). Kept free of heavy imports: this is the fast path, and it
// must cost no more than Node's own start-up. Nobody listening (no socket, refused) means
// "do it yourself"; a daemon that accepted the call and then failed or went silent is an
// error, never a second attempt (the first may have half-run).
import { createConnection } from 'node:net';
import { CNI_ERR, encodeError } from './codes.js';

export const DEFAULT_AGENT_SOCKET = '/run/trellis/cni.sock';
/** Largest request or reply on the socket (a network configuration with a prevResult is a few KiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface AgentRequest { env: Record<string, string>; stdin: string }
export interface AgentReply { code: number; stdout: string }

/** Where to find trellisd: TRELLIS_CNI_SOCKET, else the configuration's agentSocket, else the default; "" turns it off. */
export function agentSocketOf(stdin: string, env: NodeJS.ProcessEnv): string | null {
  let path: unknown = env.TRELLIS_CNI_SOCKET;
  if (path === undefined) {
    try { path = (JSON.parse(stdin) as { agentSocket?: unknown }).agentSocket; } catch { /* runCni reports bad JSON */ }
  }
  if (path === undefined) return DEFAULT_AGENT_SOCKET;
  return typeof path === 'string' && path !== '' ? path : null;
}

/** The variables a CNI call depends on: CNI_* and Trellis's own. */
export function callEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && (k.startsWith('CNI_') || k.startsWith('TRELLIS_'))) out[k] = v;
  return out;
}

function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' ? v : '1.0.0';
  } catch { return '1.0.0'; }
}

const failed = (stdin: string, code: number, msg: string): AgentReply =>
  ({ code: 1, stdout: `${JSON.stringify(encodeError(versionOf(stdin), { code, message: msg }))}\n` });

/** Hands the call to trellisd; null when no trellisd listens on `path`. */
export function callAgent(path: string | null, env: NodeJS.ProcessEnv, stdin: string, timeoutMs: number): Promise<AgentReply | null> {
  if (path === null) return Promise.resolve(null);
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const sock = createConnection(path);
    const finish = (r: AgentReply | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(connected
      ? failed(stdin, CNI_ERR.TRY_AGAIN_LATER, `trellisd at ${path} did not answer within ${timeoutMs} ms`)
      : null), timeoutMs);
    sock.on('connect', () => {
      connected = true;
      const req: AgentRequest = { env: callEnv(env), stdin };
      sock.end(`${JSON.stringify(req)}\n`);
    });
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_MESSAGE_BYTES) finish(failed(stdin, CNI_ERR.INTERNAL, `trellisd at ${path} sent an oversized reply`));
      else chunks.push(d);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // Before the connection: nobody is there, do the work here. After: the daemon broke off.
      finish(connected ? failed(stdin, CNI_ERR.TRY_AGAIN_LATER, `trellisd at ${path} broke off the call: ${err.message}`) : null);
    });
    sock.on('close', () => {
      if (!connected) { finish(null); return; }
      try {
        const r = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<AgentReply>;
        if (typeof r.code !== 'number' || typeof r.stdout !== 'string') throw new Error('reply is not {code, stdout}');
        finish({ code: r.code, stdout: r.stdout });
      } catch (e) {
        finish(failed(stdin, CNI_ERR.TRY_AGAIN_LATER, `trellisd at ${path} gave no usable answer: ${(e as Error).message}`));
      }
    });
  });
}
