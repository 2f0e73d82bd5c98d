import { albFormat, elbFormat } from './alb.ts';
import { awswafFormat } from './awswaf.ts';
import { cloudfrontFormat } from './cloudfront.ts';
import { apacheFormat, combinedFormat, commonFormat, nginxFormat } from './combined.ts';
import { envoyFormat } from './envoy.ts';
import { eveFormat } from './eve.ts';
import { haproxyFormat } from './haproxy.ts';
import { iisFormat } from './iis.ts';
import { jsonFormat } from './json-lines.ts';
import { squidFormat } from './squid.ts';
import { textFormat } from './text.ts';
import { traefikFormat } from './traefik.ts';
import type { LogFormat, LogFormatName } from './types.ts';
import { zeekFormat } from './zeek.ts';

export const FORMATS: Record<Exclude<LogFormatName, 'auto'>, LogFormat> = {
  nginx: nginxFormat,
  apache: apacheFormat,
  combined: combinedFormat,
  common: commonFormat,
  json: jsonFormat,
  alb: albFormat,
  elb: elbFormat,
  cloudfront: cloudfrontFormat,
  awswaf: awswafFormat,
  squid: squidFormat,
  haproxy: haproxyFormat,
  envoy: envoyFormat,
  traefik: traefikFormat,
  iis: iisFormat,
  zeek: zeekFormat,
  eve: eveFormat,
  text: textFormat,
};

/**
 * Detection order: the most specific shapes first (specific JSON schemas before generic JSON, W3C dialects by their
 * headers, ALB before combined because both quote the request). `text` is the fallback, never detected.
 */
const ORDER: LogFormat[] = [
  awswafFormat,
  eveFormat,
  traefikFormat,
  zeekFormat,
  jsonFormat,
  cloudfrontFormat,
  iisFormat,
  squidFormat,
  albFormat,
  elbFormat,
  haproxyFormat,
  envoyFormat,
  combinedFormat,
];

/** The format a line looks like, or undefined. */
export function detectFormat(line: string): LogFormat | undefined {
  for (const f of ORDER) if (f.sniff(line)) return f;
  return undefined;
}
