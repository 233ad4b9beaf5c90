// Checks one decoded value (from YAML or from etcd) against the schemas and turns zod's
// issues into Issues a user can act on: the field path, the offending value, what was
// expected. Positions come from a locate callback, so the same code serves YAML (which
// knows lines) and etcd (which does not).
import { z, type ZodIssue, type ZodTypeAny } from 'zod';
import type { FieldPath, Issue } from './issues.js';
import { formatPath } from './issues.js';
import { unsupportedCalicoField } from './calico-fields.js';
import { semanticProblems } from './semantics.js';
import { KINDS, NAMESPACED_KINDS, schemas, type Kind, type Resource } from './resources.js';

export interface Position { line: number; column: number }
/** Where a field is; `key` asks for the field's key rather than its value (unknown fields). */
export type Locate = (path: FieldPath, key: boolean) => Position | undefined;

export interface ValidateContext {
  source: string;
  /** Used to name the resource when the value itself names none ("document 2"). */
  fallbackName?: string;
  locate?: Locate;
  /** Also apply the checks across fields (semantics.ts); on for user input. */
  semantic?: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function valueAt(root: unknown, path: FieldPath): unknown {
  let v = root;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isRecord(v) && typeof seg === 'string' && Object.hasOwn(v, seg)) v = v[seg];
    else return undefined;
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

const article = (t: string): string => (t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

/** The name a value gives itself, if it gives one: "NetworkPolicy tenant-a/web". */
export function resourceLabel(value: unknown): string | undefined {
  if (!isRecord(value) || typeof value.kind !== 'string') return undefined;
  if (!(KINDS as string[]).includes(value.kind)) return undefined;
  const md = value.metadata;
  if (!isRecord(md) || typeof md.name !== 'string') return undefined;
  const kind = value.kind as Kind;
  const namespaced = NAMESPACED_KINDS.has(kind);
  const ns = namespaced ? (typeof md.namespace === 'string' ? md.namespace : 'default') : undefined;
  return `${value.kind} ${ns !== undefined ? `${ns}/` : ''}${md.name}`;
}

// ---- unknown fields: say which were meant -------------------------------------

function unwrap(t: ZodTypeAny): ZodTypeAny {
  for (;;) {
    if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t.unwrap();
    else if (t instanceof z.ZodDefault) t = t._def.innerType;
    else if (t instanceof z.ZodEffects) t = t.innerType();
    else return t;
  }
}

/** The field names the schema allows for the object at path (empty if not an object). */
export function knownFields(schema: ZodTypeAny, path: FieldPath): string[] {
  let t = unwrap(schema);
  for (const seg of path) {
    if (t instanceof z.ZodObject && typeof seg === 'string') {
      const next = (t.shape as Record<string, ZodTypeAny>)[seg];
      if (!next) return [];
      t = unwrap(next);
    } else if (t instanceof z.ZodArray && typeof seg === 'number') t = unwrap(t.element);
    else if (t instanceof z.ZodRecord) t = unwrap(t.valueSchema);
    else return [];
    if (t instanceof z.ZodUnion) {
      const obj = (t.options as ZodTypeAny[]).map(unwrap).find((o) => o instanceof z.ZodObject);
      if (!obj) return [];
      t = obj;
    }
  }
  return t instanceof z.ZodObject ? Object.keys(t.shape as object) : [];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function unknownFieldMessage(field: string, known: string[]): string {
  if (known.length === 0) return 'unknown field';
  const close = known.map((k) => [k, editDistance(field, k)] as const).filter(([k, d]) => d <= Math.max(1, Math.floor(k.length / 3))).sort((a, b) => a[1] - b[1]);
  if (close[0]) return `unknown field (did you mean "${close[0][0]}"?)`;
  return `unknown field (allowed: ${known.join(', ')})`;
}

interface Flat { path: FieldPath; message: string; key: boolean }

const DEFAULT_MESSAGE = /^(Required$|Expected .*, received|Invalid|Number must|String must|Array must)/;

// zod reports a union as the issues of every branch; the branch whose type matched the
// value is the one the user meant, so report that branch's issues.
function flatten(issue: ZodIssue, root: unknown, schema: ZodTypeAny): Flat[] {
  const path = issue.path;
  const value = valueAt(root, path);
  const custom = !DEFAULT_MESSAGE.test(issue.message);
  const withValue = (m: string): string => (m.startsWith('must ') ? `${JSON.stringify(value)} ${m}` : m);
  switch (issue.code) {
    case 'invalid_union': {
      if (custom) return [{ path, key: false, message: withValue(issue.message) }];
      const branches = issue.unionErrors.map((e) => e.issues.flatMap((i) => flatten(i, root, schema)));
      const wrongType = (b: Flat[]) => b.length > 0 && b.every((f) => f.message.startsWith('must be a') && formatPath(f.path) === formatPath(path));
      const meant = branches.find((b) => !wrongType(b));
      if (meant) return meant;
      const types = issue.unionErrors.flatMap((e) => e.issues.flatMap((i) => (i.code === 'invalid_type' ? [article(i.expected)] : [])));
      return [{ path, key: false, message: value === undefined ? 'is required' : `must be ${[...new Set(types)].join(' or ')}, not ${describeValue(value)}` }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((k) => {
        const at = [...path, k];
        const kind = isRecord(root) && typeof root.kind === 'string' ? root.kind : '';
        const calico = unsupportedCalicoField(kind, at, formatPath(at));
        return { path: at, key: true, message: calico ?? unknownFieldMessage(k, knownFields(schema, path)) };
      });
    case 'invalid_type':
      if (issue.received === 'undefined') return [{ path, key: false, message: 'is required' }];
      if (issue.expected === 'integer' && issue.received === 'float') return [{ path, key: false, message: `${JSON.stringify(value)} must be a whole number` }];
      return [{ path, key: false, message: custom ? withValue(issue.message) : `must be ${article(issue.expected)}, not ${describeValue(value)}` }];
    case 'invalid_enum_value':
      return [{ path, key: false, message: custom ? withValue(issue.message) : `${JSON.stringify(value)} is not one of ${issue.options.join(', ')}` }];
    case 'invalid_literal':
      return [{ path, key: false, message: `${JSON.stringify(value)} must be ${JSON.stringify(issue.expected)}` }];
    case 'too_small':
    case 'too_big': {
      if (custom) return [{ path, key: false, message: withValue(issue.message) }];
      const bound = issue.code === 'too_small' ? `at least ${String(issue.minimum)}` : `at most ${String(issue.maximum)}`;
      const message = issue.type === 'array' ? `must have ${bound} item(s)`
        : issue.type === 'string' ? `${JSON.stringify(value)} must be ${bound} characters long`
          : `${JSON.stringify(value)} is out of range: must be ${bound}`;
      return [{ path, key: false, message }];
    }
    case 'not_finite':
      return [{ path, key: false, message: `${JSON.stringify(value)} must be a finite number` }];
    default:
      // labels' own check names the key: point at the key, not its value.
      if (issue.code === 'custom' && issue.message.startsWith('label key ')) return [{ path, key: true, message: issue.message }];
      return [{ path, key: false, message: custom ? withValue(issue.message) : `${JSON.stringify(value)} is not valid` }];
  }
}

export interface Validated { resource?: Resource; issues: Issue[] }

type MakeIssue = (path: FieldPath, message: string, key?: boolean) => Issue;

function schemaIssues(zodIssues: ZodIssue[], value: Record<string, unknown>, schema: ZodTypeAny, issue: MakeIssue): Issue[] {
  const flat = zodIssues.flatMap((i) => flatten(i, value, schema));
  const seen = new Set<string>();
  const issues: Issue[] = [];
  for (const f of flat) {
    const clusterNs = f.key && formatPath(f.path) === 'metadata.namespace';
    const it = issue(f.path, clusterNs ? `unknown field: ${String(value.kind)} is cluster-wide and has no namespace` : f.message, f.key);
    const text = `${it.path}\u0000${it.message}`;
    if (!seen.has(text)) { seen.add(text); issues.push(it); }
  }
  return issues;
}

/** Validates a decoded value; on success fills defaults (namespace "default" for
 *  namespaced kinds without one). */
export function validateValue(value: unknown, ctx: ValidateContext): Validated {
  const resource = resourceLabel(value) ?? ctx.fallbackName;
  const issue = (path: FieldPath, message: string, key = false): Issue => {
    const pos = ctx.locate?.(path, key);
    return { source: ctx.source, ...(pos ? { line: pos.line, column: pos.column } : {}), ...(resource ? { resource } : {}), path: formatPath(path), message };
  };
  if (!isRecord(value)) {
    return { issues: [issue([], `a resource must be a mapping with apiVersion, kind, metadata and spec, not ${describeValue(value)}`)] };
  }
  if (value.kind === undefined) return { issues: [issue([], `kind is required (one of ${KINDS.join(', ')})`)] };
  if (typeof value.kind !== 'string' || !(KINDS as string[]).includes(value.kind)) {
    return { issues: [issue(['kind'], `${JSON.stringify(value.kind)} is not one of ${KINDS.join(', ')}`)] };
  }
  const schema = schemas[value.kind as Kind];
  const parsed = schema.safeParse(value);
  if (!parsed.success) return { issues: schemaIssues(parsed.error.issues, value, schema, issue) };
  const r = parsed.data as Resource;
  if (ctx.semantic) {
    const problems = semanticProblems(r);
    if (problems.length > 0) return { issues: problems.map((p) => issue(p.path, p.message)) };
  }
  if (NAMESPACED_KINDS.has(r.kind)) {
    const md = r.metadata as { namespace?: string };
    if (md.namespace === undefined) md.namespace = 'default';
  }
  return { resource: r, issues: [] };
}
