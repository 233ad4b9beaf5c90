// Resource YAML in, validated resources out, without touching the filesystem (the CLI
// reads files; this parses their text). All-or-nothing: one bad document, or one
// duplicate, refuses the whole file (or the whole set of files), so a typo can never
// leave half a policy applied.
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { ResourceFileError, type FieldPath, type Issue } from './issues.js';
import { describeKey, resourceKey, type Resource } from './resources.js';
import { validateValue, type Position } from './validate.js';

export { formatIssue, formatPath, ResourceFileError, type Issue } from './issues.js';

export interface ResourceText { text: string; fileName: string }

interface Located { resource: Resource; fileName: string; at: Position | undefined }

function nodeAt(doc: Document, path: FieldPath): YamlNode | undefined {
  const n = path.length === 0 ? doc.contents : doc.getIn(path, true);
  return n && typeof n === 'object' && 'range' in n ? (n as YamlNode) : undefined;
}

/** The key node of the last path segment (for unknown or missing fields). */
function keyNodeAt(doc: Document, path: FieldPath): YamlNode | undefined {
  if (path.length === 0) return nodeAt(doc, path);
  const parent = nodeAt(doc, path.slice(0, -1));
  const last = path[path.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
    if (pair && isScalar(pair.key)) return pair.key;
  } else if (isSeq(parent) && typeof last === 'number') {
    const item = parent.items[last];
    if (item && typeof item === 'object' && 'range' in item) return item as YamlNode;
  }
  return undefined;
}

function locator(doc: Document, lc: LineCounter) {
  const pos = (n: YamlNode | undefined): Position | undefined => {
    const start = n?.range?.[0];
    if (start === undefined) return undefined;
    const { line, col } = lc.linePos(start);
    return { line, column: col };
  };
  return (path: FieldPath, key: boolean): Position | undefined => {
    if (key) return pos(keyNodeAt(doc, path));
    const direct = nodeAt(doc, path);
    if (direct) return pos(direct);
    // A missing field: point at the key of the closest ancestor that exists ("spec:").
    for (let n = path.length - 1; n >= 0; n--) {
      const at = n === 0 ? nodeAt(doc, []) : keyNodeAt(doc, path.slice(0, n));
      if (at) return pos(at);
    }
    return undefined;
  };
}

function parseOne(text: string, fileName: string): { found: Located[]; issues: Issue[] } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const found: Located[] = [];
  const issues: Issue[] = [];
  const at = (offset: number | undefined): Pick<Issue, 'line' | 'column'> => {
    if (offset === undefined) return {};
    const { line, col } = lc.linePos(offset);
    return { line, column: col };
  };
  let index = 0;
  for (const doc of docs) {
    index++;
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      for (const e of problems) issues.push({ source: fileName, ...at(e.pos[0]), resource: `document ${index}`, path: '', message: `YAML: ${e.message}` });
      continue;
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      issues.push({ source: fileName, ...at(doc.contents.range?.[0]), resource: `document ${index}`, path: '', message: `YAML: ${(e as Error).message}` });
      continue;
    }
    const locate = locator(doc, lc);
    const v = validateValue(value, { source: fileName, fallbackName: `document ${index}`, locate, semantic: true });
    // Report in reading order, top of the document first.
    issues.push(...[...v.issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)));
    if (v.resource) found.push({ resource: v.resource, fileName, at: locate(['metadata', 'name'], false) });
  }
  return { found, issues };
}

function duplicates(found: Located[]): Issue[] {
  const first = new Map<string, Located>();
  const issues: Issue[] = [];
  for (const f of found) {
    const name = describeKey(resourceKey(f.resource));
    const prev = first.get(name);
    if (!prev) { first.set(name, f); continue; }
    const where = prev.fileName === f.fileName ? `line ${prev.at?.line ?? '?'}` : `${prev.fileName}:${prev.at?.line ?? '?'}`;
    issues.push({ source: f.fileName, ...(f.at ? { line: f.at.line, column: f.at.column } : {}), resource: name, path: 'metadata.name', message: `duplicate: ${name} is already defined at ${where}` });
  }
  return issues;
}

/** Parses a multi-document YAML text into resources; empty documents are skipped.
 *  Throws ResourceFileError (every issue, file:line:col) if anything is wrong. */
export function parseResourceText(text: string, fileName: string): Resource[] {
  return parseResourceTexts([{ text, fileName }]);
}

/** Several files in one go: all of them, or (if any has an issue) none. A resource
 *  defined twice, in one file or across files, is an issue too. */
export function parseResourceTexts(files: readonly ResourceText[]): Resource[] {
  const found: Located[] = [];
  const issues: Issue[] = [];
  for (const f of files) {
    const r = parseOne(f.text, f.fileName);
    found.push(...r.found);
    issues.push(...r.issues);
  }
  issues.push(...duplicates(found));
  if (issues.length > 0) throw new ResourceFileError(issues);
  return found.map((f) => f.resource);
}

/** Validates a value decoded from elsewhere (etcd's JSON): the schema checks and defaults,
 *  with `source` (say, the etcd key) in place of file:line:col. Throws ResourceFileError.
 *  The checks across fields (semantics.ts) apply only with {semantic: true}, which a
 *  path taking new user input (an HTTP API write) should set: a value already stored is
 *  better compiled fail-closed by calc than dropped with its Deny rules. */
export function validateResource(value: unknown, source: string, options: { semantic?: boolean } = {}): Resource {
  const v = validateValue(value, { source, semantic: options.semantic === true });
  if (!v.resource) throw new ResourceFileError(v.issues);
  return v.resource;
}
