/**
 * Connecting to the NATS servers of fleet mode, the same way for every sensor and the hub: several servers, a
 * credentials file (JWT + NKey seed), a user and password, a CA for TLS; reconnecting for ever.
 */
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
    auth.push(credsAuthenticator(creds));
  }
  let ca: string | undefined;
  if (o.tlsCaFile) {
    try {
      ca = readFileSync(o.tlsCaFile, 'utf8');
    } catch (e) {
      throw new ImdsguardError('E_CONFIG', `Cannot read the TLS CA "${o.tlsCaFile}": ${(e as Error).message}`);
    }
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
