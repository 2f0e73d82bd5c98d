import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify } from '../classify.ts';
import { SERVICES } from './catalogue.ts';
import { matchEndpoint } from './lookup.ts';

/** [url, provider, service, path class] — one row per documented endpoint we must recognise. */
const CASES: Array<[string, string, string | null, string]> = [
  ['http://169.254.169.254/latest/meta-data/iam/security-credentials/role', 'aws', 'ec2-imds', 'credentials'],
  [
    'http://169.254.169.254/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance',
    'aws',
    'ec2-imds',
    'credentials',
  ],
  ['http://169.254.169.254/latest/api/token', 'aws', 'ec2-imds', 'token'],
  ['http://169.254.169.254/latest/user-data', 'aws', 'ec2-imds', 'user-data'],
  ['http://169.254.169.254/latest/dynamic/instance-identity/document', 'aws', 'ec2-imds', 'identity'],
  ['http://169.254.169.254/2009-04-04/meta-data/', 'aws', 'ec2-imds', 'index'],
  ['http://[fd00:ec2::254]/latest/meta-data/', 'aws', 'ec2-imds', 'index'],
  ['http://instance-data/latest/meta-data/iam/info', 'aws', 'ec2-imds', 'identity'],
  ['http://instance-data.ec2.internal/latest/user-data', 'aws', 'ec2-imds', 'user-data'],
  ['http://169.254.170.2/v2/credentials/0e1a1b2c-3d4e', 'aws', 'ecs-task', 'credentials'],
  ['http://169.254.170.2/v4/abc123/task', 'aws', 'ecs-task', 'identity'],
  ['http://169.254.170.2/v3', 'aws', 'ecs-task', 'index'],
  ['http://169.254.170.23/v1/credentials', 'aws', 'eks-pod-identity', 'credentials'],
  ['http://[fd00:ec2::23]/v1/credentials', 'aws', 'eks-pod-identity', 'credentials'],
  [
    'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
    'gcp',
    'gce-metadata',
    'credentials',
  ],
  [
    'http://metadata/computeMetadata/v1/instance/service-accounts/default/identity?audience=x',
    'gcp',
    'gce-metadata',
    'credentials',
  ],
  ['http://169.254.169.254/computeMetadata/v1beta1/instance/attributes/kube-env', 'gcp', 'gce-metadata', 'credentials'],
  [
    'http://metadata.google.internal/0.1/meta-data/service-accounts/default/acquire',
    'gcp',
    'gce-metadata',
    'credentials',
  ],
  ['http://[fd20:ce::254]/computeMetadata/v1/project/attributes/ssh-keys', 'gcp', 'gce-metadata', 'user-data'],
  [
    'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net',
    'azure',
    'azure-imds',
    'credentials',
  ],
  [
    'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2025-04-07',
    'azure',
    'azure-imds',
    'credentials',
  ],
  [
    'http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01&format=text',
    'azure',
    'azure-imds',
    'user-data',
  ],
  ['http://169.254.169.254/metadata/attested/document?api-version=2020-09-01', 'azure', 'azure-imds', 'identity'],
  ['http://168.63.129.16/machine?comp=goalstate', 'azure', 'azure-wireserver', 'identity'],
  ['http://168.63.129.16:32526/vmSettings', 'azure', 'azure-wireserver', 'credentials'],
  ['http://localhost:40342/metadata/identity/oauth2/token?api-version=2020-06-01', 'azure', 'azure-arc', 'credentials'],
  [
    'http://127.0.0.1:41741/MSI/token/?resource=https://vault.azure.net&api-version=2019-08-01',
    'azure',
    'app-service-identity',
    'credentials',
  ],
  ['http://169.254.169.254/opc/v2/instance/', 'oracle', 'oci-imds', 'index'],
  ['http://169.254.169.254/opc/v1/identity/cert.pem', 'oracle', 'oci-imds', 'credentials'],
  ['http://[fd00:c1::a9fe:a9fe]/opc/v2/instance/metadata/user_data', 'oracle', 'oci-imds', 'user-data'],
  ['http://192.0.0.192/latest/user-data/', 'oracle', 'oracle-classic', 'user-data'],
  ['http://169.254.169.254/metadata/v1/user-data', 'digitalocean', 'do-metadata', 'user-data'],
  ['http://169.254.169.254/metadata/v1.json', 'digitalocean', 'do-metadata', 'index'],
  [
    'http://169.254.169.254/instance_identity/v1/iam_token?version=2022-03-01',
    'ibm',
    'ibm-vpc-metadata',
    'credentials',
  ],
  ['http://169.254.169.254/instance_identity/v1/token?version=2022-03-01', 'ibm', 'ibm-vpc-metadata', 'token'],
  ['http://169.254.169.254/openstack/latest/meta_data.json', 'openstack', 'openstack-metadata', 'index'],
  ['http://169.254.169.254/openstack/latest/securitykey', 'openstack', 'openstack-metadata', 'credentials'],
  ['http://169.254.169.254/hetzner/v1/userdata', 'hetzner', 'hetzner-metadata', 'user-data'],
  ['http://169.254.169.254/hetzner/v1/metadata', 'hetzner', 'hetzner-metadata', 'index'],
  ['http://169.254.169.254/v1/token', 'linode', 'linode-metadata', 'token'],
  ['http://169.254.169.254/v1/user-data', 'linode', 'linode-metadata', 'user-data'],
  ['http://169.254.169.254/v1.json', 'vultr', 'vultr-metadata', 'index'],
  [
    'http://100.100.100.200/latest/meta-data/ram/security-credentials/EcsRole',
    'alibaba',
    'ecs-metadata',
    'credentials',
  ],
  ['http://100.100.100.200/latest/api/token', 'alibaba', 'ecs-metadata', 'token'],
  [
    'http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/role',
    'tencent',
    'cvm-metadata',
    'credentials',
  ],
  ['http://169.254.0.23/latest/user-data', 'tencent', 'cvm-metadata', 'user-data'],
  ['http://169.254.42.42/conf?format=json', 'scaleway', 'scaleway-metadata', 'index'],
  ['http://[fd00:42::42]/user_data/cloud-init', 'scaleway', 'scaleway-metadata', 'user-data'],
  ['https://metadata.platformequinix.com/metadata', 'equinix', 'equinix-metal-metadata', 'index'],
  ['https://metadata.packet.net/userdata', 'equinix', 'equinix-metal-metadata', 'user-data'],
  ['http://rancher-metadata/latest/', 'rancher', 'rancher-metadata', 'index'],
  ['http://169.254.169.254/', 'multi', null, 'index'],
];

describe('endpoint catalogue', () => {
  for (const [url, provider, service, pathClass] of CASES) {
    test(`${url} → ${provider}/${service ?? '-'} ${pathClass}`, () => {
      const hit = classify(url).find((h) => h.verdict === 'metadata');
      assert.ok(hit, 'no metadata hit');
      assert.equal(hit.provider, provider);
      assert.equal(hit.service, service);
      assert.equal(hit.pathClass, pathClass);
    });
  }

  test('the same paths on a non-metadata host are not metadata', () => {
    for (const [url] of CASES) {
      const moved = url.replace(/^(\w+:\/\/)[^/]+/, '$1api.example.com');
      assert.equal(classify(moved).filter((h) => h.verdict === 'metadata').length, 0, moved);
    }
  });

  test('Azure Arc is only a metadata service on its own port', () => {
    assert.equal(matchEndpoint('127.0.0.1', 'ipv4', 8080, '/metadata/identity/oauth2/token'), null);
    assert.equal(matchEndpoint('127.0.0.1', 'ipv4', 40342, '/metadata/identity/oauth2/token')?.service, 'azure-arc');
  });

  test('every service has a documentation link, an address or a name, and path rules', () => {
    for (const s of SERVICES) {
      assert.match(s.doc, /^https:\/\//, s.service);
      assert.ok(s.ipv4.length + s.ipv6.length + s.hostnames.length > 0, s.service);
      assert.ok(s.paths.length > 0, s.service);
    }
  });

  test('169.254.169.123 (time sync) and other link-local addresses are internal, never metadata', () => {
    for (const u of [
      'http://169.254.169.123/',
      'http://169.254.169.253/latest/meta-data/',
      'http://169.254.1.1/computeMetadata/v1/',
    ]) {
      const hits = classify(u);
      assert.deepEqual(
        hits.map((h) => h.verdict),
        ['internal'],
        u,
      );
    }
  });

  test('Kubernetes API servers, kubelets and etcd are internal targets', () => {
    for (const u of [
      'https://kubernetes.default.svc/api/v1/secrets',
      'http://10.0.0.5:10250/pods',
      'http://127.0.0.1:2379/v2/keys',
    ]) {
      const hits = classify(u);
      assert.equal(hits[0]?.verdict, 'internal', u);
    }
    assert.equal(classify('http://10.0.0.5:10250/pods')[0]?.internalKind, 'kubernetes');
  });
});
