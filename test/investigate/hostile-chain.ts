// A chain of finding records whose every field the report shows is hostile: script and style end tags, SVG with
// onload, javascript: URLs, RTL overrides, NUL and C1 controls, and strings far longer than a line. The records link
// into an incident of their own (the role, the key hash, the trail events and the instance are shared), so the
// hostile text reaches every part of the report: titles, facts, roles, clients, file names, graph nodes, evidence.
/** The canary a payload that ran would set. */
export const PWNED = 'window.__pwned=1';
/** Markup, a URL scheme, an RTL override, NUL and C1 controls in one string. */
export const EVIL = `<script>${PWNED}</script></style><svg/onload=${PWNED}><a href="javascript:alert(1)">x</a>\u202eevil\u0000nul\u0085c1\u009bc1`;
const LONG = `${'A'.repeat(20_000)}<img/src/onerror=alert(2)>`;
/** A role, as written in a credentials path and named by the leak and the trail. */
export const ROLE = `<svg/onload=${PWNED}>\u202e\u0000\u0085${'r'.repeat(300)}`;
const HOST = `x<svg/onload=alert(3)>\u202e@169.254.169.254`;
const IP = `198.18.9.9<script>${PWNED}</script>\u202e`;
const USE_IP = `198.51.100.77</style><svg/onload=alert(4)>`;
const INSTANCE = `i-0hostile<script>alert(5)</script>\u202e`;
const HASH = 'hmac-sha256:0123456789abcdef01234567';
const t = (s: number) => new Date(Date.UTC(2026, 10, 21, 10, 0, s)).toISOString();
const base = (id: string, rule: string, s: number, extra: Record<string, unknown>) => ({
  type: 'finding',
  schema_version: '1',
  id,
  rule: { id: rule, name: EVIL },
  severity: 'high',
  confidence: 0.9,
  attack: [],
  title: `title ${EVIL} ${LONG}`,
  remediation: EVIL,
  time: t(s),
  provider: 'aws',
  ...extra,
});
/** The chain's records as JSON lines; `file` starts the name of the log the SSRF request is said to be in. */
export function hostileChain(file: string): string[] {
  const path = `/latest/meta-data/iam/security-credentials/${encodeURIComponent(ROLE)}`;
  return [
    base('hostile-ssrf', 'ssrf-metadata', 0, {
      origin: { file: `${file}${EVIL}`, line: 7 },
      verdict: 'metadata',
      target: {
        raw: `/fetch?u=http://${HOST}${path}&q=${EVIL}${LONG}`,
        decoded: `http://${HOST}${path}${EVIL}`,
        host: HOST,
        path,
        path_class: 'credentials',
      },
      transforms: [EVIL],
      outcome: 'likely-success',
      outcome_reason: EVIL,
      client: { ip: IP },
      http: { method: 'GET', status: 200, bytes: 1200, user_agent: EVIL },
    }),
    base('hostile-leak', 'credential-exposure-aws', 60, {
      origin: { file: `logs/${EVIL}${LONG}.log`, line: 9 },
      secret: {
        kind: 'aws-access-key-id',
        masked: `ASIA****${EVIL}`,
        owner: `role ${ROLE}`,
        hash: HASH,
        expires: EVIL,
      },
    }),
    base('hostile-use', 'cloud-instance-credentials-outside-use', 120, {
      origin: { event_ids: [`ev-${EVIL}`, LONG] },
      principal: ROLE,
      client: { ip: USE_IP },
      resource: { kind: 'ec2-instance', id: INSTANCE },
      evidence: { access_key_hashes: [HASH], access_keys: [`ASIA****${EVIL}`], event_names: { [EVIL]: 1 } },
    }),
    base('hostile-recon', 'cloud-instance-role-reconnaissance', 180, {
      origin: { event_ids: [`ev-${EVIL}`] },
      principal: ROLE,
      client: { ip: USE_IP },
      evidence: { access_key_hashes: [HASH], event_names: { [`List${EVIL}`]: 3 } },
    }),
    base('hostile-host', 'imds-v1-credentials-fetch', 30, {
      origin: { sensor: `bpftrace${EVIL}` },
      imds_version: 1,
      process: { pid: 6666, exe: `/usr/bin/${EVIL}${LONG}`, uid: 0, user: EVIL, argv: [EVIL] },
      destination: { ip: '169.254.169.254', port: 80 },
      http: { method: 'GET', path, token: false },
    }),
    base('hostile-posture', 'posture-imdsv1-allowed', 0, {
      origin: { file: `inventory${EVIL}.json`, line: 3 },
      resource: { kind: 'ec2-instance', id: INSTANCE },
    }),
  ].map((r) => JSON.stringify(r));
}
