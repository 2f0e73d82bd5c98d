/** A sink from its config entry, with its secrets read from the environment and CA files read from disk. */
import { readFileSync } from 'node:fs';
import { ImdsguardError } from '../../../core/errors.ts';
import type { SinkConfig } from './config.ts';
import type { HubSink } from './sink.ts';
import { elasticsearchSink } from './sinks/elasticsearch.ts';
import { findingsStoreSink } from './sinks/findings-store.ts';
import { postgresSink } from './sinks/postgres.ts';
import { splunkHecSink } from './sinks/splunk-hec.ts';
import { syslogSink } from './sinks/syslog.ts';
import { webhookSink } from './sinks/webhook.ts';

function readCa(sink: string, file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ImdsguardError('E_CONFIG', `Sink "${sink}": cannot read CA file "${file}": ${(e as Error).message}`);
  }
}

/** The TLS options of an HTTPS sink (HEC, `_bulk`, webhook): a CA read from its file, and the opt-out of checks. */
function httpsOptions(s: Extract<SinkConfig, { type: 'splunk-hec' | 'elasticsearch' | 'webhook' }>) {
  const ca = readCa(s.name, s.tls?.ca_file);
  return { ...(ca ? { ca } : {}), ...(s.tls?.insecure ? { insecure: true as const } : {}) };
}

export async function openHubSink(s: SinkConfig, env: NodeJS.ProcessEnv = process.env): Promise<HubSink> {
  const need = (v: string): string => {
    const x = env[v];
    if (!x) throw new ImdsguardError('E_CONFIG', `Sink "${s.name}": environment variable ${v} is not set`);
    return x;
  };
  switch (s.type) {
    case 'splunk-hec':
      return splunkHecSink({
        name: s.name,
        url: s.url,
        token: need(s.token_env),
        payload: s.payload,
        timeoutMs: s.timeout_ms,
        ...(s.index ? { index: s.index } : {}),
        ...(s.sourcetype ? { sourcetype: s.sourcetype } : {}),
        ...httpsOptions(s),
      });
    case 'elasticsearch':
      return elasticsearchSink({
        name: s.name,
        url: s.url,
        index: s.index,
        payload: s.payload,
        timeoutMs: s.timeout_ms,
        ...(s.api_key_env ? { apiKey: need(s.api_key_env) } : {}),
        ...(s.username ? { username: s.username } : {}),
        ...(s.password_env ? { password: need(s.password_env) } : {}),
        ...httpsOptions(s),
      });
    case 'syslog': {
      const ca = readCa(s.name, s.tls?.ca_file);
      return syslogSink({
        name: s.name,
        host: s.host,
        port: s.port,
        format: s.format,
        facility: s.facility,
        timeoutMs: s.timeout_ms,
        ...(s.tls
          ? {
              tls: {
                ...(ca ? { ca } : {}),
                insecure: s.tls.insecure,
                ...(s.tls.servername ? { servername: s.tls.servername } : {}),
              },
            }
          : {}),
      });
    }
    case 'webhook':
      return webhookSink({
        name: s.name,
        url: s.url,
        secret: need(s.secret_env),
        payload: s.payload,
        timeoutMs: s.timeout_ms,
        ...httpsOptions(s),
      });
    case 'postgres':
      return postgresSink({
        name: s.name,
        connectionString: need(s.url_env),
        table: s.table,
        timeoutMs: s.timeout_ms,
      });
    case 'findings-store':
      return findingsStoreSink({ name: s.name, path: s.path });
  }
}
