/**
 * A secret's name in a field of its own and its value in the next field (ECS task definitions, Kubernetes env in JSON
 * and YAML, SSM parameters, plists, Hadoop configuration, HTML tables), on one line or the value on the next: the
 * value is masked by `redact` and in every sink of `scan`, and reported as a leak. Other fields are kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSink, SINK_FORMATS } from '../../src/adapters/sinks/open-sink.ts';
import { redact } from '../../src/app/redact.ts';
import { runScan } from '../../src/app/scan.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import { holdsPiece } from '../support/secret-docs.ts';
import { leaksIn } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-named-fields-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = '9I5wOy4RS+s6WH5WHvUdIaKlrCC4HUNnkkMGs+Sl';
const SECRET2 = 'hey41+UYe2lA/z4rgqvnrLJaZzD+Vv+YXbUJ87RO';
const SECRET3 = '0GdK3KumJw+XAtWDflTIpdk3TWwsQ97E6dmRxhtT';
const ALI_SECRET = 'DFEjf9GoTbZhSYl2Thy1hw2BDDpekd';
const ALI_TOKEN = `CAIS${'ziF3kF1iZyz+yTA8+Ee7CfCmn6aLrHII7f5jC71fUS9TfVIN9X+ML3UOwjO97+KqOKWl/K7Zg'.repeat(3)}`;
const SECRETS = [SECRET, SECRET2, SECRET3, ALI_SECRET, ALI_TOKEN.slice(4)];

/** Each case: the lines as the tool writes them (one file each). */
const CASES: Record<string, string[]> = {
  ecs: [
    `{"taskDefinition": {"containerDefinitions": [{"name": "web", "environment": [{"name": "AWS_REGION", "value": "us-east-1"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "${SECRET}"}]}]}}`,
  ],
  'k8s-json': [`{"env": [{"name": "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "value": "${ALI_SECRET}"}]}`],
  'k8s-yaml': ['    env:', '    - name: AWS_SECRET_ACCESS_KEY', `      value: ${SECRET}`],
  'k8s-yaml-flow': [`    env: [{name: AWS_SECRET_ACCESS_KEY, value: "${SECRET2}"}]`],
  // The value's field before the name's (keys sorted, or written by hand).
  'ecs-value-first': [
    `{"environment": [{"value": "us-east-1", "name": "AWS_REGION"}, {"value": "${SECRET}", "name": "AWS_SECRET_ACCESS_KEY"}]}`,
  ],
  'k8s-yaml-flow-value-first': [`    env: [{value: "${ALI_SECRET}", name: ALIBABA_CLOUD_ACCESS_KEY_SECRET}]`],
  'ssm-value-first': [
    `{"Parameter": {"Value": "${SECRET3}", "Type": "SecureString", "Name": "/prod/web/aws_secret_access_key"}}`,
  ],
  ssm: [
    `{"Parameter": {"Name": "/prod/web/aws_secret_access_key", "Type": "SecureString", "Value": "${SECRET3}", "Version": 3}}`,
  ],
  plist: ['<dict>', '\t<key>SecretAccessKey</key>', `\t<string>${SECRET2}</string>`, '</dict>'],
  'plist-one-line': [`<dict><key>SecretAccessKey</key><string>${SECRET}</string></dict>`],
  hadoop: ['<property>', '  <name>fs.s3a.secret.key</name>', `  <value>${SECRET2}</value>`, '</property>'],
  'hadoop-one-line': [`<property><name>fs.s3a.secret.key</name><value>${SECRET3}</value></property>`],
  html: [`<tr><td>AccessKeySecret</td><td>${ALI_SECRET}</td></tr><tr><td>SecurityToken</td><td>${ALI_TOKEN}</td></tr>`],
  'ssrf-env-pair': [
    `203.0.113.9 - - [05/Dec/2026:10:00:00 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web-role&env=${encodeURIComponent(`{"name": "AWS_SECRET_ACCESS_KEY", "value": "${SECRET3}"}`)} HTTP/1.1" 200 1320 "-" "curl/8.0"`,
  ],
};

/** Fields that name a secret and hold no value of its shape: kept as they are. */
const BENIGN = [
  '{"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/prod/web/secret"}',
  '    - name: AWS_SECRET_ACCESS_KEY',
  '      valueFrom:',
  '        secretKeyRef: {name: aws-credentials, key: secret}',
  '    - name: AWS_SESSION_TOKEN',
  '      value: ""',
  '  <name>fs.s3a.secret.key</name>',
  // A Hadoop variable reference (two pieces: it is no placeholder of this file's).
  '  <value>$' + '{env.S3_SECRET_KEY}</value>',
  '<tr><td>SecretAccessKey</td><td>stored in the vault under prod/web/credentials</td></tr>',
  '{"name": "secret_key_rotation_days", "value": "90"}',
  '    - name: AWS_SECRET_ACCESS_KEY',
  '      value: 0123456789abcdef0123456789abcdef01234567',
];

async function redacted(name: string, lines: string[]): Promise<string> {
  const input = join(dir, `${name}.log`);
  const output = join(dir, `${name}.out`);
  writeFileSync(input, `${lines.join('\n')}\n`);
  await redact({ inputs: [input], output }, () => {});
  return readFileSync(output, 'utf8');
}

describe('a secret named in one field, its value in the next', () => {
  for (const [name, lines] of Object.entries(CASES))
    it(`${name}: redact masks the value, keeps the name, and scan reports the leak`, async () => {
      const out = await redacted(name, lines);
      for (const s of SECRETS) assert.equal(holdsPiece(out, s), null, out);
      assert.equal(out.split('\n').length, lines.length + 1);
      assert.match(out, /SECRET|Secret|secret/);
      assert.ok(out.includes('****'), out);
      // Through a percent-encoding with blanks the value is masked but gives no leak finding (a documented limit).
      if (name !== 'ssrf-env-pair') assert.equal(leaksIn(lines.join('\n')).length, 1, name);
    });

  it('fields naming a secret whose value is no secret are kept', async () => {
    assert.equal(await redacted('benign', BENIGN), `${BENIGN.join('\n')}\n`);
  });

  it('no sink of scan holds a piece of the value', async () => {
    const inputs = Object.entries(CASES).map(([name, lines]) => {
      const p = join(dir, `scan-${name}.log`);
      writeFileSync(p, `${lines.join('\n')}\n`);
      return p;
    });
    for (const format of SINK_FORMATS) {
      const out = join(dir, `named.${format}`);
      const sink = await openSink(format, out, { nowMs: () => 0 });
      await runScan({
        inputs,
        logFormat: 'auto',
        rules: scanRules(),
        sink,
        maxLineBytes: 4 << 20,
        concurrency: 1,
        warn: () => {},
      });
      await sink.close();
      const text = readFileSync(out, 'utf8');
      assert.ok(text.length > 0, format);
      for (const s of SECRETS) assert.equal(holdsPiece(text, s), null, `${format}: ${text.slice(0, 400)}`);
    }
  });
});
