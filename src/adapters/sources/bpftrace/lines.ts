/** One record of the agent's bpftrace program, parsed from its printf text (see program.ts for the layout). */
export type BtRecord =
  | {
      k: 'C';
      ns: number;
      pid: number;
      ppid: number;
      uid: number;
      netns: number;
      cgroup: number;
      fd: number;
      family: 4 | 6;
      port: number;
      addr: string;
      comm: string;
    }
  | { k: 'W'; ns: number; pid: number; fd: number; len: number; chunk: string; more?: string }
  | { k: 'V'; pid: number; fd: number; chunk: string }
  | { k: 'D'; ns: number; pid: number; fd: number }
  | { k: 'E'; ns: number; pid: number; ppid: number; uid: number; cgroup: number; filename: string }
  | { k: 'A'; ns: number; pid: number; index: number; arg: string };

/** Split off `n` space-separated fields; the rest of the line (which may hold spaces) is the last element. */
function fields(s: string, n: number): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (let f = 0; f < n; f++) {
    const j = s.indexOf(' ', i);
    if (j < 0) return null;
    out.push(s.slice(i, j));
    i = j + 1;
  }
  out.push(s.slice(i));
  return out;
}

const int = (s: string | undefined) => Number.parseInt(s ?? '', 10);
/**
 * Kernel monotonic nanoseconds as a double: exact up to about 104 days of uptime and off by a few nanoseconds
 * beyond, which does not matter for ordering records 30 ms apart, and is much cheaper than BigInt on the hot path.
 */
const nsOf = (s: string) => {
  const n = Number(s);
  if (!Number.isFinite(n)) throw new RangeError(`Bad timestamp "${s}"`);
  return n;
};

/** Parse one printf line (without its trailing newline). Returns null for anything else. */
export function parseBtLine(line: string): BtRecord | null {
  try {
    return parse(line);
  } catch {
    return null;
  }
}

function parse(line: string): BtRecord | null {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  switch (text[0]) {
    case 'C': {
      const f = fields(text, 11);
      if (!f) return null;
      return {
        k: 'C',
        ns: nsOf(f[1] as string),
        pid: int(f[2]),
        ppid: int(f[3]),
        uid: int(f[4]),
        netns: int(f[5]),
        cgroup: int(f[6]),
        fd: int(f[7]),
        family: f[8] === '6' ? 6 : 4,
        port: int(f[9]),
        addr: f[10] as string,
        comm: f[11] as string,
      };
    }
    case 'W': {
      const f = fields(text, 5);
      if (!f) return null;
      return {
        k: 'W',
        ns: nsOf(f[1] as string),
        pid: int(f[2]),
        fd: int(f[3]),
        len: int(f[4]),
        chunk: f[5] as string,
      };
    }
    case 'V': {
      const f = fields(text, 3);
      if (!f) return null;
      return { k: 'V', pid: int(f[1]), fd: int(f[2]), chunk: f[3] as string };
    }
    case 'D': {
      const f = fields(text, 3);
      if (!f) return null;
      return { k: 'D', ns: nsOf(f[1] as string), pid: int(f[2]), fd: int(f[3]) };
    }
    case 'E': {
      const f = fields(text, 6);
      if (!f) return null;
      return {
        k: 'E',
        ns: nsOf(f[1] as string),
        pid: int(f[2]),
        ppid: int(f[3]),
        uid: int(f[4]),
        cgroup: int(f[5]),
        filename: f[6] ?? '',
      };
    }
    case 'A': {
      const f = fields(text, 4);
      if (!f) return null;
      return { k: 'A', ns: nsOf(f[1] as string), pid: int(f[2]), index: int(f[3]), arg: f[4] ?? '' };
    }
    default:
      return null;
  }
}
