/** One record of the agent's bpftrace program, parsed from its printf text (see program.ts for the layout). */
/** A connection to a watched destination: S at SYN_SENT, P for one open before the program attached. */
export interface BtOpen {
  k: 'S' | 'P';
  ns: number;
  pid: number;
  ppid: number;
  uid: number;
  netns: number;
  cgroup: number;
  /** The kernel's socket address, as printed (decimal): the key that ties writes and close to the connection. */
  sk: string;
  family: 4 | 6;
  port: number;
  /** s: a system call; u: io_uring. */
  via: 's' | 'u';
  addr: string;
  comm: string;
}

export type BtRecord =
  | BtOpen
  | { k: 'W'; ns: number; pid: number; sk: string; call: string; total: number; off: number; n: number; chunk: string }
  | { k: 'F'; ns: number; pid: number; sk: string; kind: string }
  | { k: 'D'; ns: number; sk: string }
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
    case 'S':
    case 'P': {
      // S carries the via field; P does not (a connection found by its writes).
      const isS = text[0] === 'S';
      const f = fields(text, isS ? 12 : 11);
      if (!f) return null;
      const rest = isS ? 11 : 10;
      return {
        k: isS ? 'S' : 'P',
        ns: nsOf(f[1] as string),
        pid: int(f[2]),
        ppid: int(f[3]),
        uid: int(f[4]),
        netns: int(f[5]),
        cgroup: int(f[6]),
        sk: f[7] as string,
        family: f[8] === '6' ? 6 : 4,
        port: int(f[9]),
        via: isS && f[10] === 'u' ? 'u' : 's',
        addr: f[rest] as string,
        comm: f[rest + 1] as string,
      };
    }
    case 'W': {
      const f = fields(text, 8);
      if (!f) return null;
      return {
        k: 'W',
        ns: nsOf(f[1] as string),
        pid: int(f[2]),
        sk: f[3] as string,
        call: f[4] as string,
        total: int(f[5]),
        off: int(f[6]),
        n: int(f[7]),
        chunk: f[8] as string,
      };
    }
    case 'F': {
      const f = fields(text, 4);
      if (!f) return null;
      return { k: 'F', ns: nsOf(f[1] as string), pid: int(f[2]), sk: f[3] as string, kind: (f[4] ?? '').trim() };
    }
    case 'D': {
      const f = fields(text, 2);
      if (!f) return null;
      return { k: 'D', ns: nsOf(f[1] as string), sk: (f[2] ?? '').trim() };
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
