/** /proc/net/tcp{,6} rows: the slow but always-available way to find a socket's inode from its address. */
import { isIPv4 } from 'node:net';

/** 127.0.0.1 → "0100007F" (the kernel prints the 32-bit address in host order; these machines are little-endian). */
export function ipv4Hex(ip: string): string {
  return ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase();
}

/** Expand an IPv6 address to 16 bytes. */
function ipv6Bytes(ip: string): number[] {
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    s = `${s.slice(0, v4.index)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g || '0', 16);
    return [n >> 8, n & 0xff];
  });
}

/** fd00:ec2::254 → "C20E00FD000000000000000054020000": four 32-bit words, each in host order. */
export function ipv6Hex(ip: string): string {
  const b = ipv6Bytes(ip);
  let out = '';
  for (let w = 0; w < 4; w++) {
    for (let i = 3; i >= 0; i--) out += (b[w * 4 + i] ?? 0).toString(16).padStart(2, '0');
  }
  return out.toUpperCase();
}

export function addrHex(ip: string, port: number): string {
  const a = isIPv4(ip) ? ipv4Hex(ip) : ipv6Hex(ip);
  return `${a}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Find the row whose local address is `local` (and, when given, whose remote is one of `remotes`).
 * @example findRow(text, '127.0.0.1', 44084) // { inode: 22719, uid: 0 }
 */
export function findRow(
  table: string,
  localIp: string,
  localPort: number,
  remotes?: ReadonlyArray<{ ip: string; port: number }>,
): { inode: number; uid: number } | null {
  const want = addrHex(localIp, localPort);
  const wantRemote = remotes?.map((r) => addrHex(r.ip, r.port));
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    if (f[1] !== want) continue;
    if (wantRemote && !wantRemote.includes(f[2] ?? '')) continue;
    const inode = Number(f[9]);
    if (!inode) continue;
    return { inode, uid: Number(f[7]) };
  }
  return null;
}
