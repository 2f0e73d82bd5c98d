import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runPosture } from '../../src/app/posture.ts';
import type { Finding } from '../../src/core/model/finding.ts';

const F = 'test/fixtures/cloud';
const tmp = mkdtempSync(join(tmpdir(), 'imdsguard-posture-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function run(inputs: string[], script?: string) {
  const out: Finding[] = [];
  const r = await runPosture({
    inputs,
    emit: (f) => void out.push(f),
    ...(script ? { remediationScript: script } : {}),
  });
  return { findings: out, result: r };
}
const find = (fs: Finding[], rule: string, id: string) => fs.filter((f) => f.rule.id === rule && f.resource?.id === id);

describe('posture on AWS inventory', () => {
  test('describe-instances: IMDSv1 with a role is high, with the exact command; compliant settings give nothing', async () => {
    const { findings } = await run([`${F}/aws-describe-instances.json`]);
    const v1 = find(findings, 'posture-aws-imdsv1-allowed', 'i-0a1b2c3d4e5f60718');
    assert.equal(v1.length, 1);
    assert.equal(v1[0]?.severity, 'high');
    assert.equal(v1[0]?.resource?.kind, 'ec2-instance');
    assert.equal(
      v1[0]?.remediation,
      'aws ec2 modify-instance-metadata-options --region us-west-2 --instance-id i-0a1b2c3d4e5f60718 --http-tokens required --http-put-response-hop-limit 1',
    );
    assert.equal(v1[0]?.origin.file, `${F}/aws-describe-instances.json`);
    assert.equal(v1[0]?.origin.line, 8, 'origin.line is the line naming the instance');
    assert.equal(find(findings, 'posture-aws-instance-tags-exposed', 'i-0a1b2c3d4e5f60718').length, 1);
    assert.equal(find(findings, 'posture-aws-ipv6-endpoint', 'i-0fedcba9876543210').length, 1);
    assert.equal(find(findings, 'posture-aws-endpoint-unneeded', 'i-0123456789abcdef0').length, 1);
    // i-0fedcba9876543210 requires tokens with hop limit 1: no IMDSv1 or hop finding.
    assert.equal(
      findings.filter((f) => f.resource?.id === 'i-0fedcba9876543210' && /imdsv1|hop/.test(f.rule.id)).length,
      0,
    );
  });

  test('launch template versions, launch configurations and account defaults', async () => {
    const { findings } = await run([
      `${F}/aws-describe-launch-template-versions.json`,
      `${F}/aws-describe-launch-configurations.json`,
      `${F}/aws-get-instance-metadata-defaults.json`,
    ]);
    const lt = find(findings, 'posture-aws-imdsv1-allowed', 'lt-0abc1234def567890');
    assert.equal(lt.length, 1, 'a version with no MetadataOptions allows IMDSv1');
    assert.match(
      lt[0]?.remediation ?? '',
      /create-launch-template-version --launch-template-id lt-0abc1234def567890 --source-version 3/,
    );
    assert.equal(find(findings, 'posture-aws-hop-limit', 'lt-0fff1234def567890')[0]?.severity, 'low');
    assert.equal(findings.filter((f) => f.resource?.id === 'lt-0eee1234def567890').length, 0);
    assert.match(
      find(findings, 'posture-aws-imdsv1-allowed', 'legacy-asg-lc')[0]?.remediation ?? '',
      /--metadata-options HttpTokens=required/,
    );
    assert.equal(find(findings, 'posture-aws-account-defaults', 'account-defaults').length, 1);
  });

  test('readiness: an instance that still saw MetadataNoToken would break; the script comments its command out', async () => {
    const script = join(tmp, 'fix.sh');
    const { result } = await run(
      [
        `${F}/metadata-no-token-i-0a1b2c3d4e5f60718.json`,
        `${F}/aws-describe-instances.json`,
        `${F}/cloudwatch-get-metric-data.json`,
      ],
      script,
    );
    const row = result.readiness.find((r) => r.instance === 'i-0a1b2c3d4e5f60718');
    assert.deepEqual(row, {
      instance: 'i-0a1b2c3d4e5f60718',
      http_tokens: 'optional',
      metadata_no_token: 17,
      status: 'would-break',
    });
    assert.equal(
      result.readiness.find((r) => r.instance === 'i-0fedcba9876543210'),
      undefined,
      'instances requiring tokens are only counted',
    );
    assert.equal(result.alreadyRequired, 2);
    const text = readFileSync(script, 'utf8');
    assert.match(
      text,
      /^# aws ec2 modify-instance-metadata-options --region us-west-2 --instance-id i-0a1b2c3d4e5f60718 --http-tokens required/m,
    );
    assert.match(
      text,
      /^aws ec2 modify-instance-metadata-options --region us-west-2 --instance-id i-0a1b2c3d4e5f60718 --instance-metadata-tags disabled$/m,
    );
    const sh = spawnSync('sh', ['-n', script]);
    assert.equal(sh.status, 0, 'the script is valid shell');
  });
});

describe('posture on GCP and Azure inventory', () => {
  test('GCE: legacy endpoints and the default service account with cloud-platform', async () => {
    const { findings } = await run([`${F}/gcloud-compute-instances-list.json`]);
    assert.equal(find(findings, 'posture-gcp-legacy-endpoints', 'web-1').length, 1);
    assert.equal(find(findings, 'posture-gcp-default-service-account-broad-scope', 'web-1')[0]?.severity, 'high');
    assert.equal(findings.filter((f) => f.resource?.id === 'worker-1').length, 0);
    assert.match(
      find(findings, 'posture-gcp-legacy-endpoints', 'web-1')[0]?.remediation ?? '',
      /add-metadata web-1 --zone us-central1-a --metadata disable-legacy-endpoints=TRUE/,
    );
  });
  test('GKE: a node pool without the GKE metadata server', async () => {
    const { findings } = await run([`${F}/gcloud-node-pools-list.json`]);
    const f = find(findings, 'posture-gke-metadata-server-off', 'default-pool');
    assert.equal(f.length, 1);
    assert.match(
      f[0]?.remediation ?? '',
      /node-pools update default-pool --cluster prod --location us-central1 --workload-metadata=GKE_METADATA/,
    );
    assert.equal(findings.filter((x) => x.resource?.id === 'secure-pool').length, 0);
  });
  test('Azure: a VM with a managed identity and no Metadata Security Protocol; an enforcing VM passes', async () => {
    const { findings } = await run([`${F}/az-vm-list.json`]);
    assert.equal(find(findings, 'posture-azure-metadata-security-protocol-off', 'app-vm')[0]?.severity, 'medium');
    assert.equal(findings.filter((x) => x.resource?.id === 'hardened-vm').length, 0);
  });
});

describe('imdsguard posture (CLI)', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'posture', ...args], { encoding: 'utf8' });
  test('gzipped input, readiness on stderr not stdout, exit 1 on findings', () => {
    const gz = join(tmp, 'instances.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(`${F}/aws-describe-instances.json`)));
    const r = cli(['--format', 'jsonl', gz, `${F}/metadata-no-token-i-0a1b2c3d4e5f60718.json`]);
    assert.equal(r.status, 1, r.stderr);
    for (const l of r.stdout.trim().split('\n')) assert.equal(JSON.parse(l).type, 'finding');
    assert.match(r.stderr, /i-0a1b2c3d4e5f60718 +HttpTokens=optional +MetadataNoToken=17 +would-break/);
    assert.doesNotMatch(r.stdout, /would-break/);
  });
  test('--readiness FILE, --fail-on critical gives 0; a broken file gives 2 naming file and line', () => {
    const view = join(tmp, 'ready.txt');
    const r = cli([
      '--format',
      'jsonl',
      '--fail-on',
      'critical',
      '--readiness',
      view,
      `${F}/aws-describe-instances.json`,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(view, 'utf8'), /i-0a1b2c3d4e5f60718/);
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{"Reservations": [\n{"Instances": [}\n]}');
    const b = cli(['--format', 'jsonl', bad]);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /bad\.json:2/);
  });
});
