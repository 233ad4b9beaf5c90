// TCP-MD5 keys for BGP peers, resolved per peer so that one that cannot be had touches only
// that peer. A BGPPeer names its key inline or, as in Calico, by password.secretKeyRef; here
// a secret is a directory of files, one per key (SECRETS_DIR/NAME/KEY, the layout of a
// mounted Kubernetes Secret volume), so keys never sit in etcd. A peer whose key cannot be
// read keeps the key it had (its session and learned routes stay); one that never had a key
// is left out of the speaker until the key can be read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { passwordProblem, type PeerConfig } from '../bgp/index.js';

export const DEFAULT_SECRETS_DIR = '/etc/trellis/secrets';

export interface SecretRef { name: string; key: string }

/** A peer as the calculation gives it: the speaker's config plus, maybe, where its key lives. */
export type PeerWant = PeerConfig & { passwordSecret?: SecretRef };

/** Why a peer cannot be configured as asked. The message carries no "peer X:" prefix: the peer is a field. */
export interface PeerProblem { peer: string; name?: string; asn: number; message: string; excluded: boolean }

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Reads one key of one secret; the error text says which file to fix. */
export function readSecret(dir: string, ref: SecretRef): { value: string } | { error: string } {
  const what = `password secretKeyRef ${JSON.stringify(ref.name)}/${JSON.stringify(ref.key)}`;
  if (!SAFE.test(ref.name) || !SAFE.test(ref.key)) return { error: `${what}: name and key must be plain file names (letters, digits, . _ -)` };
  const file = join(dir, ref.name, ref.key);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { error: `${what}: cannot read ${file} (${code}); write the key to that file (mode 0600)` };
  }
  // Files written by editors and `echo` end in a newline that is not part of the key.
  return { value: text.replace(/\r?\n$/, '') };
}

export interface PasswordBook {
  /** The peers to give the speaker, with keys filled in, and the problems per peer. */
  resolve(peers: PeerWant[]): { peers: PeerConfig[]; problems: PeerProblem[] };
}

export function createPasswordBook(secretsDir: string): PasswordBook {
  // Last key that worked, per peer address and source (a changed source starts afresh).
  const good = new Map<string, { source: string; password: string }>();
  return {
    resolve(wants) {
      const peers: PeerConfig[] = [];
      const problems: PeerProblem[] = [];
      const seen = new Set<string>();
      for (const w of wants) {
        const { passwordSecret, ...cfg } = w;
        seen.add(cfg.address);
        const source = passwordSecret ? `secret:${passwordSecret.name}/${passwordSecret.key}` : 'inline';
        let password: string | undefined = cfg.password;
        let error: string | null = null;
        if (passwordSecret) {
          const r = readSecret(secretsDir, passwordSecret);
          if ('error' in r) error = r.error; else password = r.value;
        }
        if (!error && password !== undefined) {
          const bad = passwordProblem(password);
          if (bad) error = passwordSecret ? `password secretKeyRef ${passwordSecret.name}/${passwordSecret.key}: ${bad}` : `password: ${bad}`;
        }
        const problem = (message: string, excluded: boolean) => {
          const p: PeerProblem = { peer: cfg.address, asn: cfg.asn, message, excluded };
          if (cfg.name) p.name = cfg.name;
          problems.push(p);
        };
        if (!error) {
          if (password !== undefined) { good.set(cfg.address, { source, password }); peers.push({ ...cfg, password }); } else { good.delete(cfg.address); peers.push(cfg); }
          continue;
        }
        const prev = good.get(cfg.address);
        if (prev && prev.source === source) {
          problem(`${error}; keeping the key read before`, false);
          peers.push({ ...cfg, password: prev.password });
        } else {
          // Never peer without the key that was asked for: that would loosen what the operator set.
          problem(`${error}; peer not started`, true);
        }
      }
      for (const k of [...good.keys()]) if (!seen.has(k)) good.delete(k);
      return { peers, problems };
    },
  };
}
