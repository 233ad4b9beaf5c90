// One validation for values read from etcd and for writes: the model's, as for user YAML.
import { ResourceFileError, formatIssue, validateResource, type Resource } from '../model/index.js';

export function validateValue(value: unknown, source: string): { ok: true; resource: Resource } | { ok: false; error: string } {
  try {
    return { ok: true, resource: validateResource(value, source) };
  } catch (err) {
    if (err instanceof ResourceFileError) return { ok: false, error: err.issues.map(formatIssue).join('; ') };
    return { ok: false, error: `${source}: ${(err as Error).message}` };
  }
}
