// Validation issues and how they read. One shape for YAML files (file:line:col), values
// read back from etcd (their key as source) and anything else that validates resources:
//   policies/tenant-a.yaml:14:9 NetworkPolicy tenant-a/web: spec.ingress[0].action: "allow" is not one of Allow, Deny, Log, Pass
import { TrellisError } from './errors.js';

export type FieldPath = ReadonlyArray<string | number>;

export interface Issue {
  /** The file name, or where a value came from (e.g. an etcd key). */
  source: string;
  /** 1-based position of the offending YAML node, when the value came from YAML. */
  line?: number;
  column?: number;
  /** "NetworkPolicy tenant-a/web", or "document 2" when the document names no resource. */
  resource?: string;
  /** "spec.ingress[0].action"; empty when the issue is with the whole document. */
  path: string;
  message: string;
}

export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function formatIssue(i: Issue): string {
  const where = i.line !== undefined ? `${i.source}:${i.line}:${i.column ?? 1}` : i.source;
  const what = i.resource ? ` ${i.resource}` : '';
  return `${where}${what}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/** Thrown when a file (or a set of files, or a stored value) holds an invalid resource:
 *  nothing from it is used. */
export class ResourceFileError extends TrellisError<'INVALID_RESOURCE'> {
  constructor(readonly issues: Issue[]) {
    super('INVALID_RESOURCE', issues.map(formatIssue).join('\n'));
  }
}
