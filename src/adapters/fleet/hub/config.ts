/**
 * The hub's configuration file (YAML). Secrets are never in it: each secret field names the environment variable
 * that holds it (`token_env`, `password_env`, …), so the file can be kept in configuration management and shown.
 * Every error names the file, line and column.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseYamlConfig } from '../../../core/config/yaml-config.ts';
import { ImdsguardError, InputSyntaxError } from '../../../core/errors.ts';
import { FINDINGS_SUBJECTS, SCAN_JOBS_SUBJECT } from '../../../core/fleet/contract.ts';
import { type CorrelatorOptions, DEFAULT_CORRELATOR_OPTIONS } from '../../../core/fleet/correlate.ts';
import { subjectsOverlap } from '../../../core/fleet/subjects.ts';
import { checkCaBundle, type NatsClientOptions } from '../nats-connection.ts';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const tls = z
  .object({ ca_file: z.string().optional(), insecure: z.boolean().default(false), servername: z.string().optional() })
  .strict();
const payload = z.enum(['finding', 'ocsf']).default('finding');
const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-" (it names the consumer)');
const timeout = z.number().int().min(100).max(600_000).default(10_000);

const sinkSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('splunk-hec'),
      name,
      url: z.url(),
      token_env: envName,
      index: z.string().optional(),
      sourcetype: z.string().optional(),
      payload,
      tls: tls.optional(),
      timeout_ms: timeout,
    })
    .strict(),
  z
    .object({
      type: z.literal('elasticsearch'),
      name,
      url: z.url(),
      index: z.string().min(1).default('imdsguard-findings'),
      payload,
      api_key_env: envName.optional(),
      username: z.string().optional(),
      password_env: envName.optional(),
      tls: tls.optional(),
      timeout_ms: timeout,
    })
    .strict(),
  z
    .object({
      type: z.literal('syslog'),
      name,
      host: z.string().min(1),
      port: z.number().int().min(1).max(65_535),
      format: z.enum(['rfc5424', 'cef']).default('rfc5424'),
      facility: z.number().int().min(0).max(23).default(16),
      tls: tls.optional(),
      timeout_ms: timeout,
    })
    .strict(),
  z
    .object({
      type: z.literal('webhook'),
      name,
      url: z.url(),
      secret_env: envName,
      payload,
      tls: tls.optional(),
      timeout_ms: timeout,
    })
    .strict(),
  z
    .object({
      type: z.literal('postgres'),
      name,
      url_env: envName,
      table: z.string().default('imdsguard_findings'),
      timeout_ms: timeout,
    })
    .strict(),
  z
    .object({
      type: z.literal('findings-store'),
      name,
      path: z.string().min(1),
    })
    .strict(),
]);

const schema = z
  .object({
    nats: z
      .object({
        servers: z
          .array(z.string().regex(/^(?:nats|tls):\/\/[^/@\s]+$/, 'nats://HOST:PORT or tls://HOST:PORT, without a user'))
          .min(1)
          .default(['nats://127.0.0.1:4222']),
        creds_file: z.string().optional(),
        user: z.string().optional(),
        password_env: envName.optional(),
        ca_file: z.string().optional(),
      })
      .strict()
      .prefault({}),
    hub: z
      .object({
        host_id: z.string().min(1).optional(),
        batch: z.number().int().min(1).max(10_000).default(200),
        max_deliver: z.number().int().min(1).max(1_000).default(10),
        backoff_ms: z.array(z.number().int().min(0).max(3_600_000)).min(1).default([500, 2_000, 10_000, 30_000]),
        dead_letter: z
          .string()
          .regex(/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/, 'a subject prefix: dot-separated tokens, no wildcards')
          .nullable()
          .default('imds.v1.hub.dead'),
        ack_wait_ms: z.number().int().min(1_000).max(3_600_000).default(30_000),
        max_ack_pending: z.number().int().min(1).max(1_000_000).default(5_000),
        stream_max_age_hours: z.number().min(1).max(87_600).default(168),
      })
      .strict()
      .prefault({}),
    correlator: z
      .object({
        enabled: z.boolean().default(true),
        state: z.string().default('/var/lib/imdsguard/hub-correlator.sqlite'),
        publish: z.boolean().default(true),
        rule_hosts: z.number().int().min(2).default(DEFAULT_CORRELATOR_OPTIONS.ruleHosts),
        rule_window_minutes: z
          .number()
          .min(0.01)
          .default(DEFAULT_CORRELATOR_OPTIONS.ruleWindowMs / 60_000),
        common_caller_hosts: z.number().int().min(2).default(DEFAULT_CORRELATOR_OPTIONS.commonCallerHosts),
        min_fleet_hosts: z.number().int().min(2).default(DEFAULT_CORRELATOR_OPTIONS.minFleetHosts),
        credential_window_hours: z
          .number()
          .min(0.01)
          .default(DEFAULT_CORRELATOR_OPTIONS.credentialWindowMs / 3_600_000),
      })
      .strict()
      .prefault({}),
    sinks: z.array(sinkSchema).default([]),
  })
  .strict();

export type SinkConfig = z.infer<typeof sinkSchema>;
export type HubFileConfig = z.infer<typeof schema>;

export interface HubConfig {
  file: string;
  raw: HubFileConfig;
  bus: NatsClientOptions;
  hostId: string;
  correlator: CorrelatorOptions;
}

export function parseHubConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const { value: raw, at } = parseYamlConfig(text, file, schema, 'hub config');
  const dead = raw.hub.dead_letter;
  // Dead letters published where the hub (or a scan worker) reads would come back to the reader that gave up on
  // them, and go round for ever.
  const consumed = [FINDINGS_SUBJECTS, SCAN_JOBS_SUBJECT].find((s) => dead !== null && subjectsOverlap(`${dead}.>`, s));
  if (consumed)
    throw new InputSyntaxError(
      `hub.dead_letter "${dead}" overlaps ${consumed}, which the fleet consumes: dead letters would be read again`,
      { file, ...at(['hub', 'dead_letter']) },
    );
  const names = new Set<string>(['correlator']);
  raw.sinks.forEach((s, i) => {
    if (names.has(s.name))
      throw new InputSyntaxError(`Sink name "${s.name}" is used twice (or is reserved)`, {
        file,
        ...at(['sinks', i, 'name']),
      });
    names.add(s.name);
    // A CA file that is no PEM bundle is taken by Node's TLS and fails only at each handshake: the sink would retry
    // for ever. Checked here, where the key's line is known, the same way as the NATS connection's CA.
    const ca = 'tls' in s ? s.tls?.ca_file : undefined;
    if (ca !== undefined) {
      try {
        checkCaBundle(readFileSync(ca, 'utf8'), ca);
      } catch (e) {
        const why = e instanceof ImdsguardError ? e.message : `Cannot read the TLS CA "${ca}": ${(e as Error).message}`;
        throw new InputSyntaxError(`Sink "${s.name}": ${why}`, { file, ...at(['sinks', i, 'tls', 'ca_file']) });
      }
    }
    for (const k of ['token_env', 'secret_env', 'url_env', 'api_key_env', 'password_env'] as const) {
      const v = (s as Record<string, unknown>)[k];
      if (typeof v === 'string' && !env[v])
        throw new InputSyntaxError(`Sink "${s.name}": environment variable ${v} (${k}) is not set`, {
          file,
          ...at(['sinks', i, k]),
        });
    }
  });
  const secret = (v: string | undefined) => (v ? env[v] : undefined);
  const n = raw.nats;
  if (n.password_env && !env[n.password_env])
    throw new InputSyntaxError(`nats: environment variable ${n.password_env} (password_env) is not set`, {
      file,
      ...at(['nats', 'password_env']),
    });
  const c = raw.correlator;
  const password = secret(n.password_env);
  return {
    file,
    raw,
    bus: {
      servers: n.servers,
      ...(n.creds_file ? { credsFile: n.creds_file } : {}),
      ...(n.user ? { user: n.user } : {}),
      ...(password ? { password } : {}),
      ...(n.ca_file ? { tlsCaFile: n.ca_file } : {}),
    },
    hostId: raw.hub.host_id ?? hostname(),
    correlator: {
      ...DEFAULT_CORRELATOR_OPTIONS,
      ruleHosts: c.rule_hosts,
      ruleWindowMs: c.rule_window_minutes * 60_000,
      commonCallerHosts: c.common_caller_hosts,
      minFleetHosts: c.min_fleet_hosts,
      credentialWindowMs: c.credential_window_hours * 3_600_000,
    },
  };
}

export function loadHubConfig(file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ImdsguardError('E_CONFIG', `Cannot read hub config "${file}": ${(e as Error).message}`, { cause: e });
  }
  return parseHubConfig(text, file, env);
}
