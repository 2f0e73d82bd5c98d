import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCloudtrail } from '../../src/app/cloudtrail.ts';
import type { Finding } from '../../src/core/model/finding.ts';

const F = 'test/fixtures/cloud';
const STRATUS = '../shared/corpora/cloudtrail-stratus';
const OUTSIDE = 'cloud-instance-credentials-outside-use';

async function run(
  inputs: string[],
  extra: { inventory?: string[]; awsIpRanges?: string; batch?: number } = {},
): Promise<Finding[]> {
  const out: Finding[] = [];
  await runCloudtrail({ inputs, ...extra, emit: (f) => void out.push(f) });
  return out;
}
const byRule = (fs: Finding[], id: string) => fs.filter((f) => f.rule.id === id);
const reasons = (f: Finding | undefined): string[] =>
  (f?.evidence as { reasons?: string[] } | undefined)?.reasons ?? [];
const ids = (fs: Finding[]) => fs.flatMap((f) => f.origin.event_ids ?? []).sort();

describe('cloudtrail on the stratus-red-team detonation records', {
  skip: existsSync(STRATUS) ? false : `${STRATUS} is absent`,
}, () => {
  test('the stolen instance credentials are found, with both records they rest on', async () => {
    const fs = await run([join(STRATUS, 'aws.credential-access.ec2-steal-instance-credentials.json')]);
    const outside = byRule(fs, OUTSIDE);
    assert.equal(outside.length, 1);
    const f = outside[0] as Finding;
    assert.equal(f.resource?.id, 'i-786a3A8B5C0d92eF4');
    assert.equal(f.client?.ip, '18.236.253.47');
    assert.deepEqual(ids(outside), ['394cf343-b9cf-48ce-8a94-e188656ae8ba', 'b379479b-05c9-4c3c-af4b-cbd43acf29e1']);
    assert.deepEqual((f.evidence as { reasons: string[] }).reasons, ['address-of-other-principal']);
    assert.ok(!JSON.stringify(f).includes('ASIAP5CT9NN8EYVU1FXV'), 'access key ids are masked');
    const v1 = byRule(fs, 'cloud-imdsv1-credentials-in-use');
    assert.equal(v1.length, 1);
    assert.equal(v1[0]?.origin.event_ids?.length, 2);
    const recon = byRule(fs, 'cloud-instance-role-reconnaissance');
    assert.deepEqual(Object.keys((recon[0]?.evidence ?? { event_names: {} }).event_names as object).sort(), [
      'DescribeInstances',
      'GetCallerIdentity',
    ]);
  });

  for (const name of [
    'ec2-get-password-data',
    'secretsmanager-retrieve-secrets',
    'ssm-retrieve-securestring-parameters',
  ]) {
    test(`${name} produces no outside-use finding`, async () => {
      const fs = await run([join(STRATUS, `aws.credential-access.${name}.json`)]);
      assert.deepEqual(byRule(fs, OUTSIDE), []);
    });
  }

  test('the whole directory gives exactly the one outside-use finding', async () => {
    const fs = await run([STRATUS]);
    assert.equal(byRule(fs, OUTSIDE).length, 1);
  });
});

describe('cloudtrail on composed AWS records with inventory', () => {
  const inventory = [
    `${F}/aws-describe-instances.json`,
    `${F}/aws-describe-nat-gateways.json`,
    `${F}/aws-describe-addresses.json`,
  ];

  test('gzipped trail files in the S3 layout: outside uses found, own/NAT/EIP/VPC-endpoint/service uses not', async () => {
    const fs = await run([`${F}/AWSLogs`], { inventory });
    const outside = byRule(fs, OUTSIDE);
    const used = ids(outside);
    for (const own of [
      'ev-own-public',
      'ev-own-nat',
      'ev-own-eip',
      'ev-mixed-own',
      'ev-vpce-own',
      'ev-console-user',
      'ev-service-made',
      'ev-aws-internal',
      'ev-ec2messages',
      'ev-v1-0',
    ]) {
      assert.ok(!used.includes(own), `${own} must not be outside use`);
    }
    assert.deepEqual(used, [
      'ev-console',
      'ev-foreign-vpce',
      'ev-iam-change',
      'ev-identity-role',
      'ev-issued-key-away',
      'ev-stolen-1',
      'ev-stolen-2',
    ]);
    const stolen = outside.find((f) => f.client?.ip === '203.0.113.50') as Finding;
    assert.equal(stolen.severity, 'critical', 'a console sign-in with stolen instance credentials is critical');
    assert.deepEqual(
      stolen.origin.event_ids,
      ['ev-stolen-1', 'ev-stolen-2', 'ev-iam-change', 'ev-console'],
      'mixed-case ids aggregate with their instance',
    );
    const vpce = outside.find((f) => f.origin.event_ids?.includes('ev-foreign-vpce')) as Finding;
    assert.ok((vpce.evidence as { reasons: string[] }).reasons.includes('foreign-vpc-endpoint'));
    assert.equal((vpce.evidence as { vpc_endpoint_account_id: string }).vpc_endpoint_account_id, '999988887777');
    const identity = outside.find((f) => f.origin.event_ids?.includes('ev-identity-role')) as Finding;
    assert.equal(identity.principal, 'aws:ec2-instance');
    const issued = outside.find((f) => f.origin.event_ids?.includes('ev-issued-key-away')) as Finding;
    assert.equal(
      issued.resource?.id,
      'i-0fedcba9876543210',
      'the issuance record ties a key with no ARN to its instance',
    );
  });

  test('IMDSv1 delivery is reported per role and instance; reconnaissance carries its severity', async () => {
    const fs = await run([`${F}/AWSLogs`], { inventory });
    const v1 = byRule(fs, 'cloud-imdsv1-credentials-in-use');
    assert.equal(v1.length, 1);
    assert.deepEqual(v1[0]?.origin.event_ids, ['ev-v1-0', 'ev-v1-1', 'ev-v1-2']);
    assert.equal(v1[0]?.resource?.id, 'i-0fedcba9876543210');
    const recon = byRule(fs, 'cloud-instance-role-reconnaissance');
    const web = recon.find((f) => f.principal === 'web-app') as Finding;
    assert.equal(web.severity, 'critical');
    assert.ok((web.evidence as { categories: string[] }).categories.includes('iam-change'));
    assert.ok(!ids(recon).includes('ev-console-user'), 'an SSO user with an ASIA key is no instance role');
  });

  test("credentials of one instance used on another instance of the same account, through the account's own endpoint", async () => {
    const fs = await run([`${F}/cross-instance.ndjson`], { inventory });
    const outside = byRule(fs, OUTSIDE);
    assert.deepEqual(ids(outside), ['x-cross']);
    assert.equal(outside[0]?.resource?.id, 'i-0a1b2c3d4e5f60718');
    assert.equal(outside[0]?.client?.ip, '10.0.2.20');
    assert.equal(outside[0]?.severity, 'high');
  });

  test('without inventory the same files still find the attacker-owned VPC endpoint', async () => {
    const fs = await run([`${F}/AWSLogs`]);
    assert.ok(ids(byRule(fs, OUTSIDE)).includes('ev-foreign-vpce'));
  });

  test('batches keep memory flat: every record is listed once across the parts', async () => {
    const fs = await run([`${F}/AWSLogs`], { inventory, batch: 2 });
    const v1 = byRule(fs, 'cloud-imdsv1-credentials-in-use');
    assert.equal(v1.length, 2);
    assert.deepEqual(ids(v1), ['ev-v1-0', 'ev-v1-1', 'ev-v1-2']);
    assert.notEqual(v1[0]?.id, v1[1]?.id);
  });
});

describe('cloudtrail on NDJSON exports without inventory', () => {
  test('lock to first address and outside AWS (offline ip-ranges.json); EventBridge wrapper unwrapped', async () => {
    const fs = await run([`${F}/lake-export.ndjson`], { awsIpRanges: `${F}/aws-ip-ranges.json` });
    const outside = byRule(fs, OUTSIDE);
    assert.equal(outside.length, 1);
    assert.deepEqual(outside[0]?.origin.event_ids, ['nd-3']);
    assert.deepEqual(reasons(outside[0]).sort(), ['address-change', 'outside-aws']);
  });
  test('Athena UNLOAD output (lower-cased field names, JSON strings) is read like CloudTrail', async () => {
    const inventory = [`${F}/aws-describe-instances.json`];
    const fs = await run([`${F}/athena-unload.ndjson`], { inventory });
    assert.deepEqual(ids(byRule(fs, OUTSIDE)), ['ath-stolen']);
    assert.deepEqual(ids(byRule(fs, 'cloud-imdsv1-credentials-in-use')), ['ath-stolen']);
  });

  test('without ranges, only the address change remains', async () => {
    const fs = await run([`${F}/lake-export.ndjson`]);
    assert.deepEqual(reasons(byRule(fs, OUTSIDE)[0]), ['address-change']);
  });
});

describe('cloudtrail on GCP and Azure audit logs', () => {
  test('GCP: a metadata-minted service-account token used away from its VM; keys, impersonation and internal calls are not', async () => {
    const fs = await run([`${F}/gcp-audit.json`], { inventory: [`${F}/gcloud-compute-instances-list.json`] });
    const outside = byRule(fs, OUTSIDE);
    assert.deepEqual(ids(outside), ['gcp-stolen']);
    assert.equal(outside[0]?.resource?.kind, 'gcp-service-account');
  });
  test('Azure: a VM managed identity (xms_mirid) used from elsewhere', async () => {
    const fs = await run([`${F}/azure-activity-log.json`], { inventory: [`${F}/az-vm-list.json`] });
    const outside = byRule(fs, OUTSIDE);
    assert.deepEqual(ids(outside), ['az-stolen-00000002']);
    assert.equal(outside[0]?.resource?.kind, 'azure-vm');
  });
  test('Azure without inventory: lock to the first address', async () => {
    const fs = await run([`${F}/azure-activity-log.json`]);
    assert.deepEqual(ids(byRule(fs, OUTSIDE)), ['az-stolen-00000002']);
  });
});

describe('imdsguard cloudtrail (CLI)', () => {
  const cli = (args: string[], input?: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cloudtrail', ...args], {
      encoding: 'utf8',
      input: input ?? '',
    });
  test('exit 1 with findings, one JSON object per stdout line; exit 0 with --fail-on critical when none is critical', () => {
    const r = cli(['--format', 'jsonl', `${F}/lake-export.ndjson`]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trim().split('\n');
    for (const l of lines) assert.equal(JSON.parse(l).type, 'finding');
    assert.equal(cli(['--format', 'jsonl', '--fail-on', 'critical', `${F}/lake-export.ndjson`]).status, 0);
  });
  test('stdin, and exit 2 naming file and line on broken JSON', () => {
    const ok = cli(
      ['--format', 'jsonl', '-'],
      '{"eventVersion":"1.08","eventID":"x","eventName":"ListBuckets","userIdentity":{"type":"IAMUser"}}\n',
    );
    assert.equal(ok.status, 0, ok.stderr);
    const bad = cli(['--format', 'jsonl', '-'], '{"eventVersion":"1.08"}\n{"eventVersion": tru}\n');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /<stdin>:2/);
  });
});
