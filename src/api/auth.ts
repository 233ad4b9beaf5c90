// Who may call the API: anyone on loopback; anywhere else only with the bearer token
// from apiTokenFile. A non-loopback listen address without a token file is refused at
// start-up: status and topology are not for the whole network.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { TrellisError } from '../model/index.js';

export class ApiConfigError extends TrellisError<'API_CONFIG'> {
  constructor(message: string) { super('API_CONFIG', message); }
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

/** Reads the token (first line, trimmed); refuses empty or missing files with an actionable message. */
export function readToken(file: string): string {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    throw new ApiConfigError(`apiTokenFile ${file} cannot be read: ${(err as Error).message}`);
  }
  const token = text.split('\n')[0]!.trim();
  if (token.length < 16) throw new ApiConfigError(`apiTokenFile ${file} must hold a token of at least 16 characters on its first line`);
  return token;
}

/** The token the server requires, or null when none is (loopback without a token file). */
export function requiredToken(host: string, tokenFile: string | undefined): string | null {
  if (tokenFile) return readToken(tokenFile);
  if (!isLoopbackHost(host)) {
    throw new ApiConfigError(`api listen address ${host} is not loopback: set apiTokenFile (a file holding a bearer token) or listen on 127.0.0.1`);
  }
  return null;
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
