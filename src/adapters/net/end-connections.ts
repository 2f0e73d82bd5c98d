/**
 * After the redirect is applied, end the metadata connections opened before it. NAT decides once per connection, on
 * its first packet: a keep-alive connection that already reached the metadata service keeps reaching it directly,
 * past the proxy, for as long as it stays open. Two ways out, both taken:
 * - sockets of this network namespace connected to an endpoint are destroyed (`ss -K`, the kernel's SOCK_DESTROY),
 *   except those of the proxy's own uid (its upstream connections);
 * - the connection tracker's entries for flows to an endpoint are deleted (`conntrack -D`), so the next packet of a
 *   flow from another namespace (a container, through PREROUTING) is looked at again, redirected to the proxy, and
 *   reset there. Where no tracker ran before the redirect (no Docker, firewalld or ufw), there are no entries and
 *   existing flows meet the redirect anyway.
 * The clients reconnect, through the proxy.
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { endpointOf } from './nft-redirect.ts';
import type { ListenSpec } from './proxy-server.ts';

export interface EndedSocket {
  local: string;
  remote: string;
  uid: number;
  /** `program (pid N)` of the processes holding it. */
  holders: string[];
}

export interface EndedConnections {
  /** Sockets destroyed. */
  sockets: EndedSocket[];
  /** Sockets of the proxy's own uid, left open. */
  kept: number;
  /** Connection-tracking entries deleted. */
  conntrackEntries: number;
  /** What could not be done, and what that leaves open. */
  notes: string[];
}

function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return null;
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * The program holding a socket: the name of its executable, else the name ss gives. ss gives the main thread's name
 * (comm), which a program may set to anything: Node 24 names its main thread `MainThread`, so every Node application
 * would be reported as that.
 */
export function holderName(ssName: string, pid: number, proc = '/proc'): string {
  try {
    return basename(readlinkSync(`${proc}/${pid}/exe`).replace(/ \(deleted\)$/, ''));
  } catch {
    return ssName;
  }
}

/** One `ss -tnepH` line → the socket. */
export function parseSsLine(line: string, proc = '/proc'): EndedSocket | null {
  const f = line.trim().split(/\s+/);
  // Recv-Q Send-Q Local Peer [users:((…))] [uid:N] …
  if (f.length < 4) return null;
  const uid = /\buid:(\d+)/.exec(line);
  const holders = [...line.matchAll(/\("([^"]*)",pid=(\d+)/g)].map(
    (m) => `${holderName(m[1]!, Number(m[2]), proc)} (pid ${m[2]})`,
  );
  return { local: f[2]!, remote: f[3]!, uid: uid ? Number(uid[1]) : 0, holders };
}

export function endMetadataConnections(listeners: readonly ListenSpec[], proxyUid?: number): EndedConnections {
  const out: EndedConnections = { sockets: [], kept: 0, conntrackEntries: 0, notes: [] };
  const seen = new Set<string>();
  let ssMissing = false;
  let conntrackMissing = false;
  for (const l of listeners) {
    const e = endpointOf(l);
    const key = `${e.family} ${e.addr} ${e.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dst = e.family === 'ip6' ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`;

    if (!ssMissing) {
      const list = run('ss', ['-tnepH', 'state', 'established', `( dst ${dst} )`]);
      if (list === null) {
        ssMissing = true;
        out.notes.push('ss (iproute2) not found: open connections to the metadata service were not ended');
      } else {
        for (const line of list.stdout.split('\n')) {
          const s = parseSsLine(line);
          if (!s) continue;
          if (proxyUid !== undefined && s.uid === proxyUid) {
            out.kept++;
            continue;
          }
          run('ss', ['-K', '-tnH', 'state', 'established', `( src ${s.local} and dst ${s.remote} )`]);
          const still = run('ss', ['-tnH', 'state', 'established', `( src ${s.local} and dst ${s.remote} )`]);
          if (still && still.stdout.trim() !== '')
            out.notes.push(
              `could not end ${s.local} → ${s.remote} (${s.holders.join(', ') || `uid ${s.uid}`}): the kernel refused SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY); it reaches the service directly until it closes`,
            );
          else out.sockets.push(s);
        }
      }
    }

    if (!conntrackMissing) {
      const ct = run('conntrack', [
        '-D',
        '-f',
        e.family === 'ip6' ? 'ipv6' : 'ipv4',
        '-p',
        'tcp',
        '--orig-dst',
        e.addr,
        '--dport',
        String(e.port),
      ]);
      if (ct === null) {
        conntrackMissing = true;
        out.notes.push(
          'conntrack (conntrack-tools) not found: where a connection tracker already ran (Docker, firewalld, ufw), connections from other namespaces opened before the redirect keep reaching the service until they close',
        );
      } else {
        const m = /(\d+) flow entries have been deleted/.exec(ct.stderr + ct.stdout);
        if (m) out.conntrackEntries += Number(m[1]);
      }
    }
  }
  return out;
}

/** The report printed by `proxy redirect --apply`. */
export function describeEnded(r: EndedConnections): string {
  const lines: string[] = [];
  lines.push(
    `imdsguard: ended ${r.sockets.length} metadata connection(s) opened before the redirect` +
      (r.kept > 0 ? ` (kept ${r.kept} of the proxy's own uid)` : '') +
      `; deleted ${r.conntrackEntries} connection-tracking entr${r.conntrackEntries === 1 ? 'y' : 'ies'}`,
  );
  for (const s of r.sockets)
    lines.push(`imdsguard:   ended ${s.local} → ${s.remote} uid ${s.uid} ${s.holders.join(', ')}`.trimEnd());
  for (const n of r.notes) lines.push(`imdsguard: warning: ${n}`);
  return `${lines.join('\n')}\n`;
}
