/** One socket row of /proc/<pid>/net/tcp or tcp6. */
export interface ProcNetRow {
  local: { ip: string; port: number };
  remote: { ip: string; port: number };
  /** Kernel TCP state: 1 ESTABLISHED, 2 SYN_SENT, 6 TIME_WAIT, … */
  state: number;
  uid: number;
  /** 0 once the socket has no owner (TIME_WAIT). */
  inode: number;
}

function v4(hex: string): string {
  // One 32-bit word in host (little-endian) order.
  const n = Number.parseInt(hex, 16);
  return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 24) & 0xff}`;
}

function v6(hex: string): string {
  // Four 32-bit words, each in host order.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const n = Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    bytes.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  const s = groups.join(':');
  // Compress the longest zero run (good enough for matching: the catalogue forms are compressed the same way).
  const runs = [...s.matchAll(/(?:^|:)0(?::0)+(?::|$)/g)];
  if (runs.length === 0) return s;
  const longest = runs.reduce((a, b) => (b[0].length > a[0].length ? b : a));
  return `${s.slice(0, longest.index)}::${s.slice((longest.index ?? 0) + longest[0].length)}`
    .replace(/^:::/, '::')
    .replace(/:::$/, '::');
}

function addr(s: string): { ip: string; port: number } | null {
  const [h, p] = s.split(':');
  if (!h || !p) return null;
  const port = Number.parseInt(p, 16);
  if (h.length === 8) return { ip: v4(h), port };
  if (h.length === 32) return { ip: v6(h), port };
  return null;
}

/** Parse the text of /proc/net/tcp or tcp6 (header line skipped). */
export function parseProcNetTcp(text: string): ProcNetRow[] {
  const out: ProcNetRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = addr(f[1] ?? '');
    const remote = addr(f[2] ?? '');
    if (!local || !remote) continue;
    out.push({ local, remote, state: Number.parseInt(f[3] ?? '0', 16), uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}
