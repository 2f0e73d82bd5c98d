import { SERVICES } from '../endpoints/catalogue.ts';
import { mask } from './mask.ts';
import { type Masker, maskText } from './masker.ts';

/**
 * The one masker of command lines, for every record that carries a process's argv (proxy, agent, guard): values
 * of password-, secret- and token-like options and environment assignments, URL userinfo, the value of every header
 * that carries a metadata token or an authorization, and every credential shape the leak detector knows.
 */

export const MASK = '****';

/**
 * Headers whose value is a credential: every metadata token header of the catalogue (those without a fixed value,
 * TTL and version headers aside), and the generic authorization headers.
 */
const TOKEN_HEADERS: readonly string[] = [
  ...new Set([
    ...SERVICES.flatMap((s) => s.headers)
      .filter((h) => h.value === undefined && !/ttl|version/i.test(h.name))
      .map((h) => h.name.toLowerCase()),
    'authorization',
    'proxy-authorization',
    'x-identity-header',
    'x-api-key',
    'cookie',
  ]),
];

const NAMES = TOKEN_HEADERS.map((n) => n.replace(/[-]/g, '[-_]')).join('|');
/** A whole argument that is a header: everything after the colon is the value. */
const HEADER_ARG = new RegExp(`^((?:--?[\\w-]+=)?(?:${NAMES})(?![\\w-])\\s*:\\s*)(.+)$`, 'i');
/** A header inside a longer argument (`sh -c "curl -H 'X-aws-ec2-metadata-token: $T' …"`), or as name=value. */
const HEADER_IN = new RegExp(
  `((?:^|[^\\w-])(?:${NAMES})(?![\\w-])\\s*[:=]\\s*(?:(?:bearer|basic|token)\\s+)?)([^\\s'"\\\\]+)`,
  'gi',
);
const SECRET_OPTION = /^(--?[\w-]*(?:pass(?:word|wd|phrase)?|secret|token|key|credential|auth)[\w-]*=)(.+)$/i;
const SECRET_OPTION_NAME = /^--?[\w-]*(?:pass(?:word|wd|phrase)?|secret|token|credential|auth)[\w-]*$/i;
const ENV_SECRET = /^([A-Za-z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|_KEY)[A-Za-z0-9_]*=)(.+)$/i;
/** The password of URL userinfo, up to the last `@` of the URL (a password may hold `/` and `@` unencoded). */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^/@\s:'"]+:)([^\s'"]+)(@)/gi;

/** Every URL's userinfo password in `text` masked (`nats://user:****@host`), for messages that echo an argument. */
export function maskUrlUserinfo(text: string): string {
  return text.replace(URL_USERINFO, `$1${MASK}$3`);
}
/** AWS key ids of every documented prefix, examples included: a command line is an identity, not evidence. */
const AWS_KEY = /\b(?:AKIA|ASIA|AROA|AIDA|ABIA|ACCA|AGPA|ANPA|ANVA|APKA|ASCA|AIPA)[A-Z0-9]{16}\b/g;

/**
 * One argument masked; `next` says whether the argument after it is the value of a secret option.
 * @example maskArg('--password=hunter2') // { arg: '--password=****', next: false }
 */
function maskArg(arg: string, masker?: Masker): { arg: string; next: boolean } {
  let a = arg;
  let next = false;
  const header = HEADER_ARG.exec(a);
  if (header) a = `${header[1]}${MASK}`;
  else {
    const opt = SECRET_OPTION.exec(a) ?? ENV_SECRET.exec(a);
    if (opt) a = `${opt[1]}${MASK}`;
    else if (SECRET_OPTION_NAME.test(a)) next = true;
  }
  a = a
    .replace(HEADER_IN, (_m, head: string) => `${head}${MASK}`)
    .replace(URL_USERINFO, `$1${MASK}$3`)
    .replace(AWS_KEY, (k) => mask(k));
  return { arg: maskText(a, masker), next };
}

/**
 * A command line with every secret masked; every other argument as it was.
 * @example maskArgv(['curl', '-H', 'X-aws-ec2-metadata-token: AQAE…', 'http://169.254.169.254/']) // [..., 'X-aws-ec2-metadata-token: ****', ...]
 */
export function maskArgv(argv: readonly string[], masker?: Masker): string[] {
  // Daemons record the same caller's argv on every request: the same array is masked once.
  const cached = masker ? undefined : MASKED_ARGV.get(argv);
  if (cached) return cached;
  const out: string[] = [];
  let maskNext = false;
  for (const arg of argv) {
    if (maskNext) {
      out.push(MASK);
      maskNext = false;
      continue;
    }
    const r = maskArg(arg, masker);
    out.push(r.arg);
    maskNext = r.next;
  }
  if (!masker) MASKED_ARGV.set(argv, out);
  return out;
}

const MASKED_ARGV = new WeakMap<readonly string[], string[]>();

/**
 * A header value as it may be recorded: masked when the header carries a credential, else any credential shape in it.
 * @example maskHeader('x-aliyun-ecs-metadata-token', 'AQAE…') // '****'
 */
export function maskHeader(name: string, value: string, masker?: Masker): string {
  return TOKEN_HEADERS.includes(name.toLowerCase()) ? MASK : maskText(value, masker);
}
