/**
 * A sink's `tls.ca_file` that is no PEM bundle ends the hub at start (exit 2), naming the file and the config key's
 * line, as the NATS connection's own CA does: Node's TLS would take it and fail at every handshake, retried for ever.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseHubConfig } from '../../../src/adapters/fleet/hub/config.ts';
import { tempDir } from './harness.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const tmp = tempDir();
after(() => tmp.dispose());

const notPem = join(tmp.dir, 'ca.txt');
writeFileSync(notPem, 'this is not a certificate\n');
const goodCa = join(tmp.dir, 'ca.pem');
const made = spawnSync('openssl', [
  'req',
  '-x509',
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  join(tmp.dir, 'ca.key'),
  '-out',
  goodCa,
  '-days',
  '1',
  '-subj',
  '/CN=imdsguard test CA',
]);

const config = (ca: string, type: 'syslog' | 'webhook' = 'syslog') =>
  `nats:
  servers: [nats://127.0.0.1:1]
correlator:
  enabled: false
sinks:
  - name: siem
    type: ${type}
${type === 'syslog' ? '    host: 127.0.0.1\n    port: 6514\n' : '    url: https://127.0.0.1:1/h\n    secret_env: S\n'}    tls:
      ca_file: ${ca}
`;

describe("a sink's TLS CA file is checked at start", () => {
  it('a syslog or webhook CA that holds no certificate is an error naming the file and the line of ca_file', () => {
    for (const type of ['syslog', 'webhook'] as const) {
      assert.throws(
        () => parseHubConfig(config(notPem, type), 'hub.yaml', { S: 's' }),
        (e: Error) => /^hub\.yaml:11:\d+: Sink "siem": The TLS CA ".*ca\.txt" holds no PEM certificate/.test(e.message),
      );
    }
    assert.throws(
      () => parseHubConfig(config(join(tmp.dir, 'absent.pem')), 'hub.yaml', {}),
      /hub\.yaml:11:\d+: Sink "siem": Cannot read the TLS CA ".*absent\.pem": ENOENT/,
    );
  });

  it('a real CA bundle is taken', { skip: made.status !== 0 && 'no openssl' }, () => {
    const c = parseHubConfig(config(goodCa), 'hub.yaml', {});
    assert.equal(c.raw.sinks[0]?.name, 'siem');
  });

  it('the hub exits 2 before connecting anywhere', async () => {
    const file = join(tmp.dir, 'hub.yaml');
    writeFileSync(file, config(notPem));
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'hub', '--config', file], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const status = await new Promise<number | null>((r) => child.on('close', r));
    clearTimeout(timer);
    assert.equal(status, 2, err);
    assert.match(err, /hub\.yaml:11:\d+: Sink "siem": The TLS CA ".*ca\.txt" holds no PEM certificate/);
  });
});
