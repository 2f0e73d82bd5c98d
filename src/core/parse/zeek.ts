import type { HttpEvent } from '../model/event.ts';
import { epochTime, intOrUndef, parseJsonObject, str } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, META, NOMATCH, type ParseResult } from './types.ts';

/**
 * Zeek http.log, TSV or JSON. TSV files start with `#separator \x09`, `#set_separator`, `#empty_field`,
 * `#unset_field`, `#path`, `#open`, `#fields`, `#types` and end with `#close`; `-` is unset and `(empty)` empty.
 * Zeek escapes non-printable bytes as `\xHH`, which the classifier undoes.
 */
const DEFAULT_FIELDS =
  'ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer version user_agent origin request_body_len response_body_len status_code status_msg info_code info_msg tags username password proxied orig_fuids orig_filenames orig_mime_types resp_fuids resp_filenames resp_mime_types'.split(
    ' ',
  );

function toEvent(get: (k: string) => unknown, origin: { file: string; line: number }): HttpEvent {
  const headers: Record<string, string> = {};
  const proxied = str(get('proxied'));
  if (proxied) headers.proxied = proxied;
  const originHdr = str(get('origin'));
  if (originHdr) headers.origin = originHdr;
  return httpEvent({
    origin: { file: origin.file, line: origin.line, format: 'zeek' },
    time: epochTime(get('ts')),
    clientIp: str(get('id.orig_h')),
    method: str(get('method')),
    target: str(get('uri')),
    host: str(get('host')),
    referer: str(get('referrer')),
    userAgent: str(get('user_agent')),
    status: intOrUndef(get('status_code') as number | string | undefined),
    bytes: intOrUndef(get('response_body_len') as number | string | undefined),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  });
}

export const zeekFormat: LogFormat = {
  name: 'zeek',
  sniff: (line) =>
    line.startsWith('#separator') ||
    (line.startsWith('#fields') && line.includes('uri')) ||
    (line.includes('"id.orig_h"') && line.includes('"uri"')),
  create(): LineParser {
    let sep = '\t';
    let fields = DEFAULT_FIELDS;
    let unset = '-';
    let empty = '(empty)';
    return {
      format: 'zeek',
      parse(text, origin): ParseResult {
        if (text.startsWith('#')) {
          const sp = text.indexOf(text.startsWith('#separator') ? ' ' : sep);
          const key = text.slice(1, sp < 0 ? undefined : sp);
          const value = sp < 0 ? '' : text.slice(sp + 1);
          if (key === 'separator')
            sep = value.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
          else if (key === 'fields') fields = value.split(sep);
          else if (key === 'unset_field') unset = value;
          else if (key === 'empty_field') empty = value;
          return META;
        }
        if (text.startsWith('{')) {
          const o = parseJsonObject(text);
          if (!o || !('uri' in o || 'id.orig_h' in o)) return NOMATCH;
          return { kind: 'event', event: toEvent((k) => o[k], origin) };
        }
        const values = text.split(sep);
        if (values.length !== fields.length) return NOMATCH;
        const rec = new Map<string, string>();
        for (let i = 0; i < fields.length; i++) {
          const v = values[i]!;
          if (v !== unset && v !== empty) rec.set(fields[i]!, v);
        }
        if (!/^\d+(?:\.\d+)?$/.test(rec.get('ts') ?? '')) return NOMATCH;
        return { kind: 'event', event: toEvent((k) => rec.get(k), origin) };
      },
    };
  },
};
