import { readFile } from 'node:fs/promises';
import { type InputProblem, readJsonRecords } from '../adapters/sources/json-record-files.ts';
import { AddressBook, AwsRanges } from '../core/correlate/cloud-address-book.ts';
import { InstanceCredentialCorrelator } from '../core/correlate/cloud-instance-credentials.ts';
import { ImdsguardError, InputSyntaxError } from '../core/errors.ts';
import type { Finding } from '../core/model/finding.ts';
import { toCloudCall, unwrapRecord } from '../core/parse/cloud-record.ts';
import {
  emptyFacts,
  INVENTORY_RECORD_KEYS,
  type InventoryFacts,
  type InventoryResource,
  readInventoryRecord,
} from '../core/posture/posture-inventory.ts';
import { secretSalt } from './secret-salt.ts';

export interface CloudtrailOptions {
  inputs: string[];
  inventory?: string[];
  awsIpRanges?: string;
  batch?: number;
  /** Called with each finding as soon as it is decided. */
  emit: (f: Finding) => void | Promise<void>;
  /** A record that is no cloud call (another kind of record among the audit records), with where it was read. */
  onOtherRecord?: (value: unknown, where: { file: string; line: number }) => void;
  /** A bad input, record or line: reported here, and the rest is read (without it, the first one throws). */
  onProblem?: (p: InputProblem) => void;
  /** Told which file is being read (for what was not read when the run is stopped). */
  onFile?: (index: number, files: readonly string[]) => void;
}

export interface CloudtrailStats {
  records: number;
  recognised: number;
  instanceRecords: number;
  serviceMade: number;
  unrecognised: number;
  findings: number;
  seconds: number;
}

/** Read a whole JSON document (inventory and ranges files are small), naming the file on error. */
export async function readJsonDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${path}": ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
    throw new InputSyntaxError(`Invalid JSON: ${(e as Error).message}`, { file: path, ...(line ? { line } : {}) });
  }
}

/**
 * Load inventory files into facts (the shapes are the cloud CLIs' own), streamed record by record so a fleet's
 * inventory never has to fit in one string. Only addresses and names are kept, not the raw records.
 */
export async function loadInventory(files: string[]): Promise<InventoryFacts> {
  const facts = emptyFacts();
  if (files.length === 0) return facts;
  for await (const rec of readJsonRecords(files, { keys: INVENTORY_RECORD_KEYS })) {
    const before = facts.resources.length;
    readInventoryRecord(rec.value, rec.key, rec.file, facts);
    for (let i = before; i < facts.resources.length; i++) (facts.resources[i] as InventoryResource).raw = {};
  }
  return facts;
}

/** The `cloudtrail` use case: stream audit records through the instance-credential correlator. */
export async function runCloudtrail(
  opts: CloudtrailOptions,
): Promise<CloudtrailStats & { unknownInventory: string[] }> {
  const started = process.hrtime.bigint();
  const facts = await loadInventory(opts.inventory ?? []);
  const book = opts.inventory && opts.inventory.length > 0 ? new AddressBook(facts) : undefined;
  let ranges: AwsRanges | undefined;
  if (opts.awsIpRanges) {
    const doc = await readJsonDocument(opts.awsIpRanges);
    try {
      ranges = new AwsRanges(doc);
    } catch (e) {
      throw new InputSyntaxError((e as Error).message, { file: opts.awsIpRanges });
    }
  }
  const corr = new InstanceCredentialCorrelator({
    ...(book ? { book } : {}),
    ...(ranges ? { ranges } : {}),
    ...(opts.batch ? { batch: opts.batch } : {}),
    keySalt: secretSalt(),
  });
  const stats = { records: 0, recognised: 0, unrecognised: 0, findings: 0 };
  for await (const rec of readJsonRecords(opts.inputs, {
    ...(opts.onProblem ? { onProblem: opts.onProblem } : {}),
    ...(opts.onFile ? { onFile: opts.onFile } : {}),
  })) {
    for (const r of unwrapRecord(rec.value)) {
      stats.records++;
      const call = toCloudCall(r, { file: rec.file, line: rec.line });
      if (!call) {
        stats.unrecognised++;
        opts.onOtherRecord?.(r, { file: rec.file, line: rec.line });
        continue;
      }
      stats.recognised++;
      for (const f of corr.observe(call)) {
        stats.findings++;
        const p = opts.emit(f);
        if (p) await p;
      }
    }
  }
  for (const f of corr.finish()) {
    stats.findings++;
    const p = opts.emit(f);
    if (p) await p;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    ...stats,
    instanceRecords: corr.stats.instanceRecords,
    serviceMade: corr.stats.serviceMade,
    seconds,
    unknownInventory: facts.unknown,
  };
}
