/**
 * Mask secrets in a command line before it is reported: header values that carry tokens, password-like options,
 * AWS key ids, and long opaque values after a secret-looking name. Only what is needed to recognise the command
 * remains.
 */
const SECRET_HEADER =
  /^((?:x-aws-ec2-metadata-token|authorization|x-identity-header|x-api-key|cookie|proxy-authorization)\s*:\s*)(.+)$/i;
const SECRET_OPTION = /^(--?[\w-]*(?:pass(?:word)?|secret|token|key|credential|auth)[\w-]*=)(.+)$/i;
const SECRET_OPTION_NAME = /^--?[\w-]*(?:pass(?:word)?|secret|token|credential|auth)[\w-]*$/i;
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/[^/@\s:]+:)([^/@\s]+)(@)/i;
const AWS_KEY = /\b(AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12}([A-Z0-9]{4})\b/g;
const ENV_SECRET = /^([A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|_KEY)[A-Z0-9_]*=)(.+)$/;

export const MASK = '****';

export function maskArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let maskNext = false;
  for (const arg of argv) {
    if (maskNext) {
      out.push(MASK);
      maskNext = false;
      continue;
    }
    let a = arg;
    const header = SECRET_HEADER.exec(a);
    if (header) a = `${header[1]}${MASK}`;
    else {
      const opt = SECRET_OPTION.exec(a) ?? ENV_SECRET.exec(a);
      if (opt) a = `${opt[1]}${MASK}`;
      else if (SECRET_OPTION_NAME.test(a)) maskNext = true;
    }
    a = a.replace(URL_USERINFO, `$1${MASK}$3`).replace(AWS_KEY, `$1${MASK}$2`);
    out.push(a);
  }
  return out;
}
