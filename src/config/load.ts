// Loads trellisd / trellisctl settings: defaults < YAML file < TRELLIS_* env < overrides
// (command-line flags). Strict: an unknown key or a bad value throws a ConfigError that
// names the field and where the value came from (file:line, env var or flag).
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import { FIELDS, FIELD_NAMES, envVarFor, type DaemonConfig, type FieldName } from './fields.js';
import { TrellisError } from '../model/index.js';

export const DEFAULT_CONFIG_FILE = '/etc/trellis/trellisd.yaml';

export class ConfigError extends TrellisError<'CONFIG'> {
  constructor(readonly field: string | null, readonly source: string, problem: string) {
    super('CONFIG', field ? `${source}: ${field}: ${problem}` : `${source}: ${problem}`);
  }
}

export interface LoadOptions {
  /** Settings file; when omitted the default file is read if it exists. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Values from command-line flags: they win over everything. */
  overrides?: Partial<DaemonConfig>;
  /** Where the default file lives (tests point this elsewhere). */
  defaultFile?: string;
}

export interface LoadedConfig {
  config: DaemonConfig;
  /** Where each field's value came from: "default", "<file>:<line>", an env var name, or "override". */
  sources: Record<FieldName, string>;
  /** The file read, if any. */
  file: string | null;
}

interface Candidate { value: unknown; source: string }

function readFile(file: string, required: boolean): Map<string, Candidate> | null {
  let textContent: string;
  try {
    textContent = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return null;
    throw new ConfigError(null, file, `cannot read the settings file: ${(err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(textContent, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  const firstError = doc.errors[0];
  if (firstError) throw new ConfigError(null, `${file}:${lineOf(firstError.pos[0])}`, `not valid YAML: ${firstError.message.split('\n')[0]}`);
  const out = new Map<string, Candidate>();
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return out;
  if (!isMap(doc.contents)) throw new ConfigError(null, `${file}:${lineOf(doc.contents.range?.[0])}`, 'must be a mapping of setting: value');
  for (const pair of doc.contents.items) {
    const keyNode = pair.key;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const line = lineOf(isScalar(keyNode) ? keyNode.range?.[0] : undefined);
    const source = `${file}:${line}`;
    if (!(FIELD_NAMES as string[]).includes(key)) {
      throw new ConfigError(key, source, `unknown setting; known settings: ${FIELD_NAMES.join(', ')}`);
    }
    const valueNode = pair.value;
    const value = valueNode && typeof (valueNode as { toJSON?: unknown }).toJSON === 'function'
      ? (valueNode as { toJSON(): unknown }).toJSON()
      : valueNode;
    out.set(key, { value, source });
  }
  return out;
}

export function loadDaemonConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? {};
  const chosen = new Map<FieldName, Candidate>();
  for (const f of FIELD_NAMES) {
    const d = FIELDS[f].default;
    if (d) chosen.set(f, { value: d(), source: 'default' });
  }
  const explicitFile = opts.file ?? env.TRELLIS_CONFIG;
  const file = explicitFile ?? opts.defaultFile ?? DEFAULT_CONFIG_FILE;
  const fromFile = readFile(file, explicitFile !== undefined);
  for (const [k, c] of fromFile ?? []) {
    // An explicit null in the file means "the default".
    if (c.value !== null) chosen.set(k as FieldName, c);
  }
  for (const f of FIELD_NAMES) {
    const name = envVarFor(f);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    chosen.set(f, { value: FIELDS[f].fromEnv(raw), source: name });
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) {
    if (!(FIELD_NAMES as string[]).includes(k)) throw new ConfigError(k, 'override', 'unknown setting');
    if (v !== undefined) chosen.set(k as FieldName, { value: v, source: 'override' });
  }
  const config: Record<string, unknown> = {};
  const sources = {} as Record<FieldName, string>;
  for (const [f, c] of chosen) {
    const parsed = FIELDS[f].schema.safeParse(c.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue && issue.path.length ? ` (item ${issue.path.join('.')})` : '';
      throw new ConfigError(f, c.source, `${issue?.message ?? 'invalid value'}${at}`);
    }
    config[f] = parsed.data;
    sources[f] = c.source;
  }
  const cfg = config as unknown as DaemonConfig;
  if ((cfg.etcdCertFile === undefined) !== (cfg.etcdKeyFile === undefined)) {
    const f: FieldName = cfg.etcdCertFile === undefined ? 'etcdKeyFile' : 'etcdCertFile';
    throw new ConfigError(f, sources[f], 'etcdCertFile and etcdKeyFile go together: set both or neither');
  }
  if (cfg.etcdPassword !== undefined && cfg.etcdUsername === undefined) {
    throw new ConfigError('etcdPassword', sources.etcdPassword, 'needs etcdUsername as well');
  }
  return { config: cfg, sources, file: fromFile ? file : null };
}
