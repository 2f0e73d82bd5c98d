import type { PathClass } from '../model/hit.ts';

/** A header a metadata endpoint requires (or uses) on requests. */
export interface RequiredHeader {
  name: string;
  value?: string;
  note: string;
}

/** A path rule: the first rule whose pattern matches the (lower-cased, decoded) path decides the class. */
export interface PathRule {
  pattern: RegExp;
  pathClass: PathClass;
  note?: string;
}

/** One metadata service of one provider. */
export interface MetadataService {
  provider: string;
  service: string;
  name: string;
  ipv4: string[];
  ipv6: string[];
  hostnames: string[];
  /** Ports the service listens on (80 unless stated). A port of null in a target means the scheme's default. */
  ports: number[];
  /**
   * Path prefixes that identify this service when it shares an address with others (169.254.169.254).
   * Lower-case regexps over the decoded path. Empty: the address alone identifies it.
   */
  identifyingPaths: RegExp[];
  paths: PathRule[];
  headers: RequiredHeader[];
  /** Provider documentation for the endpoint. */
  doc: string;
  /** When true, the address is only a metadata service on these ports (e.g. Azure Arc on localhost:40342). */
  portBound?: boolean;
}

const AWS_VERSION = String.raw`/(?:latest|\d{4}-\d{2}-\d{2}|1\.0)`;
const re = (s: string) => new RegExp(s);

/** The catalogue. Order matters for shared addresses: the first service whose identifying path matches wins. */
export const SERVICES: readonly MetadataService[] = [
  {
    provider: 'aws',
    service: 'ec2-imds',
    name: 'Amazon EC2 Instance Metadata Service',
    ipv4: ['169.254.169.254'],
    ipv6: ['fd00:ec2::254'],
    hostnames: ['instance-data', 'instance-data.ec2.internal'],
    ports: [80],
    identifyingPaths: [re(`^${AWS_VERSION}(?:/|$)`)],
    paths: [
      { pattern: re(`^${AWS_VERSION}/api/token`), pathClass: 'token', note: 'IMDSv2 session token (PUT)' },
      {
        pattern: re(`^${AWS_VERSION}/meta-data/iam/security-credentials/?`),
        pathClass: 'credentials',
        note: 'instance profile role credentials',
      },
      {
        pattern: re(`^${AWS_VERSION}/meta-data/identity-credentials/`),
        pathClass: 'credentials',
        note: 'instance identity role credentials',
      },
      { pattern: re(`^${AWS_VERSION}/meta-data/iam/info`), pathClass: 'identity' },
      { pattern: re(`^${AWS_VERSION}/user-data`), pathClass: 'user-data' },
      { pattern: re(`^${AWS_VERSION}/dynamic/instance-identity/`), pathClass: 'identity' },
      { pattern: re(`^${AWS_VERSION}/meta-data/public-keys`), pathClass: 'other' },
      { pattern: re(`^${AWS_VERSION}/meta-data/tags/`), pathClass: 'other' },
      { pattern: re(`^(?:${AWS_VERSION}(?:/meta-data|/dynamic)?)?/?$`), pathClass: 'index' },
    ],
    headers: [
      {
        name: 'X-aws-ec2-metadata-token-ttl-seconds',
        note: 'IMDSv2: PUT /latest/api/token with a TTL of 1–21600 seconds',
      },
      { name: 'X-aws-ec2-metadata-token', note: 'IMDSv2: the session token on every GET' },
    ],
    doc: 'https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html',
  },
  {
    provider: 'aws',
    service: 'ecs-task',
    name: 'Amazon ECS task metadata and credentials endpoint',
    ipv4: ['169.254.170.2'],
    ipv6: [],
    hostnames: [],
    ports: [80],
    identifyingPaths: [],
    paths: [
      { pattern: /^\/v2\/credentials(?:\/|$)/, pathClass: 'credentials', note: 'task role credentials' },
      { pattern: /^\/v[234](?:\/[^/]+)?\/task/, pathClass: 'identity' },
      { pattern: /^\/v[234]\/?/, pathClass: 'index' },
      { pattern: /^\/?$/, pathClass: 'index' },
    ],
    headers: [{ name: 'Authorization', note: 'ECS credentials on Fargate/ECS Anywhere may require a token' }],
    doc: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4.html',
  },
  {
    provider: 'aws',
    service: 'eks-pod-identity',
    name: 'Amazon EKS Pod Identity Agent',
    ipv4: ['169.254.170.23'],
    ipv6: ['fd00:ec2::23'],
    hostnames: [],
    ports: [80],
    identifyingPaths: [],
    paths: [
      { pattern: /^\/v1\/credentials/, pathClass: 'credentials', note: 'pod identity credentials' },
      { pattern: /^\/?$/, pathClass: 'index' },
    ],
    headers: [{ name: 'Authorization', note: 'the projected service account token' }],
    doc: 'https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html',
  },
  {
    provider: 'gcp',
    service: 'gce-metadata',
    name: 'Google Compute Engine metadata server',
    ipv4: ['169.254.169.254'],
    ipv6: ['fd20:ce::254'],
    hostnames: ['metadata.google.internal', 'metadata', 'metadata.goog'],
    ports: [80],
    identifyingPaths: [/^\/computemetadata(?:\/|$)/, /^\/0\.1\/meta-data(?:\/|$)/],
    paths: [
      {
        pattern: /^\/computemetadata\/v1(?:beta1)?\/instance\/service-accounts\/[^/]+\/token/,
        pathClass: 'credentials',
        note: 'service account OAuth access token',
      },
      {
        pattern: /^\/computemetadata\/v1(?:beta1)?\/instance\/service-accounts\/[^/]+\/identity/,
        pathClass: 'credentials',
        note: 'service account identity token (JWT): a bearer credential other services accept (Cloud Run, IAP, Vault, AWS AssumeRoleWithWebIdentity)',
      },
      {
        pattern: /^\/computemetadata\/v1(?:beta1)?\/instance\/attributes\/kube-env/,
        pathClass: 'credentials',
        note: 'GKE kube-env holds kubelet credentials',
      },
      { pattern: /^\/computemetadata\/v1(?:beta1)?\/instance\/service-accounts/, pathClass: 'identity' },
      {
        pattern: /^\/computemetadata\/v1(?:beta1)?\/(?:instance|project)\/attributes/,
        pathClass: 'user-data',
        note: 'startup scripts and SSH keys',
      },
      {
        pattern: /^\/0\.1\/meta-data\/service-accounts\/[^/]+\/acquire/,
        pathClass: 'credentials',
        note: 'legacy v0.1 token',
      },
      { pattern: /^\/0\.1\/meta-data\/attributes/, pathClass: 'user-data' },
      { pattern: /^\/computemetadata\/?(?:v1(?:beta1)?\/?)?$/, pathClass: 'index' },
      { pattern: /^\/0\.1\/meta-data\/?$/, pathClass: 'index' },
    ],
    headers: [
      {
        name: 'Metadata-Flavor',
        value: 'Google',
        note: 'required on /computeMetadata/v1; legacy v1beta1 and 0.1 need none',
      },
    ],
    doc: 'https://cloud.google.com/compute/docs/metadata/querying-metadata',
  },
  {
    provider: 'azure',
    service: 'azure-imds',
    name: 'Azure Instance Metadata Service',
    ipv4: ['169.254.169.254'],
    ipv6: [],
    hostnames: [],
    ports: [80],
    identifyingPaths: [/^\/metadata\/(?:instance|identity|attested|scheduledevents|versions|loadbalancer)(?:[/?]|$)/],
    paths: [
      {
        pattern: /^\/metadata\/identity\/oauth2\/token/,
        pathClass: 'credentials',
        note: 'managed identity access token (any api-version)',
      },
      { pattern: /^\/metadata\/identity/, pathClass: 'identity' },
      { pattern: /^\/metadata\/instance\/compute\/(?:userdata|customdata)/, pathClass: 'user-data' },
      { pattern: /^\/metadata\/attested/, pathClass: 'identity' },
      { pattern: /^\/metadata\/(?:instance|versions)\/?$/, pathClass: 'index' },
    ],
    headers: [{ name: 'Metadata', value: 'true', note: 'required, with an api-version query parameter' }],
    doc: 'https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service',
  },
  {
    provider: 'azure',
    service: 'azure-wireserver',
    name: 'Azure WireServer (host agent endpoint)',
    ipv4: ['168.63.129.16'],
    ipv6: [],
    hostnames: [],
    ports: [80, 32526],
    identifyingPaths: [],
    paths: [
      {
        pattern: /certificates|protectedsettings|vmsettings|extensionsconfig/,
        pathClass: 'credentials',
        note: 'extension settings and certificates',
      },
      { pattern: /^\/machine/, pathClass: 'identity' },
      { pattern: /^\/?(?:\?.*)?$/, pathClass: 'index' },
    ],
    headers: [{ name: 'x-ms-version', note: 'WireServer protocol version' }],
    doc: 'https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16',
  },
  {
    provider: 'azure',
    service: 'azure-arc',
    name: 'Azure Arc Hybrid Instance Metadata Service',
    ipv4: ['127.0.0.1'],
    ipv6: ['::1'],
    hostnames: ['localhost'],
    ports: [40342],
    portBound: true,
    identifyingPaths: [],
    paths: [
      { pattern: /^\/metadata\/identity\/oauth2\/token/, pathClass: 'credentials' },
      { pattern: /^\/metadata\/instance/, pathClass: 'index' },
    ],
    headers: [{ name: 'Metadata', value: 'true', note: 'plus a challenge token file' }],
    doc: 'https://learn.microsoft.com/azure/azure-arc/servers/managed-identity-authentication',
  },
  {
    provider: 'oracle',
    service: 'oci-imds',
    name: 'Oracle Cloud Infrastructure instance metadata service',
    ipv4: ['169.254.169.254'],
    ipv6: ['fd00:c1::a9fe:a9fe'],
    hostnames: [],
    ports: [80],
    identifyingPaths: [/^\/opc\/v[12](?:\/|$)/, /^\/opc\/?$/],
    paths: [
      { pattern: /^\/opc\/v[12]\/identity/, pathClass: 'credentials', note: 'instance principal certificate and key' },
      { pattern: /^\/opc\/v[12]\/instance\/metadata/, pathClass: 'user-data' },
      { pattern: /^\/opc\/v[12]\/instance\/?$/, pathClass: 'index' },
      { pattern: /^\/opc\/(?:v[12]\/?)?$/, pathClass: 'index' },
    ],
    headers: [{ name: 'Authorization', value: 'Bearer Oracle', note: 'required on /opc/v2' }],
    doc: 'https://docs.oracle.com/iaas/Content/Compute/Tasks/gettingmetadata.htm',
  },
  {
    provider: 'oracle',
    service: 'oracle-classic',
    name: 'Oracle Cloud Infrastructure Classic metadata',
    ipv4: ['192.0.0.192'],
    ipv6: [],
    hostnames: [],
    ports: [80],
    identifyingPaths: [],
    paths: [
      { pattern: /user-data/, pathClass: 'user-data' },
      { pattern: /^\/(?:latest|\d{4}-\d{2}-\d{2})?\/?$/, pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://docs.oracle.com/en/cloud/iaas-classic/compute-iaas-cloud/stcsg/retrieving-instance-metadata.html',
  },
  {
    provider: 'digitalocean',
    service: 'do-metadata',
    name: 'DigitalOcean Droplet metadata',
    ipv4: ['169.254.169.254'],
    ipv6: [],
    hostnames: [],
    ports: [80],
    identifyingPaths: [/^\/metadata\/v1(?:\.json|\/|$)/],
    paths: [
      { pattern: /^\/metadata\/v1\/user-data/, pathClass: 'user-data' },
      { pattern: /^\/metadata\/v1(?:\.json|\/?$)/, pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://docs.digitalocean.com/reference/api/metadata/',
  },
  {
    provider: 'ibm',
    service: 'ibm-vpc-metadata',
    name: 'IBM Cloud VPC instance metadata',
    ipv4: ['169.254.169.254'],
    ipv6: [],
    hostnames: ['api.metadata.cloud.ibm.com'],
    ports: [80, 443],
    identifyingPaths: [/^\/instance_identity\/v1(?:\/|$)/, /^\/metadata\/v1\/(?:instance|keys|placement_groups)/],
    paths: [
      {
        pattern: /^\/instance_identity\/v1\/iam_token/,
        pathClass: 'credentials',
        note: 'IAM token of the trusted profile',
      },
      { pattern: /^\/instance_identity\/v1\/token/, pathClass: 'token' },
      { pattern: /^\/metadata\/v1\/instance\/initialization/, pathClass: 'user-data' },
      { pattern: /^\/metadata\/v1\/instance\/?$/, pathClass: 'index' },
    ],
    headers: [{ name: 'Metadata-Flavor', value: 'ibm', note: 'required on the token PUT' }],
    doc: 'https://cloud.ibm.com/docs/vpc?topic=vpc-imd-about',
  },
  {
    provider: 'openstack',
    service: 'openstack-metadata',
    name: 'OpenStack Nova metadata service',
    ipv4: ['169.254.169.254'],
    ipv6: ['fe80::a9fe:a9fe'],
    hostnames: [],
    ports: [80],
    identifyingPaths: [/^\/openstack(?:\/|$)/],
    paths: [
      { pattern: /^\/openstack\/[^/]+\/securitykey/, pathClass: 'credentials', note: 'Huawei Cloud temporary AK/SK' },
      { pattern: /^\/openstack\/[^/]+\/password/, pathClass: 'credentials' },
      { pattern: /^\/openstack\/[^/]+\/(?:user_data|vendor_data)/, pathClass: 'user-data' },
      { pattern: /^\/openstack\/(?:[^/]+\/)?(?:meta_data\.json)?$/, pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://docs.openstack.org/nova/latest/user/metadata.html',
  },
  {
    provider: 'hetzner',
    service: 'hetzner-metadata',
    name: 'Hetzner Cloud server metadata',
    ipv4: ['169.254.169.254'],
    ipv6: [],
    hostnames: [],
    ports: [80],
    identifyingPaths: [/^\/hetzner(?:\/|$)/],
    paths: [
      { pattern: /^\/hetzner\/v1\/userdata/, pathClass: 'user-data' },
      { pattern: /^\/hetzner\/v1\/metadata\/?$/, pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://docs.hetzner.cloud/#server-metadata',
  },
  {
    provider: 'linode',
    service: 'linode-metadata',
    name: 'Akamai/Linode Metadata service',
    ipv4: ['169.254.169.254'],
    ipv6: ['fd00:a9fe:a9fe::1'],
    hostnames: [],
    ports: [80],
    identifyingPaths: [/^\/v1\/(?:token|instance|network|ssh-keys|user-data)(?:\/|$)/],
    paths: [
      { pattern: /^\/v1\/token/, pathClass: 'token', note: 'PUT with Metadata-Token-Expiry-Seconds' },
      { pattern: /^\/v1\/user-data/, pathClass: 'user-data' },
      { pattern: /^\/v1\/instance\/?$/, pathClass: 'index' },
    ],
    headers: [{ name: 'Metadata-Token', note: 'token from PUT /v1/token' }],
    doc: 'https://techdocs.akamai.com/cloud-computing/docs/overview-of-the-metadata-service',
  },
  {
    provider: 'vultr',
    service: 'vultr-metadata',
    name: 'Vultr instance metadata',
    ipv4: ['169.254.169.254'],
    ipv6: [],
    hostnames: [],
    ports: [80],
    identifyingPaths: [/^\/v1(?:\.json|\/(?:hostname|instanceid|instance-v2-id|region|interfaces|public-keys|bgp))/],
    paths: [
      { pattern: /^\/v1\/user-data/, pathClass: 'user-data' },
      { pattern: /^\/v1(?:\.json|\/?$)/, pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://www.vultr.com/metadata/',
  },
  {
    provider: 'alibaba',
    service: 'ecs-metadata',
    name: 'Alibaba Cloud ECS metadata',
    ipv4: ['100.100.100.200'],
    ipv6: [],
    hostnames: [],
    ports: [80],
    identifyingPaths: [],
    paths: [
      { pattern: re(`^${AWS_VERSION}/api/token`), pathClass: 'token', note: 'hardened mode token (PUT)' },
      {
        pattern: re(`^${AWS_VERSION}/meta-data/ram/security-credentials/?`),
        pathClass: 'credentials',
        note: 'RAM role STS credentials',
      },
      { pattern: re(`^${AWS_VERSION}/user-data`), pathClass: 'user-data' },
      { pattern: re(`^${AWS_VERSION}/dynamic/instance-identity/`), pathClass: 'identity' },
      { pattern: re(`^(?:${AWS_VERSION}(?:/meta-data)?)?/?$`), pathClass: 'index' },
    ],
    headers: [
      { name: 'X-aliyun-ecs-metadata-token-ttl-seconds', note: 'token PUT' },
      { name: 'X-aliyun-ecs-metadata-token', note: 'token on GET in hardened mode' },
    ],
    doc: 'https://www.alibabacloud.com/help/en/ecs/user-guide/view-instance-metadata',
  },
  {
    provider: 'tencent',
    service: 'cvm-metadata',
    name: 'Tencent Cloud CVM metadata',
    ipv4: ['169.254.0.23'],
    ipv6: [],
    hostnames: ['metadata.tencentyun.com'],
    ports: [80],
    identifyingPaths: [],
    paths: [
      {
        pattern: re(`^${AWS_VERSION}/meta-data/cam/security-credentials/?`),
        pathClass: 'credentials',
        note: 'CAM role credentials',
      },
      { pattern: re(`^${AWS_VERSION}/user-data`), pathClass: 'user-data' },
      { pattern: re(`^(?:${AWS_VERSION}(?:/meta-data)?)?/?$`), pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://www.tencentcloud.com/document/product/213/4934',
  },
  {
    provider: 'scaleway',
    service: 'scaleway-metadata',
    name: 'Scaleway instance metadata',
    ipv4: ['169.254.42.42'],
    ipv6: ['fd00:42::42'],
    hostnames: [],
    ports: [80],
    identifyingPaths: [],
    paths: [
      { pattern: /^\/user_data/, pathClass: 'user-data' },
      { pattern: /^\/conf/, pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://www.scaleway.com/en/docs/instances/how-to/use-cloud-init/',
  },
  {
    provider: 'equinix',
    service: 'equinix-metal-metadata',
    name: 'Equinix Metal metadata',
    ipv4: [],
    ipv6: [],
    hostnames: ['metadata.platformequinix.com', 'metadata.packet.net'],
    ports: [80, 443],
    identifyingPaths: [],
    paths: [
      { pattern: /^\/userdata/, pathClass: 'user-data' },
      { pattern: /^\/metadata/, pathClass: 'index' },
    ],
    headers: [],
    doc: 'https://deploy.equinix.com/developers/docs/metal/server-metadata/metadata/',
  },
  {
    provider: 'rancher',
    service: 'rancher-metadata',
    name: 'Rancher 1.x metadata service',
    ipv4: [],
    ipv6: [],
    hostnames: ['rancher-metadata', 'rancher-metadata.rancher.internal'],
    ports: [80],
    identifyingPaths: [],
    paths: [
      { pattern: /^\/(?:latest|\d{4}-\d{2}-\d{2})?\/?$/, pathClass: 'index' },
      // The asking container's own records and those of its neighbours.
      {
        pattern: /^\/(?:latest|\d{4}-\d{2}-\d{2})\/(?:self|containers|services|stacks|hosts)(?:\/|$)/,
        pathClass: 'identity',
      },
    ],
    headers: [],
    doc: 'https://rancher.com/docs/rancher/v1.6/en/rancher-services/metadata-service/',
  },
];

/** Providers that answer on 169.254.169.254 when the path names none of them. */
export const SHARED_LINK_LOCAL = '169.254.169.254';
