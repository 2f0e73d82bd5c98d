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

/** A line cut into its fields, with the parts of the request that can carry an attack; null when it is not one. */
interface AlbLine {
  f: string[];
  /** 1 for ALB (the line starts with the request type), 0 for Classic ELB. */
  i: number;
  method: string | undefined;
  target: string;
  host: string | undefined;
  /** ALB: domain_name (the SNI) and redirect_url, which can carry attacker text too. */
  extra: Record<string, string> | undefined;
}

function cutAlb(line: string, format: string): AlbLine | null {
  // Neither starts with a bracket or quote (Envoy's `[time]` would otherwise look like a Classic ELB time).
  const c0 = line.charCodeAt(0);
  if (c0 === 91 || c0 === 34) return null;
  const f = splitQuoted(line);
  const i = f[0] && ALB_TYPES.has(f[0]) ? 1 : 0;
  // ALB lines start with the request type, Classic ELB lines with the time.
  if ((format === 'alb') !== (i === 1)) return null;
  if (!TIME.test(f[i] ?? '') || f.length < i + 12) return null;
  const req = splitRequestLine(f[i + 11]!);
  if (!req.target) return null;
  const { authority, rest } = splitAbsolute(req.target);
  let extra: Record<string, string> | undefined;
  if (i === 1) {
    const domain = orUndef(f[18]);
    const redirect = orUndef(f[23]);
    if (domain || redirect) {
      extra = {};
      if (domain) extra.sni = domain;
      if (redirect) extra.redirect_url = redirect;
    }
  }
  return { f, i, method: req.method, target: rest, host: authority?.replace(/:(80|443)$/, ''), extra };
}

export function parseAlb(line: string, format: string, origin: { file: string; line: number }): HttpEvent | null {
  const a = cutAlb(line, format);
  if (!a) return null;
  const { f, i } = a;
  const ev = httpEvent({
    origin: { file: origin.file, line: origin.line, format },
    time: isoTime(f[i]),
    clientIp: clientIp(f[i + 2]),
    method: a.method,
    target: a.target,
    host: a.host,
    status: intOrUndef(f[i + 7]),
    bytes: intOrUndef(f[i + 10]),
    userAgent: orUndef(f[i + 12]),
  });
  if (a.extra) ev.extra = a.extra;
  return ev;
}

/** The values `parseAlb` puts in attack-bearing fields (target, host, SNI, redirect URL), without building the event. */
export function quickAlbPlaces(line: string, format: string): string[] | null {
  const a = cutAlb(line, format);
  if (!a) return null;
  const out = [a.target];
  if (a.host) out.push(a.host);
  if (a.extra) out.push(...Object.values(a.extra));
  return out;
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
        quickPlaces: (text) => quickAlbPlaces(text, name),
      };
    },
  };
}

export const albFormat = make('alb');
export const elbFormat = make('elb');
