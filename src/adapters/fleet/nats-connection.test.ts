import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nkeys } from '@nats-io/transport-node';
import { ImdsguardError } from '../../core/errors.ts';
import { natsConnectionOptions } from './nats-connection.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-nats-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A credentials file as `nsc` writes it: a user JWT and the user's NKey seed, each between dashed lines. */
function credsFile(name: string): string {
  const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const jwt = `${b64({ typ: 'JWT', alg: 'ed25519-nkey' })}.${b64({ sub: 'U', nats: { type: 'user' } })}.c2ln`;
  return file(
    name,
    `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
      `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
  );
}

/** A self-signed certificate made by openssl, as a CA bundle would hold it. */
function caFile(name: string): string | undefined {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, name);
  const r = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    crt,
    '-days',
    '1',
    '-subj',
    '/CN=imdsguard test CA',
  ]);
  return r.status === 0 ? crt : undefined;
}

const configError = (re: RegExp) => (e: unknown) =>
  e instanceof ImdsguardError && e.code === 'E_CONFIG' && re.test(e.message);

describe('NATS connection files are checked when the options are made', () => {
  it('a credentials file and a CA bundle that are what they say are taken', {
    skip: !caFile('probe.pem') && 'no openssl',
  }, () => {
    const ca = caFile('ca.pem')!;
    const o = natsConnectionOptions({
      servers: ['nats://127.0.0.1:4222'],
      credsFile: credsFile('u.creds'),
      tlsCaFile: ca,
    });
    assert.deepEqual(o.tls, { ca: readFileSync(ca, 'utf8') });
    assert.ok(o.authenticator);
  });

  it('a credentials file that is missing or holds no JWT and seed is a configuration error naming it', () => {
    const servers = ['nats://127.0.0.1:4222'];
    assert.throws(
      () => natsConnectionOptions({ servers, credsFile: join(dir, 'absent.creds') }),
      configError(/Cannot read NATS credentials ".*absent\.creds": ENOENT/),
    );
    const garbage = file('garbage.creds', 'user: alice\npassword: not a creds file\n');
    assert.throws(
      () => natsConnectionOptions({ servers, credsFile: garbage }),
      configError(/NATS credentials ".*garbage\.creds" are not a credentials file/),
    );
    // A JWT without the seed that signs the server's nonce.
    const jwtOnly = readFileSync(credsFile('half.creds'), 'utf8').split('\n\n')[0]!;
    assert.throws(
      () => natsConnectionOptions({ servers, credsFile: file('jwt-only.creds', `${jwtOnly}\n`) }),
      configError(/jwt-only\.creds" are not a credentials file/),
    );
  });

  it('a CA bundle that is missing, holds no certificate or a broken one is a configuration error naming it', () => {
    const servers = ['tls://127.0.0.1:4222'];
    assert.throws(
      () => natsConnectionOptions({ servers, tlsCaFile: join(dir, 'absent.pem') }),
      configError(/Cannot read the TLS CA ".*absent\.pem": ENOENT/),
    );
    assert.throws(
      () => natsConnectionOptions({ servers, tlsCaFile: file('text.pem', 'not a certificate\n') }),
      configError(/The TLS CA ".*text\.pem" holds no PEM certificate/),
    );
    const broken = file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assert.throws(
      () => natsConnectionOptions({ servers, tlsCaFile: broken }),
      configError(/The TLS CA ".*broken\.pem": certificate 1 is not a valid certificate/),
    );
  });
});
