// Label key and value rules (Kubernetes' syntax, which Calico uses too). Kept apart
// from resources.ts so that the selector parser can check keys without an import cycle.
const LABEL_NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Null when key is a valid label key ("tier", "example.com/tier"), else why not. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== null && (prefix.length > 253 || !LABEL_PREFIX_RE.test(prefix))) {
    return `label key "${key}": prefix must be a DNS subdomain (e.g. example.com)`;
  }
  if (!LABEL_NAME_RE.test(name)) {
    return `label key "${key}": name must be 1-63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  }
  return null;
}
