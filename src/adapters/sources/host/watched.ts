import { catalogueAddresses, type WatchedAddress } from '../bpftrace/program.ts';

/**
 * User-space filter for sensors that cannot filter in the kernel (auditd logs every connect; procfs sees every
 * socket): is this destination a metadata address (port-bound services only on their ports)?
 */
export function metadataDestination(
  addresses: WatchedAddress[] = catalogueAddresses(),
): (ip: string, port: number) => boolean {
  const byIp = new Map<string, number[] | null>();
  for (const a of addresses) byIp.set(a.ip, a.ports);
  return (ip, port) => {
    const key = ip.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
    if (!byIp.has(key)) return false;
    const ports = byIp.get(key);
    return ports === null || ports === undefined || ports.includes(port);
  };
}
