import { ImdsguardError } from '../../core/errors.ts';

/** Check a server address given on the command line; returns it unchanged. */
export function checkServerUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ImdsguardError('E_USAGE', `"${v}" is not a NATS server address (expected nats://HOST:PORT)`);
  }
  if (!['nats:', 'tls:'].includes(u.protocol) || u.hostname === '')
    throw new ImdsguardError('E_USAGE', `"${v}" is not a NATS server address (expected nats://HOST:PORT)`);
  if (u.username || u.password)
    throw new ImdsguardError(
      'E_USAGE',
      `"${u.protocol}//${u.host}": give the user and password with IMDSGUARD_NATS_USER and IMDSGUARD_NATS_PASSWORD, not in the address (it shows in the process list)`,
    );
  return v;
}
