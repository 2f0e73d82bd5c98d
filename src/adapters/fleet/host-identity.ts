import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { FleetHost } from '../../core/fleet/contract.ts';

/**
 * Who this sensor is on the bus: the id given with --host-id, else /etc/machine-id (stable across reboots and
 * renames, unique per installed system), else the host name. The host name travels as the readable name.
 */
export function fleetHost(given?: string): FleetHost {
  const name = hostname();
  if (given) return { id: given, name };
  try {
    const id = readFileSync('/etc/machine-id', 'utf8').trim();
    if (/^[0-9a-f]{32}$/.test(id)) return { id, name };
  } catch {
    // No machine id (a minimal container): the host name is the next best stable name.
  }
  return { id: name, name };
}
