/**
 * Syslog over TCP (TLS optional), RFC 5424 with RFC 6587 octet-counting framing (`LEN SP MSG`), which survives
 * newlines inside a message. The message is the finding as JSON, or a CEF line (ArcSight, QRadar, Sentinel's CEF
 * connector). Syslog has no application acknowledgement: a batch counts as delivered once the kernel took it; a
 * broken connection retries the batch on a new one.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { FleetEnvelope } from '../../../../core/fleet/contract.ts';
import type { Severity } from '../../../../core/model/severity.ts';
import { maskRecord } from '../../../../core/secrets/masker.ts';
import { VERSION } from '../../../version.ts';
import { eventMs, findingDocument } from '../documents.ts';
import { type Delivery, type DeliveryResult, type HubSink, OK } from '../sink.ts';

export interface SyslogConfig {
  name: string;
  host: string;
  port: number;
  format: 'rfc5424' | 'cef';
  /** Syslog facility number (default 16, local0). */
  facility: number;
  tls?: { ca?: Buffer; insecure?: boolean; servername?: string };
  timeoutMs: number;
}

const SYSLOG_SEVERITY: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };
const CEF_SEVERITY: Record<Severity, number> = { critical: 10, high: 8, medium: 5, low: 3, info: 1 };
/** Private enterprise number used in the structured-data id (reserved for examples by IANA; a documented choice). */
const SD_ID = 'imdsguard@32473';

/** RFC 5424 header fields: printable US-ASCII without spaces, bounded. */
function headerField(v: string | undefined, max: number): string {
  const s = (v ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return s === '' ? '-' : s;
}

function sdValue(v: string): string {
  return v.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

function cefHeader(v: string): string {
  return v.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

function cefExt(v: string): string {
  return v.replace(/[\\=]/g, (c) => `\\${c}`).replace(/\r?\n/g, '\\n');
}

export function cefLine(e: FleetEnvelope, nowMs: number): string {
  const f = maskRecord(e.finding);
  const ext: Array<[string, string | number | undefined]> = [
    ['rt', eventMs(e, nowMs)],
    ['dvchost', e.host.name ?? e.host.id],
    ['msg', f.title],
    ['cat', e.source],
    ['src', f.client?.ip],
    ['dst', f.destination?.ip],
    ['dpt', f.destination?.port],
    ['suser', f.principal ?? f.process?.user],
    ['sproc', f.process?.exe],
    ['spid', f.process?.pid],
    ['request', f.target?.decoded],
    ['fname', f.origin.file],
    ['cs1Label', 'findingId'],
    ['cs1', f.id],
    ['cs2Label', 'cloudAccount'],
    ['cs2', e.account],
    ['cs3Label', 'cloudRegion'],
    ['cs3', e.region],
    ['cs4Label', 'hostId'],
    ['cs4', e.host.id],
    ['cs5Label', 'attack'],
    ['cs5', f.attack.join(',')],
  ];
  const extText = ext
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${cefExt(String(v))}`)
    .join(' ');
  return `CEF:0|imdsguard|imdsguard|${cefHeader(VERSION)}|${cefHeader(f.rule.id)}|${cefHeader(f.title)}|${CEF_SEVERITY[f.severity]}|${extText}`;
}

export function syslogMessage(c: Pick<SyslogConfig, 'format' | 'facility'>, e: FleetEnvelope, nowMs: number): string {
  const f = e.finding;
  const pri = c.facility * 8 + SYSLOG_SEVERITY[f.severity];
  const ts = new Date(eventMs(e, nowMs)).toISOString();
  const sd =
    `[${SD_ID} id="${sdValue(f.id)}" rule="${sdValue(f.rule.id)}" severity="${f.severity}" ` +
    `host_id="${sdValue(e.host.id)}" account="${sdValue(e.account)}" region="${sdValue(e.region)}" source="${sdValue(e.source)}"]`;
  const msg = c.format === 'cef' ? cefLine(e, nowMs) : JSON.stringify(findingDocument(e));
  return `<${pri}>1 ${ts} ${headerField(e.host.name ?? e.host.id, 255)} imdsguard - ${headerField(f.rule.id, 32)} ${sd} ${msg}`;
}

/** RFC 6587 octet counting: the length in bytes, a space, the message. */
export function octetFrame(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}

export function syslogSink(c: SyslogConfig, nowMs: () => number = Date.now): HubSink {
  let sock: Socket | undefined;
  let broken: Error | undefined;

  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = c.tls
        ? tlsConnect({
            host: c.host,
            port: c.port,
            ...(c.tls.ca ? { ca: c.tls.ca } : {}),
            rejectUnauthorized: !c.tls.insecure,
            servername: c.tls.servername ?? c.host,
          })
        : netConnect({ host: c.host, port: c.port });
      const fail = (e: Error) => {
        s.destroy();
        reject(e);
      };
      s.setTimeout(c.timeoutMs, () => fail(new Error(`no connection to ${c.host}:${c.port} within ${c.timeoutMs} ms`)));
      s.once('error', fail);
      s.once(c.tls ? 'secureConnect' : 'connect', () => {
        s.setTimeout(0);
        s.off('error', fail);
        broken = undefined;
        s.on('error', (e) => {
          broken = e;
        });
        s.on('close', () => {
          broken ??= new Error('connection closed');
        });
        // The receiver never writes; reading keeps the close visible.
        s.resume();
        resolve(s);
      });
    });

  return {
    name: c.name,
    type: `syslog-${c.format}`,
    async deliver(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
      if (!sock || broken || sock.destroyed) {
        sock?.destroy();
        sock = undefined;
        sock = await open();
      }
      const now = nowMs();
      const text = batch.map((d) => octetFrame(syslogMessage(c, d.envelope, now))).join('');
      const s = sock;
      await new Promise<void>((resolve, reject) => {
        s.write(text, (e) => (e ? reject(e) : resolve()));
      });
      if (broken) throw broken;
      return batch.map(() => OK);
    },
    async close() {
      const s = sock;
      sock = undefined;
      if (s) await new Promise<void>((resolve) => s.end(() => resolve()));
    },
  };
}
