/**
 * What the text around a secret says about it: whose it is and when it expires. These hints are read from the
 * line holding the secret and from the lines around it (the request path in a curl -v trace comes before the
 * document; a pretty-printed document's `Expiration` comes after its `Token`).
 */

export type HintKind = 'owner' | 'expires' | 'expires-in' | 'document';

export interface Hint {
  kind: HintKind;
  /** Which provider the hint belongs to, so that a GCP service account is never given to an AWS key. */
  provider: 'aws' | 'gcp' | 'azure' | 'alibaba' | 'oracle' | 'any';
  value: string;
  /** 1-based line the hint was read from. */
  line: number;
}

/** Undo the escapes that would hide a hint (JSON-in-JSON quotes, percent-encoding) without caring about spans. */
function loosen(text: string): string {
  let s = text.replace(/\\+"|\\x22/g, '"').replace(/\\+\//g, '/');
  if (s.includes('%')) {
    for (let i = 0; i < 2; i++) {
      const next = s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
      if (next === s) break;
      s = next;
    }
  }
  return s;
}

const Q = `["'\\x60]?`;
const S = String.raw`\s*(?:=>|:|=)\s*`;
const ISO = String.raw`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)`;

interface Extractor {
  re: RegExp;
  kind: HintKind;
  provider: Hint['provider'];
  value: (m: RegExpExecArray) => string | null;
}

const EXTRACTORS: Extractor[] = [
  // AWS: the role name in the credentials path, or the role ARN an ECS/EKS document carries.
  {
    re: /\/iam\/security-credentials\/([A-Za-z0-9+=,.@_-]{1,128})/g,
    kind: 'owner',
    provider: 'aws',
    value: (m) => `role ${m[1]}`,
  },
  {
    re: /\/identity-credentials\/ec2\/security-credentials\/ec2-instance/g,
    kind: 'owner',
    provider: 'aws',
    value: () => 'EC2 instance identity (ec2-instance)',
  },
  {
    re: /arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(?:role|assumed-role)\/[A-Za-z0-9+=,.@_/-]{1,200}/g,
    kind: 'owner',
    provider: 'aws',
    value: (m) => m[0],
  },
  {
    re: new RegExp(`AccountId${Q}${S}${Q}(\\d{12})`, 'g'),
    kind: 'owner',
    provider: 'aws',
    value: (m) => `account ${m[1]}`,
  },
  {
    re: /\/ram\/security-credentials\/([A-Za-z0-9._-]{1,128})/g,
    kind: 'owner',
    provider: 'alibaba',
    value: (m) => `RAM role ${m[1]}`,
  },
  {
    re: /\/computeMetadata\/v1(?:beta1)?\/instance\/service-accounts\/([^/\s?"']{1,200})\/(?:token|identity)/g,
    kind: 'owner',
    provider: 'gcp',
    value: (m) => `service account ${m[1]}`,
  },
  {
    re: /[A-Za-z0-9._-]{1,100}@[A-Za-z0-9.-]{1,100}\.gserviceaccount\.com/g,
    kind: 'owner',
    provider: 'gcp',
    value: (m) => `service account ${m[0]}`,
  },
  {
    re: /[?&](?:client_id|object_id|principal_id|msi_res_id|mi_res_id)=([^&\s"']{1,300})/g,
    kind: 'owner',
    provider: 'azure',
    value: (m) => `managed identity ${m[1]}`,
  },
  {
    re: new RegExp(`client_id${Q}${S}${Q}([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`, 'gi'),
    kind: 'owner',
    provider: 'azure',
    value: (m) => `managed identity client_id ${m[1]}`,
  },
  { re: /\/opc\/v[12]\/identity\//g, kind: 'owner', provider: 'oracle', value: () => 'OCI instance principal' },
  { re: /ocid1\.instance\.[a-z0-9._-]{10,200}/g, kind: 'owner', provider: 'oracle', value: (m) => m[0] },
  // Expiry: AWS/Alibaba `Expiration` (JSON, util.inspect Date, Python datetime), Azure `expires_on`, GCP `expires_in`.
  {
    re: new RegExp(`Expiration${Q}${S}${Q}(${ISO})`, 'g'),
    kind: 'expires',
    provider: 'any',
    value: (m) => normaliseIso(m[1]!),
  },
  {
    re: /Expiration['"]?\s*[:=]\s*datetime\.datetime\((\d{4}), (\d{1,2}), (\d{1,2}), (\d{1,2}), (\d{1,2})(?:, (\d{1,2}))?/g,
    kind: 'expires',
    provider: 'any',
    value: (m) => {
      const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
      return Number.isFinite(t) ? new Date(t).toISOString() : null;
    },
  },
  {
    re: new RegExp(`expires_on${Q}${S}${Q}(\\d{10})`, 'g'),
    kind: 'expires',
    provider: 'azure',
    value: (m) => new Date(Number(m[1]) * 1000).toISOString(),
  },
  { re: new RegExp(`expires_in${Q}${S}${Q}(\\d{1,6})`, 'g'), kind: 'expires-in', provider: 'any', value: (m) => m[1]! },
  // Which document the secret came from.
  {
    re: /["']?Code["']?\s*[:=]\s*["']?Success/g,
    kind: 'document',
    provider: 'aws',
    value: () => 'aws-imds-credentials',
  },
  { re: new RegExp(`RoleArn${Q}${S}`, 'g'), kind: 'document', provider: 'aws', value: () => 'aws-ecs-credentials' },
  {
    re: new RegExp(`AccountId${Q}${S}`, 'g'),
    kind: 'document',
    provider: 'aws',
    value: () => 'aws-eks-pod-identity-credentials',
  },
  {
    re: /token_type["']?\s*[:=]\s*["']?Bearer/gi,
    kind: 'document',
    provider: 'any',
    value: () => 'oauth-token-response',
  },
];

function normaliseIso(s: string): string | null {
  const t = Date.parse(s.replace(' ', 'T'));
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

/** A quick test that spares the extractors on lines that cannot hold a hint. */
const HINT_PREFILTER =
  /security-credentials|arn:aws|AccountId|service-accounts|gserviceaccount|client_id|object_id|_res_id|opc\/v|ocid1\.instance|Expiration|expires_|Code|RoleArn|token_type|%2F|\\\//;

/** Every hint in one line. */
export function hintsIn(text: string, line: number): Hint[] {
  if (!HINT_PREFILTER.test(text)) return [];
  const t = loosen(text);
  const out: Hint[] = [];
  for (const x of EXTRACTORS) {
    x.re.lastIndex = 0;
    for (let m = x.re.exec(t); m !== null; m = x.re.exec(t)) {
      const v = x.value(m);
      if (v)
        out.push({ kind: x.kind, provider: x.provider, value: v.replace(/[^\x20-\x7e]/g, '?').slice(0, 300), line });
    }
  }
  return out;
}
