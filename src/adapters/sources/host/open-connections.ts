import { readdirSync, statSync } from 'node:fs';
import { ProcessIndex } from '../../net/caller/process-index.ts';
import { startSockDiag } from '../../net/caller/sockdiag.ts';
import { catalogueAddresses, type WatchedAddress } from '../bpftrace/program.ts';
import { metadataDestination } from './watched.ts';

/** A TCP connection to a metadata address that was already open when it was listed, with its owner. */
export interface OpenConnection {
  /** The owning process, when its descriptor was found in /proc (a socket may have no owner left). */
  pid?: number;
  uid: number;
  netns: number;
  inode: number;
  source: { ip: string; port: number };
  destination: { ip: string; port: number };
}

/** One process per network namespace, to enter it through /proc/<pid>/ns/net. */
function namespaces(procRoot: string): Map<number, number> {
  const byNetns = new Map<number, number>();
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const ino = statSync(`${procRoot}/${name}/ns/net`).ino;
      if (!byNetns.has(ino)) byNetns.set(ino, Number(name));
    } catch {
      // Gone, or a kernel thread without a namespace link we may read.
    }
  }
  return byNetns;
}

/**
 * Every established (or connecting, or half-closed) TCP connection to a metadata address, in every network
 * namespace, with its owner: what a sensor that attaches now cannot have seen open. Listed through sock_diag (the
 * proxy's helper, entered into each namespace) and owned through /proc/<pid>/fd. As with connections found by
 * their writes, "any port" services count on port 80 only: a socket whose peer holds a metadata address on another
 * port is the accepted end of a local service. Namespaces that cannot be entered are named in `errors`.
 */
export async function listOpenMetadataConnections(
  addresses: WatchedAddress[] = catalogueAddresses(),
  procRoot = '/proc',
): Promise<{ connections: OpenConnection[]; errors: string[] }> {
  const watched = metadataDestination(addresses.map((a) => (a.ports ? a : { ...a, ports: [80] })));
  const owners = new ProcessIndex({ procRoot });
  const connections: OpenConnection[] = [];
  const errors: string[] = [];
  const own = statSync(`${procRoot}/self/ns/net`).ino;
  for (const [netns, pid] of namespaces(procRoot)) {
    let diag: Awaited<ReturnType<typeof startSockDiag>> | undefined;
    try {
      // Entering a namespace needs CAP_SYS_ADMIN; our own needs no entering.
      diag = await startSockDiag('python3', 5000, netns === own ? {} : { netnsPath: `${procRoot}/${pid}/ns/net` });
      for (const family of [4, 6] as const) {
        for (const s of await diag.dump(family)) {
          if (!watched(s.dst, s.dport)) continue;
          const owner = s.inode ? owners.findOwner(s.inode, s.uid) : null;
          connections.push({
            ...(owner !== null ? { pid: owner } : {}),
            uid: s.uid,
            netns,
            inode: s.inode,
            source: { ip: s.src, port: s.sport },
            destination: { ip: s.dst, port: s.dport },
          });
        }
      }
    } catch (e) {
      errors.push(`netns ${netns} (pid ${pid}): ${(e as Error).message}`);
    } finally {
      diag?.close();
    }
  }
  return { connections, errors };
}
