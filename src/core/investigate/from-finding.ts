import { posix } from 'node:path';
import { InputSyntaxError } from '../errors.ts';
import { findingId } from '../model/finding.ts';
import { isSeverity } from '../model/severity.ts';
import type { RecordSource, Step, StepKind } from './step.ts';

type Rec = Record<string, unknown>;

const obj = (v: unknown): Rec | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The role (AWS) or service account (GCP) a metadata path asks credentials for, as written after its prefix. */
export function roleInPath(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const aws = /\/iam\/security-credentials\/([^/?#\s]+)/.exec(path);
  if (aws?.[1]) return safeDecode(aws[1]);
  const gcp = /\/service-accounts\/([^/?#\s]+)\/(?:token|identity)/.exec(path);
  if (gcp?.[1]) return safeDecode(gcp[1]);
  return undefined;
}

/**
 * The role of a request as it was written. The decoder ends a URL at a character a URL does not hold (a quote, `$`),
 * so `…/security-credentials/web'role$(id)` decodes to the role `web`: another role than the one asked for, and one a
 * revoke command must not name. Where the request as written goes on past the decoded role, the role is what was
 * written (which is then no valid IAM name, so no command names it).
 */
function roleAsWritten(role: string | undefined, raw: string | undefined): string | undefined {
  if (role === undefined || raw === undefined) return role;
  const written = /\/iam\/security-credentials\/([^/?#&\s]+)/.exec(safeDecode(raw))?.[1];
  return written !== undefined && written.length > role.length && written.startsWith(role) ? written : role;
}

/**
 * A role as a finding writes it: a name (`web-role`), or an ARN that also says its account
 * (`arn:aws:iam::111122223333:role/path/web-role`, `arn:aws:sts::111122223333:assumed-role/web-role/session`).
 */
export function roleRef(written: string): { name: string; account?: string } {
  const arn =
    /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):(?:role\/(?:[^\s]*\/)?([^/\s]+)|assumed-role\/([^/\s]+)(?:\/\S*)?)$/.exec(
      written,
    );
  if (arn) return { name: (arn[2] ?? arn[3])!, account: arn[1]! };
  return { name: written };
}

/**
 * The host a record names: the findings store's `fleet.host` (id, else name, or the host as a plain string), or a
 * top-level `host` in the same shapes.
 */
function hostOf(f: Rec): string | undefined {
  const named = (h: unknown) => str(h) ?? str(obj(h)?.id) ?? str(obj(h)?.name);
  return named(obj(f.fleet)?.host) ?? named(f.host);
}

/** A path as one spelling without the file system: `./a.log` and `a.log` alike (the caller may resolve further). */
export function lexicalFileKey(file: string): string {
  return posix.normalize(file.replace(/\\/g, '/'));
}

export interface StepOptions {
  /** One spelling of a file path (the app resolves links where it can); lexical by default. */
  fileKey?: (file: string) => string;
  /** One spelling of an input of `investigate` (the app resolves it against the working directory); lexical by default. */
  sourceKey?: (file: string) => string;
}

/** The last component of a path: what names a log in an identity, however and wherever its path was spelt. */
export function logName(fileKey: string): string {
  const parts = fileKey.split('/').filter((p) => p !== '' && p !== '.');
  return parts[parts.length - 1] ?? fileKey;
}

/**
 * Two spellings may name one file: equal, or one is relative and the other ends with its components (`app.log`,
 * `logs/app.log` and `/srv/logs/app.log`); two different absolute paths are two files.
 */
export function pathsAgree(a: string, b: string): boolean {
  if (a === b) return true;
  const comps = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.' && c !== '..');
  const absA = a.startsWith('/');
  const absB = b.startsWith('/');
  if (absA && absB) return false;
  const [short, long] = comps(a).length <= comps(b).length ? [comps(a), comps(b)] : [comps(b), comps(a)];
  return short.length > 0 && short.every((c, i) => long[long.length - short.length + i] === c);
}

/**
 * A log line's identity names the log by its name alone, so that every spelling of its path is one step. Two
 * different files of one name with the same line (two hosts' `access.log`, side by side under two absolute paths)
 * are two steps though: where the steps of one identity name files that cannot be one (`pathsAgree`: two absolute
 * paths, or `hA/access.log` and `hB/access.log`), each file's steps get that file's longest spelling into their
 * identity, and a step whose path could be either of them (`access.log`) keeps the name alone. Steps of one file
 * only are left as they are, so their ids do not move when no other file of that name is read.
 */
export function separateSameNamedFiles(steps: readonly Step[]): Step[] {
  const byIdentity = new Map<string, Step[]>();
  for (const s of steps) {
    if (s.fileKey === undefined) continue;
    const list = byIdentity.get(s.identity);
    if (list) list.push(s);
    else byIdentity.set(s.identity, [s]);
  }
  const renamed = new Map<Step, string>();
  for (const list of byIdentity.values()) {
    if (list.length < 2) continue;
    // The files of the group: the spellings no longer spelling extends (`hA/access.log` is `/srv/hA/access.log`
    // when both are read); any two of them cannot be one file.
    const keys = [...new Set(list.map((s) => s.fileKey!))];
    const depth = (f: string) => f.split('/').filter((c) => c !== '' && c !== '.').length + (f.startsWith('/') ? 1 : 0);
    const files = keys.filter((f) => !keys.some((g) => g !== f && depth(g) > depth(f) && pathsAgree(f, g))).sort();
    if (files.length < 2) continue;
    for (const s of list) {
      const mine = files.filter((f) => pathsAgree(f, s.fileKey!));
      if (mine.length === 1) renamed.set(s, findingId('file', [s.identity, mine[0]]));
    }
  }
  return renamed.size === 0 ? [...steps] : steps.map((s) => (renamed.has(s) ? { ...s, identity: renamed.get(s)! } : s));
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function kindOf(rule: string, f: Rec): StepKind {
  if (rule === 'ssrf-metadata' || rule === 'ssrf-internal') {
    const target = obj(f.target);
    const success = f.outcome === 'likely-success';
    return success && rule === 'ssrf-metadata' && target?.path_class !== undefined ? 'ssrf-success' : 'ssrf-attempt';
  }
  if (rule.startsWith('credential-exposure')) return 'credential-leak';
  if (rule === 'cloud-instance-role-reconnaissance') return 'cloud-recon';
  if (rule.startsWith('cloud-')) return 'cloud-use';
  if (obj(f.resource) && !obj(f.origin)?.event_ids) return 'posture';
  if (obj(f.process) || obj(f.destination)) return 'host-fetch';
  return 'other';
}

function timeMs(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

function hashesOf(f: Rec): string[] {
  const out = new Set<string>();
  const secret = obj(f.secret);
  const h = str(secret?.hash);
  if (h) out.add(h);
  const ev = obj(f.evidence);
  for (const s of Array.isArray(ev?.secrets) ? ev.secrets : []) {
    const sh = str(obj(s)?.hash);
    if (sh) out.add(sh);
  }
  for (const k of Array.isArray(ev?.access_key_hashes) ? ev.access_key_hashes : []) if (str(k)) out.add(k as string);
  return [...out];
}

function maskedKeysOf(f: Rec): string[] {
  const out = new Set<string>();
  const ev = obj(f.evidence);
  for (const s of Array.isArray(ev?.secrets) ? ev.secrets : []) {
    const o = obj(s);
    if (o?.kind === 'aws-access-key-id' && str(o.masked)) out.add(o.masked as string);
  }
  for (const k of Array.isArray(ev?.access_keys) ? ev.access_keys : []) if (str(k)) out.add(k as string);
  return [...out];
}

const clientIp = (f: Rec): string | undefined => str(obj(f.client)?.ip);

/**
 * One process: its pid names it only on one host and only while it lives, so the key holds the host, the sensor,
 * the pid, its start time (where the record has one) and its executable.
 */
function processKeyOf(host: string | undefined, sensor: string | undefined, proc: Rec): string {
  const start = proc.start_time ?? proc.starttime ?? proc.start;
  return [host ?? '', sensor ?? '', proc.pid ?? '', start ?? '', proc.exe ?? ''].map(String).join(' ');
}

function add(facts: Array<[string, string]>, name: string, v: unknown): void {
  if (v === undefined || v === null || v === '') return;
  facts.push([name, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
}

/**
 * A finding record (as any imdsguard command writes it) as a step; undefined for records that are not findings
 * (events, incidents). A record that claims to be a finding but lacks its id, rule or severity is an input error
 * naming the file and line it was read from.
 */
export function stepFromRecord(value: unknown, source: RecordSource, opts: StepOptions = {}): Step | undefined {
  const f = obj(value);
  if (!f) throw new InputSyntaxError('expected a JSON object (a finding record)', source);
  if (f.type !== 'finding') return undefined;
  const id = str(f.id);
  const rule = str(obj(f.rule)?.id);
  const severity = str(f.severity);
  if (!id || !rule || !severity || !isSeverity(severity))
    throw new InputSyntaxError('a finding record needs "id", "rule.id" and a valid "severity"', source);
  const kind = kindOf(rule, f);
  const origin = obj(f.origin) ?? {};
  const target = obj(f.target);
  const http = obj(f.http);
  const secret = obj(f.secret);
  const resource = obj(f.resource);
  const proc = obj(f.process);
  const ev = obj(f.evidence);
  const roles = new Set<string>();
  // Accounts the record names, strongest first: a role ARN's, the resource's, then the fleet envelope's.
  const accounts: string[] = [];
  const addRole = (written: string) => {
    const r = roleRef(written);
    roles.add(r.name);
    if (r.account) accounts.push(r.account);
  };
  const pathRole = roleAsWritten(roleInPath(str(target?.path) ?? str(http?.path)), str(target?.raw));
  if (pathRole && (kind === 'ssrf-success' || kind === 'ssrf-attempt' || kind === 'host-fetch')) addRole(pathRole);
  const owner = str(secret?.owner);
  if (owner) {
    const named = /^(?:role|service account) (.+)$/.exec(owner)?.[1];
    if (named) addRole(named);
    else if (owner.startsWith('arn:')) addRole(owner);
    const ownerAccount = /^account (\d{12})$/.exec(owner)?.[1];
    if (ownerAccount) accounts.push(ownerAccount);
  }
  const principal = str(f.principal);
  if (principal && (kind === 'cloud-use' || kind === 'cloud-recon')) addRole(principal);
  const resourceAccount = str(resource?.account);
  if (resourceAccount) accounts.push(resourceAccount);
  const fleetAccount = str(obj(f.fleet)?.account);
  if (fleetAccount) accounts.push(fleetAccount);
  const account = accounts[0];
  const host = hostOf(f);
  const file = str(origin.file);
  const fileKey = file !== undefined ? (opts.fileKey ?? lexicalFileKey)(file) : undefined;
  const line = num(origin.line);
  const hashes = hashesOf(f);
  const endTime = str(ev?.last_time);
  const endMs = timeMs(endTime);
  const t = str(f.time);
  const ms = timeMs(t);
  // A finding about a line of a file is that line, however the path was spelt; others are their id (made from
  // trail records or a process, no path in it), on their host.
  // One line of an inventory holds many instances (a compact JSON document is all line 1): a setting is also its
  // instance's, or the settings of a line would be one step and only one instance linked.
  const resourceId = str(resource?.id);
  const identity =
    fileKey !== undefined
      ? findingId(rule, [
          host,
          // The log's name, not its path: a path is spelt relative to where a command ran, so its directory is
          // no part of what the finding is about (the same log under two spellings, or read from elsewhere, is one).
          logName(fileKey),
          line,
          t,
          clientIp(f),
          str(target?.decoded),
          ...hashes,
          ...(resourceId !== undefined ? [`resource ${str(resource?.kind) ?? ''} ${resourceId}`] : []),
        ])
      : host !== undefined
        ? findingId(rule, [host, id])
        : id;
  const facts: Array<[string, string]> = [];
  const client = clientIp(f);
  switch (kind) {
    case 'ssrf-attempt':
    case 'ssrf-success':
      add(facts, 'client', client);
      add(facts, 'target', target?.decoded ?? target?.raw);
      if (target?.raw !== undefined && target.raw !== target.decoded) add(facts, 'as written', target.raw);
      if (Array.isArray(f.transforms) && f.transforms.length) add(facts, 'obfuscation', f.transforms.join(', '));
      add(facts, 'status', http?.status);
      add(facts, 'bytes', http?.bytes);
      add(facts, 'outcome', f.outcome_reason ? `${f.outcome}: ${f.outcome_reason}` : f.outcome);
      break;
    case 'credential-leak':
      add(facts, 'secret', secret ? `${secret.kind} ${secret.masked}` : undefined);
      add(facts, 'owner', owner);
      add(facts, 'expires', secret?.expires);
      break;
    case 'host-fetch':
      add(facts, 'process', proc ? `pid ${proc.pid} ${proc.exe ?? ''} (uid ${proc.uid ?? '?'})`.trim() : undefined);
      add(facts, 'request', http ? `${http.method ?? ''} ${http.path ?? ''}`.trim() : undefined);
      add(facts, 'imds version', f.imds_version);
      add(facts, 'decision', f.decision);
      break;
    case 'cloud-use':
    case 'cloud-recon':
      add(facts, 'principal', principal);
      add(facts, 'from', client);
      add(facts, 'calls', ev?.event_names ? Object.keys(obj(ev.event_names) ?? {}).join(', ') : undefined);
      add(facts, 'access keys', Array.isArray(ev?.access_keys) ? ev.access_keys.join(', ') : undefined);
      break;
    case 'posture':
    case 'other':
      break;
  }
  add(facts, 'resource', resource ? `${resource.kind} ${resource.id}` : undefined);
  const related: string[] = [];
  for (const r of Array.isArray(f.related) ? f.related : []) {
    const rid = str(obj(r)?.finding_id);
    if (rid) related.push(rid);
  }
  const sensor = str(origin.sensor);
  const version = f.imds_version === 1 || f.imds_version === 2 ? f.imds_version : undefined;
  const step: Step = {
    findingId: id,
    kind,
    rule,
    severity,
    confidence: num(f.confidence) ?? 0.5,
    title: str(f.title) ?? rule,
    ...(t ? { time: t } : {}),
    ...(ms !== undefined ? { timeMs: ms } : {}),
    ...(endTime && endMs !== undefined && ms !== undefined && endMs > ms ? { endTime, endMs } : {}),
    ...(str(f.provider) ? { provider: f.provider as string } : {}),
    origin: {
      ...(str(origin.file) ? { file: origin.file as string } : {}),
      ...(line !== undefined ? { line } : {}),
      ...(sensor ? { sensor } : {}),
      ...(Array.isArray(origin.event_ids) ? { event_ids: origin.event_ids.filter((x) => typeof x === 'string') } : {}),
    },
    source,
    readFrom: [(opts.sourceKey ?? lexicalFileKey)(source.file)],
    ...(host !== undefined ? { host } : {}),
    ...(fileKey !== undefined ? { fileKey } : {}),
    identity,
    ...(account !== undefined ? { account } : {}),
    ...(client ? { clientIp: client } : {}),
    roles: [...roles],
    ...(str(resource?.id) ? { instance: resource!.id as string } : {}),
    keyHashes: hashes,
    maskedKeys: maskedKeysOf(f),
    ...(str(target?.path_class) ? { pathClass: target!.path_class as string } : {}),
    relatedFindings: related,
    ...(proc ? { processKey: processKeyOf(host, sensor, proc) } : {}),
    ...(version ? { imdsVersion: version } : {}),
    ...(f.decision === 'deny' ? { denied: true as const } : {}),
    facts,
  };
  return step;
}
