// The lab's own records (.lab/state.json): every namespace is recorded before it is
// created and every process right after it is spawned, so that `lab down` removes all of
// it from the records alone, even after the lab crashed half-way through `up`.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ProcessRecord {
  pid: number;
  /** What it is: "trellisd h1", "bird tor", "etcd e1", "listener h1-aweb". */
  role: string;
  netns: string;
  argv: string[];
  /** /proc/<pid>/stat start time, so that down never kills a recycled pid. */
  startTime: string | null;
}

export interface LabRecords {
  version: 1;
  prefix: string;
  createdAt: string;
  namespaces: string[];
  processes: ProcessRecord[];
  /** Cgroups a lab dockerd puts its containers under (recorded before it starts; absent before runtimes). */
  cgroups?: string[];
  /** Directories the lab made outside its logs (a dockerd's data), removed by down. */
  dirs?: string[];
  /** Free-form description of what was built (topology, containers), for status and exec. */
  topology: unknown;
}

export function statePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}

export function readRecords(stateDir: string): LabRecords | null {
  const p = statePath(stateDir);
  if (!existsSync(p)) return null;
  try {
    const r = JSON.parse(readFileSync(p, 'utf8')) as LabRecords;
    if (r.version !== 1 || !Array.isArray(r.namespaces) || !Array.isArray(r.processes)) throw new Error('unknown layout');
    return r;
  } catch (err) {
    throw new Error(`${p} is not a lab state file (${(err as Error).message}); remove it by hand after checking "ip netns list"`);
  }
}

/** /proc/<pid>/stat fields 3 (state: R, S, Z ...) and 22 (start time in clock ticks), or null when the pid is gone. */
export function processStat(pid: number): { state: string; startTime: string | null } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after it follow the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', startTime: rest[19] ?? null };
  } catch { return null; }
}

/** /proc/<pid>/stat field 22 (start time in clock ticks), or null when the pid is gone. */
export function processStartTime(pid: number): string | null {
  return processStat(pid)?.startTime ?? null;
}

/** Appends to the records and writes them atomically (write + rename) before returning. */
export class RecordBook {
  private data: LabRecords;
  constructor(readonly stateDir: string, prefix: string) {
    this.data = readRecords(stateDir) ?? { version: 1, prefix, createdAt: new Date().toISOString(), namespaces: [], processes: [], topology: null };
    this.data.prefix = prefix;
  }
  get records(): LabRecords { return this.data; }
  private save(): void {
    mkdirSync(this.stateDir, { recursive: true });
    const p = statePath(this.stateDir);
    const tmp = `${p}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2) + '\n');
    renameSync(tmp, p);
  }
  namespace(name: string): void {
    if (!this.data.namespaces.includes(name)) this.data.namespaces.push(name);
    this.save();
  }
  process(rec: Omit<ProcessRecord, 'startTime'>): void {
    this.data.processes = this.data.processes.filter((p) => p.pid !== rec.pid);
    this.data.processes.push({ ...rec, startTime: processStartTime(rec.pid) });
    this.save();
  }
  cgroup(name: string): void {
    this.data.cgroups = [...(this.data.cgroups ?? []).filter((c) => c !== name), name];
    this.save();
  }
  dir(path: string): void {
    this.data.dirs = [...(this.data.dirs ?? []).filter((d) => d !== path), path];
    this.save();
  }
  forgetNamespace(name: string): void {
    this.data.namespaces = this.data.namespaces.filter((n) => n !== name);
    this.save();
  }
  forgetProcess(pid: number): void {
    this.data.processes = this.data.processes.filter((p) => p.pid !== pid);
    this.save();
  }
  topology(t: unknown): void {
    this.data.topology = t;
    this.save();
  }
  clear(): void {
    this.data = { version: 1, prefix: this.data.prefix, createdAt: new Date().toISOString(), namespaces: [], processes: [], topology: null };
    this.save();
  }
}

export function ensureDir(p: string): string {
  mkdirSync(dirname(p), { recursive: true });
  return p;
}
