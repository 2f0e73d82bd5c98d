// Deterministic generators for the cloudtrail and posture benches: one CloudTrail trail document
// `{"Records":[…]}` of a given size (a single JSON value, so the reader must stream it), the matching
// describe-instances inventory, and a describe-instances document of a given size for posture.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rng } from './rng.ts';

const ACCOUNT = '111122223333';
const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
const instanceId = (i: number) => `i-0${hex(i, 16)}`;
const privateIp = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const publicIp = (i: number) => `54.${200 + ((i >> 16) & 3)}.${(i >> 8) & 255}.${i & 255}`;

async function write(ws: ReturnType<typeof createWriteStream>, s: string): Promise<void> {
  if (!ws.write(s)) await once(ws, 'drain');
}

export interface TrailStats {
  records: number;
  stolen: number;
  bytes: number;
}

/** A trail document of about `bytes` bytes over `instances` instances; one record in 50 000 is a stolen-key use. */
export async function generateTrail(path: string, bytes: number, instances = 2000): Promise<TrailStats> {
  const r = rng(42);
  const ws = createWriteStream(path);
  let size = 0;
  let records = 0;
  let stolen = 0;
  await write(ws, '{"Records":[');
  const names = [
    'DescribeInstances',
    'GetObject',
    'PutObject',
    'DescribeVolumes',
    'GetParameter',
    'Decrypt',
    'PutMetricData',
    'ReceiveMessage',
  ];
  const sources = ['ec2', 's3', 's3', 'ec2', 'ssm', 'kms', 'monitoring', 'sqs'];
  while (size < bytes) {
    const i = Math.floor(r() * instances);
    const k = Math.floor(r() * names.length);
    const human = r() < 0.1;
    const steal = !human && r() < 0.00002;
    if (steal) stolen++;
    const iid = instanceId(i);
    const ui = human
      ? {
          type: 'IAMUser',
          principalId: 'AIDAEXAMPLEUSER00001',
          arn: `arn:aws:iam::${ACCOUNT}:user/ops`,
          accountId: ACCOUNT,
          accessKeyId: 'AKIAEXAMPLEUSERKEY01',
          userName: 'ops',
        }
      : {
          type: 'AssumedRole',
          principalId: `AROAEXAMPLEROLE00001:${iid}`,
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/${iid}`,
          accountId: ACCOUNT,
          accessKeyId: `ASIA${hex(i, 16).toUpperCase()}`,
          sessionContext: {
            sessionIssuer: {
              type: 'Role',
              principalId: 'AROAEXAMPLEROLE00001',
              arn: `arn:aws:iam::${ACCOUNT}:role/app-role`,
              accountId: ACCOUNT,
              userName: 'app-role',
            },
            attributes: { creationDate: '2026-11-20T00:00:00Z', mfaAuthenticated: 'false' },
            ec2RoleDelivery: r() < 0.01 ? '1.0' : '2.0',
          },
        };
    const ip = steal
      ? `203.0.113.${Math.floor(r() * 250)}`
      : human
        ? `198.51.100.${Math.floor(r() * 250)}`
        : r() < 0.5
          ? privateIp(i)
          : publicIp(i);
    const rec = {
      eventVersion: '1.09',
      userIdentity: ui,
      eventTime: `2026-11-20T${String(Math.floor(records / 3_600_000) % 24).padStart(2, '0')}:00:00Z`,
      eventSource: `${sources[k]}.amazonaws.com`,
      eventName: names[k],
      awsRegion: 'us-west-2',
      sourceIPAddress: ip,
      userAgent: 'aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.0',
      requestParameters: {
        bucketName: 'app-data',
        key: `objects/${hex(Math.floor(r() * 1e9), 8)}.json`,
        Host: 'app-data.s3.us-west-2.amazonaws.com',
      },
      responseElements: null,
      requestID: hex(records, 16).toUpperCase(),
      eventID: `${hex(records, 8)}-0000-4000-8000-${hex(i, 12)}`,
      readOnly: true,
      resources: [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::app-data/objects/x.json' }],
      eventType: 'AwsApiCall',
      managementEvent: false,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Data',
      tlsDetails: {
        tlsVersion: 'TLSv1.3',
        cipherSuite: 'TLS_AES_128_GCM_SHA256',
        clientProvidedHostHeader: 'app-data.s3.us-west-2.amazonaws.com',
      },
      ...(!human && ip.startsWith('10.')
        ? { vpcEndpointId: 'vpce-0123456789abcdef0', vpcEndpointAccountId: ACCOUNT }
        : {}),
    };
    const s = `${records > 0 ? ',' : ''}\n${JSON.stringify(rec)}`;
    size += s.length;
    records++;
    await write(ws, s);
  }
  await write(ws, ']}\n');
  ws.end();
  await once(ws, 'finish');
  return { records, stolen, bytes: size };
}

function instanceDoc(i: number, r: () => number): unknown {
  const iid = instanceId(i);
  return {
    Instances: [
      {
        AmiLaunchIndex: 0,
        ImageId: 'ami-0abcdef1234567890',
        InstanceId: iid,
        InstanceType: 't3.micro',
        LaunchTime: '2026-11-01T00:00:00+00:00',
        Monitoring: { State: 'disabled' },
        Placement: { AvailabilityZone: 'us-west-2a', GroupName: '', Tenancy: 'default' },
        PrivateDnsName: `ip-${privateIp(i).replace(/\./g, '-')}.us-west-2.compute.internal`,
        PrivateIpAddress: privateIp(i),
        PublicIpAddress: publicIp(i),
        State: { Code: 16, Name: 'running' },
        SubnetId: 'subnet-0123456789abcdef0',
        VpcId: 'vpc-0123456789abcdef0',
        IamInstanceProfile: { Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/app-role`, Id: 'AIPAEXAMPLE000000001' },
        NetworkInterfaces: [
          {
            Association: { IpOwnerId: 'amazon', PublicIp: publicIp(i) },
            NetworkInterfaceId: `eni-0${hex(i, 16)}`,
            PrivateIpAddress: privateIp(i),
            PrivateIpAddresses: [
              { Primary: true, PrivateIpAddress: privateIp(i), Association: { PublicIp: publicIp(i) } },
            ],
            Ipv6Addresses: [],
          },
        ],
        MetadataOptions: {
          State: 'applied',
          HttpTokens: r() < 0.02 ? 'optional' : 'required',
          HttpPutResponseHopLimit: r() < 0.02 ? 2 : 1,
          HttpEndpoint: 'enabled',
          HttpProtocolIpv6: 'disabled',
          InstanceMetadataTags: 'disabled',
        },
        Tags: [{ Key: 'Name', Value: `app-${i}` }],
      },
    ],
    OwnerId: ACCOUNT,
    ReservationId: `r-0${hex(i, 16)}`,
  };
}

/** describe-instances output for `count` instances, or of about `bytes` bytes when given. */
export async function generateInstances(
  path: string,
  count: number,
  bytes?: number,
): Promise<{ instances: number; bytes: number }> {
  const r = rng(7);
  const ws = createWriteStream(path);
  await write(ws, '{\n    "Reservations": [');
  let size = 0;
  let i = 0;
  while (bytes !== undefined ? size < bytes : i < count) {
    const s = `${i > 0 ? ',' : ''}\n${JSON.stringify(instanceDoc(i, r), null, 4)}`;
    size += s.length;
    i++;
    await write(ws, s);
  }
  await write(ws, '\n    ]\n}\n');
  ws.end();
  await once(ws, 'finish');
  return { instances: i, bytes: size };
}
