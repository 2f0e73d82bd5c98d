/**
 * A fake cloud metadata service as pure handlers: a request value in, a response value out.
 * No sockets here, so the same handlers serve in-process tests and a real listener (server.ts).
 * Every credential it hands out is obviously fake (FAKE, EXAMPLE, "not-a-real-token").
 */

/** What the handlers look at. Header names are lower-case. */
export interface FakeRequest {
  method: string;
  /** The request target as sent (path and query). */
  target: string;
  headers: Readonly<Record<string, string | undefined>>;
}

export interface FakeResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface FakeImdsOptions {
  /** AWS: refuse GETs without a valid token (HttpTokens=required). Default false (v1 and v2 both work). */
  imdsv2Required?: boolean;
  /** The instance profile role name listed under iam/security-credentials/. */
  roleName?: string;
  /** The body of /latest/user-data. */
  userData?: string;
  /** The clock, in ms (tokens expire against it). */
  now?: () => number;
  /** Token generator (tests may make it deterministic). */
  newToken?: () => string;
}

/** The mutable part: issued tokens and when they expire. Kept apart so handlers stay functions of (state, request). */
export interface FakeImdsState {
  tokens: Map<string, number>;
}

export const FAKE_ROLE = 'fake-imds-role';
export const FAKE_INSTANCE_ID = 'i-0fakefake00000001';
/** Obviously fake AWS-shaped credentials (the shape leak detectors look for, with FAKE/EXAMPLE in the value). */
export const FAKE_ACCESS_KEY_ID = 'ASIAFAKEEXAMPLE00001';
export const FAKE_SECRET_ACCESS_KEY = 'fakeSecretKeyEXAMPLEdoNotUse/0000000000000';
export const FAKE_SESSION_TOKEN = 'FakeSessionTokenEXAMPLE-not-a-real-token';
export const FAKE_GCP_TOKEN = 'ya29.FAKE-EXAMPLE-not-a-real-token';
export const FAKE_AZURE_TOKEN = 'eyFAKE.EXAMPLE.not-a-real-token';

const MAX_TTL = 21600;

function text(status: number, body: string, headers: Record<string, string> = {}): FakeResponse {
  return { status, headers: { 'content-type': 'text/plain', ...headers }, body };
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): FakeResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value, null, 2) };
}

/** The error pages the real IMDS sends are small HTML documents; tests only rely on the status. */
function awsError(status: number, title: string): FakeResponse {
  return {
    status,
    headers: { 'content-type': 'text/html' },
    body: `<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>${status} - ${title}</title></head><body><h1>${status} - ${title}</h1></body></html>\n`,
  };
}

function hasForwarding(h: FakeRequest['headers']): boolean {
  return h['x-forwarded-for'] !== undefined || h.forwarded !== undefined || h.via !== undefined;
}

function awsCredentials(now: number): Record<string, string> {
  return {
    Code: 'Success',
    LastUpdated: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    Type: 'AWS-HMAC',
    AccessKeyId: FAKE_ACCESS_KEY_ID,
    SecretAccessKey: FAKE_SECRET_ACCESS_KEY,
    Token: FAKE_SESSION_TOKEN,
    Expiration: new Date(now + 6 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

function awsTree(
  opts: Required<Pick<FakeImdsOptions, 'roleName' | 'userData'>>,
  now: number,
): Map<string, () => FakeResponse> {
  const role = opts.roleName;
  const t = new Map<string, () => FakeResponse>();
  t.set('/', () => text(200, 'latest'));
  t.set('/latest', () => text(200, 'dynamic\nmeta-data\nuser-data'));
  t.set('/latest/', () => text(200, 'dynamic\nmeta-data\nuser-data'));
  t.set('/latest/meta-data/', () =>
    text(
      200,
      ['ami-id', 'hostname', 'iam/', 'identity-credentials/', 'instance-id', 'local-ipv4', 'placement/'].join('\n'),
    ),
  );
  t.set('/latest/meta-data/ami-id', () => text(200, 'ami-0fake000000000001'));
  t.set('/latest/meta-data/instance-id', () => text(200, FAKE_INSTANCE_ID));
  t.set('/latest/meta-data/hostname', () => text(200, 'ip-10-0-0-1.fake.internal'));
  t.set('/latest/meta-data/local-ipv4', () => text(200, '10.0.0.1'));
  t.set('/latest/meta-data/placement/', () => text(200, 'availability-zone\nregion'));
  t.set('/latest/meta-data/placement/region', () => text(200, 'xx-fake-1'));
  t.set('/latest/meta-data/placement/availability-zone', () => text(200, 'xx-fake-1a'));
  t.set('/latest/meta-data/iam/', () => text(200, 'info\nsecurity-credentials/'));
  t.set('/latest/meta-data/iam/info', () =>
    json(200, {
      Code: 'Success',
      InstanceProfileArn: `arn:aws:iam::000000000000:instance-profile/${role}`,
      InstanceProfileId: 'AIPAFAKEEXAMPLE000001',
    }),
  );
  t.set('/latest/meta-data/iam/security-credentials/', () => text(200, role));
  t.set(`/latest/meta-data/iam/security-credentials/${role}`, () => json(200, awsCredentials(now)));
  t.set('/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance', () =>
    json(200, awsCredentials(now)),
  );
  t.set('/latest/user-data', () => text(200, opts.userData));
  t.set('/latest/dynamic/instance-identity/document', () =>
    json(200, { accountId: '000000000000', instanceId: FAKE_INSTANCE_ID, region: 'xx-fake-1' }),
  );
  return t;
}

/** AWS EC2 IMDS: v1 GETs, the v2 token PUT with its TTL bounds, 401/405 like the real service. */
function aws(state: FakeImdsState, o: Required<FakeImdsOptions>, req: FakeRequest, path: string): FakeResponse {
  const now = o.now();
  if (path === '/latest/api/token') {
    if (req.method !== 'PUT')
      return {
        ...awsError(405, 'Method Not Allowed'),
        headers: { 'content-type': 'text/html', allow: 'OPTIONS, PUT' },
      };
    // AWS refuses to issue tokens to requests relayed by a proxy.
    if (hasForwarding(req.headers)) return awsError(403, 'Forbidden');
    const ttlRaw = req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
    if (ttlRaw === undefined || !/^\d+$/.test(ttlRaw.trim())) return awsError(400, 'Missing or Invalid Parameters');
    const ttl = Number(ttlRaw.trim());
    if (ttl < 1 || ttl > MAX_TTL) return awsError(400, 'Missing or Invalid Parameters');
    const token = o.newToken();
    state.tokens.set(token, now + ttl * 1000);
    return text(200, token, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return awsError(405, 'Method Not Allowed');
  const token = req.headers['x-aws-ec2-metadata-token'];
  if (token !== undefined) {
    const exp = state.tokens.get(token);
    if (exp === undefined || exp <= now) {
      if (exp !== undefined) state.tokens.delete(token);
      return awsError(401, 'Unauthorized');
    }
  } else if (o.imdsv2Required) {
    return awsError(401, 'Unauthorized');
  }
  const leaf = awsTree(o, now).get(path);
  return leaf ? leaf() : awsError(404, 'Not Found');
}

/** GCP: /computeMetadata/v1 needs Metadata-Flavor: Google and refuses X-Forwarded-For. */
function gcp(req: FakeRequest, path: string): FakeResponse {
  const flavor = { 'metadata-flavor': 'Google' };
  const v1 = path.startsWith('/computeMetadata/v1/');
  if (v1 && req.headers['metadata-flavor'] !== 'Google') {
    return text(403, 'Missing Metadata-Flavor:Google header.', flavor);
  }
  if (req.headers['x-forwarded-for'] !== undefined) return text(403, 'Request had X-Forwarded-For header.', flavor);
  const rest = path.replace(/^\/computeMetadata\/v1(?:beta1)?/, '');
  switch (rest) {
    case '/instance/id':
      return text(200, '0000000000000000001', flavor);
    case '/project/project-id':
      return text(200, 'fake-project', flavor);
    case '/instance/service-accounts/':
      return text(200, 'default/\nfake@fake-project.iam.gserviceaccount.com/', flavor);
    case '/instance/service-accounts/default/token':
      return json(200, { access_token: FAKE_GCP_TOKEN, expires_in: 3599, token_type: 'Bearer' }, flavor);
    default:
      return text(404, 'Not Found', flavor);
  }
}

/** Azure IMDS: Metadata: true and an api-version on every call; a forwarded request is refused. */
function azure(req: FakeRequest, path: string, query: URLSearchParams): FakeResponse {
  if (req.headers['x-forwarded-for'] !== undefined) {
    return json(400, { error: 'Bad request. Request contains X-Forwarded-For header' });
  }
  if (req.headers.metadata !== 'true') {
    return json(400, { error: 'Bad request. Required metadata header not specified' });
  }
  if (!query.get('api-version')) return json(400, { error: 'Bad request. api-version was not specified' });
  if (path === '/metadata/instance' || path === '/metadata/instance/') {
    return json(200, {
      compute: { vmId: '00000000-fake-0000-0000-000000000001', location: 'fakeregion', name: 'fake-vm' },
    });
  }
  if (path === '/metadata/identity/oauth2/token') {
    return json(200, {
      access_token: FAKE_AZURE_TOKEN,
      expires_in: '3599',
      resource: query.get('resource') ?? 'https://management.azure.com/',
      token_type: 'Bearer',
    });
  }
  return json(404, { error: 'Not found' });
}

/** ECS task credentials (169.254.170.2/v2/credentials/<id>) and EKS Pod Identity (/v1/credentials). */
function ecsEks(req: FakeRequest, path: string, now: number): FakeResponse {
  if (path.startsWith('/v2/credentials/') && path.length > '/v2/credentials/'.length) {
    const c = awsCredentials(now);
    return json(200, {
      RoleArn: `arn:aws:iam::000000000000:role/${FAKE_ROLE}`,
      AccessKeyId: c.AccessKeyId,
      SecretAccessKey: c.SecretAccessKey,
      Token: c.Token,
      Expiration: c.Expiration,
    });
  }
  if (path === '/v1/credentials') {
    if (!req.headers.authorization) return json(400, { error: 'missing Authorization header' });
    const c = awsCredentials(now);
    return json(200, {
      AccessKeyId: c.AccessKeyId,
      SecretAccessKey: c.SecretAccessKey,
      Token: c.Token,
      Expiration: c.Expiration,
    });
  }
  return json(404, { error: 'not found' });
}

/** Oracle: /opc/v2 needs Authorization: Bearer Oracle; /opc/v1 needs nothing. */
function oracle(req: FakeRequest, path: string): FakeResponse {
  if (path.startsWith('/opc/v2/') && req.headers.authorization !== 'Bearer Oracle') return text(401, 'Unauthorized');
  if (/^\/opc\/v[12]\/instance\/?$/.test(path))
    return json(200, { id: 'ocid1.instance.oc1..fakeexample', region: 'fake' });
  return text(404, 'Not Found');
}

/**
 * Build the handler. The returned function is synchronous and touches nothing but `state`.
 * @example const h = createFakeImds({ imdsv2Required: true }); h({ method: 'GET', target: '/latest/meta-data/', headers: {} }).status // 401
 */
export function createFakeImds(
  options: FakeImdsOptions = {},
): ((req: FakeRequest) => FakeResponse) & { state: FakeImdsState } {
  const state: FakeImdsState = { tokens: new Map() };
  let seq = 0;
  const o: Required<FakeImdsOptions> = {
    imdsv2Required: options.imdsv2Required ?? false,
    roleName: options.roleName ?? FAKE_ROLE,
    userData: options.userData ?? '#!/bin/sh\necho fake user-data\n',
    now: options.now ?? (() => Date.now()),
    newToken:
      options.newToken ??
      (() => {
        seq += 1;
        return `AQAEAFakeToken${String(seq).padStart(6, '0')}${Math.random().toString(36).slice(2, 12)}==`;
      }),
  };
  const handler = (req: FakeRequest): FakeResponse => {
    const q = req.target.indexOf('?');
    const path = q < 0 ? req.target : req.target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : req.target.slice(q + 1));
    if (path === '/' || path === '/latest' || path.startsWith('/latest/')) return aws(state, o, req, path);
    if (path.startsWith('/computeMetadata/')) return gcp(req, path);
    if (path.startsWith('/metadata/')) return azure(req, path, query);
    if (path.startsWith('/v2/credentials/') || path === '/v1/credentials') return ecsEks(req, path, o.now());
    if (path.startsWith('/opc/')) return oracle(req, path);
    return text(404, 'Not Found');
  };
  return Object.assign(handler, { state });
}
