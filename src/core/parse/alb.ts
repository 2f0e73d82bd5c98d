import type { HttpEvent } from '../model/event.ts';
import { intOrUndef, isoTime, orUndef, splitAbsolute, splitQuoted, splitRequestLine } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * AWS Application Load Balancer and Classic ELB access logs.
 * ALB: `type time elb client:port target:port rpt tpt rspt elb_status target_status received sent "request" "ua" …
 * "domain_name" …`. Classic: the same without `type`, ending after ssl_protocol. The request is absolute-form: the
 * authority is the Host header the client sent, so an attacker's `Host: 169.254.169.254` shows up there.
 */
const ALB_TYPES = new Set(['http', 'https', 'h2', 'grpcs', 'ws', 'wss']);
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

function clientIp(hostPort: string | undefined): string | undefined {
  if (!hostPort || hostPort === '-') return undefined;
  const i = hostPort.lastIndexOf(':');
  return i > 0 ? hostPort.slice(0, i) : hostPort;
}

export function parseAlb(line: string, format: string, origin: { file: string; line: number }): HttpEvent | null {
  // Neither starts with a bracket or quote (Envoy's `[time]` would otherwise look like a Classic ELB time).
  const c0 = line.charCodeAt(0);
  if (c0 === 91 || c0 === 34) return null;
  const f = splitQuoted(line);
  const i = f[0] && ALB_TYPES.has(f[0]) ? 1 : 0;
  // ALB lines start with the request type, Classic ELB lines with the time.
  if ((format === 'alb') !== (i === 1)) return null;
  if (!TIME.test(f[i] ?? '') || f.length < i + 12) return null;
  const request = f[i + 11]!;
  const req = splitRequestLine(request);
  if (!req.target) return null;
  const { authority, rest } = splitAbsolute(req.target);
  const ev = httpEvent({
    origin: { file: origin.file, line: origin.line, format },
    time: isoTime(f[i]),
    clientIp: clientIp(f[i + 2]),
    method: req.method,
    target: rest,
    host: authority?.replace(/:(80|443)$/, ''),
    status: intOrUndef(f[i + 7]),
    bytes: intOrUndef(f[i + 10]),
    userAgent: orUndef(f[i + 12]),
  });
  // ALB: domain_name (the SNI) and redirect_url can carry attacker text too.
  if (i === 1) {
    const extra: Record<string, string> = {};
    const domain = orUndef(f[18]);
    if (domain) extra.sni = domain;
    const redirect = orUndef(f[23]);
    if (redirect) extra.redirect_url = redirect;
    if (Object.keys(extra).length > 0) ev.extra = extra;
  }
  return ev;
}

function make(name: 'alb' | 'elb'): LogFormat {
  return {
    name,
    sniff: (line) => parseAlb(line, name, { file: '', line: 0 }) !== null,
    create(): LineParser {
      return {
        format: name,
        parse(text, origin) {
          const ev = parseAlb(text, name, origin);
          return ev ? { kind: 'event', event: ev } : NOMATCH;
        },
      };
    },
  };
}

export const albFormat = make('alb');
export const elbFormat = make('elb');
