// The CNI specification as data: versions, error codes, the result object and how it
// is written for each version a runtime may ask for.
import { TrellisError } from '../model/index.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

export { CNI_ERR, encodeError } from './codes.js';

/** code is the CNI spec's error code (CNI_ERR), the number the runtime reads. */
export class CniError extends TrellisError<number> {
  constructor(code: number, message: string, readonly details?: string) {
    super(code, message);
  }
}

export interface CniInterface { name: string; mac?: string; sandbox?: string }
export interface CniIp { address: string; gateway?: string; interface?: number }
export interface CniRoute { dst: string; gw?: string }
export interface CniResult {
  interfaces: CniInterface[];
  ips: CniIp[];
  routes: CniRoute[];
  dns: Record<string, unknown>;
}

/** The result as the given version writes it (0.3.x and 0.4.0 carry "version" on each IP). */
export function encodeResult(version: string, r: CniResult): Record<string, unknown> {
  const legacy = version.startsWith('0.');
  return {
    cniVersion: version,
    interfaces: r.interfaces,
    ips: r.ips.map((ip) => (legacy ? { version: ip.address.includes(':') ? '6' : '4', ...ip } : ip)),
    routes: r.routes,
    dns: r.dns,
  };
}

export function versionResult(version: string): Record<string, unknown> {
  return { cniVersion: version, supportedVersions: [...SUPPORTED_VERSIONS] };
}

export function isSupported(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}
