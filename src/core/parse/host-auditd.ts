/** One audit record line: `type=SOCKADDR msg=audit(1795408059.502:15): saddr=…` (raw or ENRICHED format). */
export interface AuditRecord {
  type: string;
  /** Event time in ms since the epoch (from the record, not the reader's clock). */
  timeMs: number;
  serial: number;
  fields: Record<string, string>;
}

const HEAD = /^type=([A-Z_0-9]+) msg=audit\((\d+)\.(\d{3}):(\d+)\):\s?(.*)$/;
const FIELD = /([a-zA-Z_0-9-]+)=("(?:[^"]*)"|'(?:[^']*)'|\S*)/g;

/** Parse one audit.log line. The ENRICHED part (after 0x1d) is dropped: the raw fields say the same. */
export function parseAuditLine(line: string): AuditRecord | null {
  const m = HEAD.exec(line);
  if (!m) return null;
  const body = (m[5] ?? '').split('\u001d')[0] ?? '';
  const fields: Record<string, string> = {};
  for (const f of body.matchAll(FIELD)) {
    const v = f[2] ?? '';
    fields[f[1] as string] = v.startsWith('"') || v.startsWith("'") ? v.slice(1, -1) : v;
  }
  return { type: m[1] as string, timeMs: Number(m[2]) * 1000 + Number(m[3]), serial: Number(m[4]), fields };
}

/** A decoded socket address from a SOCKADDR record (hex of the struct sockaddr the process passed). */
export interface AuditSockaddr {
  family: 4 | 6;
  ip: string;
  port: number;
}

/**
 * Decode `saddr=` hex: sa_family is host-order (little-endian on the platforms we run on), port and address are
 * network order. Other families (AF_UNIX, netlink) return null.
 * @example decodeSaddr('02000050A9FEA9FE0000000000000000') // { family: 4, ip: '169.254.169.254', port: 80 }
 */
export function decodeSaddr(hex: string): AuditSockaddr | null {
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) return null;
  const b = Buffer.from(hex, 'hex');
  if (b.length < 8) return null;
  const fam = b.readUInt16LE(0);
  const port = b.readUInt16BE(2);
  if (fam === 2) return { family: 4, ip: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port };
  if (fam === 10 && b.length >= 24) {
    const groups: string[] = [];
    for (let i = 8; i < 24; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    // IPv4-mapped: print the dotted form so the catalogue recognises it.
    if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff')
      return { family: 6, ip: `::ffff:${b[20]}.${b[21]}.${b[22]}.${b[23]}`, port };
    return { family: 6, ip: compressV6(groups), port };
  }
  return null;
}

function compressV6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Decode PROCTITLE (hex of argv joined by NUL; plain text when it has no special characters). */
export function decodeProctitle(v: string): string[] {
  if (/^[0-9A-F]+$/.test(v) && v.length % 2 === 0)
    return Buffer.from(v, 'hex')
      .toString('latin1')
      .split('\0')
      .filter((x) => x !== '');
  return v.split(' ');
}

/** An audited connect: the SYSCALL record's process fields plus the SOCKADDR destination. */
export interface AuditConnect {
  timeMs: number;
  serial: number;
  pid: number;
  ppid?: number;
  uid?: number;
  auid?: number;
  comm?: string;
  exe?: string;
  argv?: string[];
  success: boolean;
  destination: AuditSockaddr;
}

/** Join the records of one audit event (same serial). Returns null unless it is a connect with an inet address. */
export function auditConnect(records: AuditRecord[]): AuditConnect | null {
  const sys = records.find((r) => r.type === 'SYSCALL');
  const sa = records.find((r) => r.type === 'SOCKADDR');
  if (!sys || !sa) return null;
  // 42 is connect on x86_64; with the interpreted format it may be the name.
  const sc = sys.fields.syscall;
  if (sc !== '42' && sc !== 'connect') return null;
  const dest = decodeSaddr(sa.fields.saddr ?? '');
  if (!dest) return null;
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  const title = records.find((r) => r.type === 'PROCTITLE')?.fields.proctitle;
  const out: AuditConnect = {
    timeMs: sys.timeMs,
    serial: sys.serial,
    pid: num(sys.fields.pid) ?? 0,
    // A non-blocking connect logs success=no exit=EINPROGRESS: it still went out.
    success: sys.fields.success === 'yes' || sys.fields.exit === '-115' || sys.fields.exit === 'EINPROGRESS',
    destination: dest,
  };
  const ppid = num(sys.fields.ppid);
  if (ppid !== undefined) out.ppid = ppid;
  const uid = num(sys.fields.uid);
  if (uid !== undefined) out.uid = uid;
  const auid = num(sys.fields.auid);
  if (auid !== undefined) out.auid = auid;
  if (sys.fields.comm) out.comm = sys.fields.comm;
  if (sys.fields.exe) out.exe = sys.fields.exe;
  if (title) out.argv = decodeProctitle(title);
  return out;
}
