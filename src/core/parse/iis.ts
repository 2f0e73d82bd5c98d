import type { LineParser, LogFormat } from './types.ts';
import { W3cState, w3cParse } from './w3c.ts';

/**
 * IIS W3C logs: space-separated, `#Software: Microsoft Internet Information Services`, `#Fields:` repeated mid-file
 * whenever the logged fields change. IIS writes spaces inside the user agent and referer as `+`.
 */
const IIS_DEFAULT =
  'date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken'.split(
    ' ',
  );

export const iisFormat: LogFormat = {
  name: 'iis',
  sniff: (line) =>
    /^#Software: Microsoft Internet Information Services/i.test(line) ||
    (/^#Fields:/i.test(line) && /cs-uri-stem/.test(line) && !/x-edge-location/.test(line)),
  create(): LineParser {
    const state = new W3cState(' ', IIS_DEFAULT);
    return {
      format: 'iis',
      parse: (text, origin) =>
        w3cParse(state, text, origin, { format: 'iis' }, (r) => Boolean(r.date && /^\d{4}-\d{2}-\d{2}$/.test(r.date))),
    };
  },
};
