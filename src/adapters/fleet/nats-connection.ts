/**
 * Connecting to the NATS servers of fleet mode, the same way for every sensor and the hub: several servers, a
 * credentials file (JWT + NKey seed), a user and password, a CA for TLS; reconnecting for ever.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { ImdsguardError } from '../../core/errors.ts';

export interface NatsClientOptions {
  /** nats://HOST:PORT or tls://HOST:PORT, one or more. */
  servers: string[];
  /** A .creds file (JWT and NKey seed), as `nsc` writes it. */
  credsFile?: string;
  user?: string;
  password?: string;
  /** CA bundle that signed the servers' certificates; implies TLS. */
  tlsCaFile?: string;
  /** Shown in the server's connection list (`nats server report connections`). */
  name?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * Node's TLS takes a CA bundle without a certificate in it, or with a broken one, and only fails at the handshake
 * ("unable to get local issuer certificate"): check that it holds certificates, each one well formed.
 */
export function checkCaBundle(pem: string, file: string): void {
  const certs = pem.match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new ImdsguardError('E_CONFIG', `The TLS CA "${file}" holds no PEM certificate`);
  for (const [i, c] of certs.entries()) {
    try {
      new X509Certificate(c);
    } catch (e) {
      throw new ImdsguardError(
        'E_CONFIG',
        `The TLS CA "${file}": certificate ${i + 1} is not a valid certificate: ${(e as Error).message}`,
      );
    }
  }
}

/** The client options, with every file read now so that a wrong path fails at start, naming the file. */
export function natsConnectionOptions(o: NatsClientOptions): NodeConnectionOptions {
  const auth: Authenticator[] = [];
  if (o.credsFile) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(o.credsFile);
    } catch (e) {
      throw new ImdsguardError('E_CONFIG', `Cannot read NATS credentials "${o.credsFile}": ${(e as Error).message}`);
    }
    const authenticator = credsAuthenticator(creds);
    // The file is only parsed when the server asks for a signature: sign a nonce now, so that a file that is not a
    // credentials file is a configuration error at start, naming it, rather than a connection that never succeeds.
    try {
      authenticator('imdsguard-check');
    } catch (e) {
      throw new ImdsguardError(
        'E_CONFIG',
        `NATS credentials "${o.credsFile}" are not a credentials file (a JWT and an NKey seed): ${(e as Error).message}`,
      );
    }
    auth.push(authenticator);
  }
  let ca: string | undefined;
  if (o.tlsCaFile) {
    try {
      ca = readFileSync(o.tlsCaFile, 'utf8');
    } catch (e) {
      throw new ImdsguardError('E_CONFIG', `Cannot read the TLS CA "${o.tlsCaFile}": ${(e as Error).message}`);
    }
    checkCaBundle(ca, o.tlsCaFile);
  }
  const tls = ca !== undefined || o.servers.some((s) => s.startsWith('tls:'));
  return {
    servers: o.servers,
    ...(o.name ? { name: o.name } : {}),
    ...(auth.length > 0 ? { authenticator: auth } : {}),
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.password !== undefined ? { pass: o.password } : {}),
    ...(tls ? { tls: ca !== undefined ? { ca } : {} } : {}),
    // A sensor outlives broker outages: once connected, keep reconnecting for ever (the first connection is the
    // caller's to retry, so that it can give up when the run ends).
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    // A server that does not answer (packets dropped) holds a run's exit this long at most.
    timeout: 3000,
  };
}

/** Connect; rejects when no server answers now. */
export function connectNats(o: NatsClientOptions): Promise<NatsConnection> {
  return connect(natsConnectionOptions(o));
}
