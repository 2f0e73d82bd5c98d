import { toCloudCall, unwrapRecord } from '../parse/cloud-record.ts';
import { AUDIT_RECORD_KEYS, JsonRecordSplitter, parseRecord } from '../parse/json-records.ts';
import { emptyFacts, INVENTORY_RECORD_KEYS, readInventoryRecord } from '../posture/posture-inventory.ts';

/**
 * What an input of `investigate` holds, decided by its content (never by its name):
 * - `findings`: records of imdsguard commands (findings, daemon events, incidents) as jsonl or json;
 * - `audit`: cloud audit records (CloudTrail, Cloud Audit Logs, Azure Activity Log), read as `cloudtrail` reads them;
 * - `inventory`: cloud inventory (describe-instances and the other shapes `posture` reads);
 * - `log`: anything else, web, proxy and application logs, read as `scan` reads them;
 * - `store`: an SQLite findings store (what the hub writes), read as `imdsguard findings` reads it;
 * - `empty`: nothing in it.
 */
export type InputKind = 'findings' | 'audit' | 'inventory' | 'log' | 'store' | 'empty';

/** The records a file's first bytes are cut into: trail and audit wrappers, and the inventory wrappers. */
const RECORD_KEYS: ReadonlySet<string> = new Set([...AUDIT_RECORD_KEYS, ...INVENTORY_RECORD_KEYS]);

/** How many of the first records are looked at: enough to outvote a stray line, few enough to stay cheap. */
const SAMPLE = 32;

const SQLITE_MAGIC = 'SQLite format 3\u0000';

const RECORD_TYPES = new Set(['finding', 'event', 'incident']);

type Voted = Exclude<InputKind, 'store' | 'empty'>;

/** What one parsed record is. */
export function recordKind(value: unknown, key: string | undefined, file: string): Voted {
  const list = Array.isArray(value) ? value : [value];
  const first = list[0];
  if (first && typeof first === 'object' && RECORD_TYPES.has((first as { type?: unknown }).type as string))
    return 'findings';
  try {
    if (list.some((v) => unwrapRecord(v).some((r) => toCloudCall(r) !== undefined))) return 'audit';
    const facts = readInventoryRecord(value, key, file, emptyFacts());
    if (
      facts.resources.length > 0 ||
      facts.natByVpc.size > 0 ||
      facts.eipByInstance.size > 0 ||
      facts.noTokenByInstance.size > 0
    )
      return 'inventory';
  } catch {
    // A record the recognisers refuse is no audit record or inventory: it is read as a log line.
  }
  return 'log';
}

/** A wrapper key opening the document, for a first record too long for the bytes looked at. */
function wrapperKind(text: string): Voted | undefined {
  const m = /^\s*\{\s*"([A-Za-z]+)"\s*:\s*\[/.exec(text);
  if (!m) return undefined;
  if (AUDIT_RECORD_KEYS.has(m[1]!)) return 'audit';
  if (INVENTORY_RECORD_KEYS.has(m[1]!)) return 'inventory';
  return undefined;
}

/** The first record's own `type`, for a record too long to see whole: the sinks write `type` first. */
const TYPE_FIRST = /^\s*\[?\s*\{\s*"type"\s*:\s*"(finding|event|incident)"/;

/**
 * Decide what an input holds from its first bytes (gunzipped). `whole` says the bytes are the whole input (so a last
 * record without a newline counts). A JSON input is what most of its first records are; text that is not JSON is a
 * log. Undefined when the bytes hold no whole record and neither the record's `type` nor the document's wrapper key
 * says what it is: the caller looks at more of the input (a first record has no size limit but the readers' own).
 */
export function inputKindOf(head: Uint8Array, file: string, whole: boolean): InputKind | undefined {
  if (head.length === 0) return 'empty';
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.subarray(0, SQLITE_MAGIC.length).toString('latin1') === SQLITE_MAGIC) return 'store';
  const text = buf.toString('utf8', 0, Math.min(buf.length, 4096)).trimStart();
  if (text === '') return 'empty';
  if (text[0] !== '{' && text[0] !== '[') return 'log';
  const splitter = new JsonRecordSplitter(file, RECORD_KEYS, { recover: true });
  const records = splitter.push(buf);
  if (whole) records.push(...splitter.end());
  const votes: Record<Voted, number> = { findings: 0, audit: 0, inventory: 0, log: 0 };
  let seen = 0;
  for (const rec of records) {
    if (seen >= SAMPLE) break;
    let value: unknown;
    try {
      value = parseRecord(rec, file);
    } catch {
      continue;
    }
    seen++;
    votes[recordKind(value, rec.key, file)]++;
  }
  if (seen === 0) {
    if (TYPE_FIRST.test(text)) return 'findings';
    return wrapperKind(text) ?? (whole ? 'log' : undefined);
  }
  // Ties go to the more specific reading: a findings file with a few log lines in it is still findings.
  const order: Voted[] = ['findings', 'audit', 'inventory', 'log'];
  return order.reduce((best, k) => (votes[k] > votes[best] ? k : best), order[0]!);
}
