/** What exec told us about a process, kept because short-lived clients are gone before /proc can be read. */
export interface ExecRecord {
  pid: number;
  ppid?: number;
  uid?: number;
  exe: string;
  argv?: string[];
  timeMs: number;
}

/**
 * pid → last exec, least recently used first out. Bounded so that an exec storm cannot grow memory; a pid that
 * falls out is read from /proc instead, which works for long-lived processes (the ones that fall out).
 */
export class PidTable {
  private readonly map = new Map<number, ExecRecord>();
  private readonly max: number;
  constructor(max = 32_768) {
    this.max = max;
  }

  set(rec: ExecRecord): void {
    this.map.delete(rec.pid);
    this.map.set(rec.pid, rec);
    if (this.map.size > this.max) {
      const first = this.map.keys().next().value;
      if (first !== undefined) this.map.delete(first);
    }
  }

  get(pid: number): ExecRecord | undefined {
    return this.map.get(pid);
  }

  /** Refine the exe once /proc/<pid>/exe is read (an interpreter running a script: exec names the script). */
  update(pid: number, fields: Partial<ExecRecord>): void {
    const r = this.map.get(pid);
    if (r) Object.assign(r, fields);
  }

  get size(): number {
    return this.map.size;
  }
}
