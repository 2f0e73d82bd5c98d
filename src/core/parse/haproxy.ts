import { clfTime, intOrUndef, splitRequestLine } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * HAProxy HTTP log format (`option httplog`), with or without the syslog prefix:
 * `client:port [accept_date] frontend backend/server Tq/Tw/Tc/Tr/Ta status bytes req_cookie resp_cookie
 * termination_state actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue {captured request headers}
 * {captured response headers} "request"`. Captured headers are `|`-separated in configuration order; which one is
 * Host is a local choice, so each is checked as a Host header and as text.
 */
const RE =
  /(?:^|: )(\S+):(\d+) \[(\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d+)?)\] (\S+) (\S+) (\S+) (-?\d+) ([+-]?\d+) (\S+) (\S+) (\S+) (\S+) (\S+)(?: \{([^}]*)\})?(?: \{([^}]*)\})? "(.*)"\s*$/;

export const haproxyFormat: LogFormat = {
  name: 'haproxy',
  sniff: (line) => RE.test(line),
  create(): LineParser {
    return {
      format: 'haproxy',
      parse(text, origin) {
        const m = RE.exec(text);
        if (!m) return NOMATCH;
        const req = splitRequestLine(m[16]!);
        const headers: Record<string, string> = {};
        const captured = m[14] ? m[14].split('|') : [];
        captured.forEach((v, i) => {
          if (v !== '') headers[`captured_${i + 1}`] = v;
        });
        return {
          kind: 'event',
          event: httpEvent({
            origin: { file: origin.file, line: origin.line, format: 'haproxy' },
            clientIp: m[1],
            time: clfTime(m[3]!),
            status: intOrUndef(m[7]),
            bytes: intOrUndef(m[8]?.replace(/^\+/, '')),
            method: req.method,
            target: req.target,
            ...(Object.keys(headers).length > 0 ? { headers } : {}),
          }),
        };
      },
    };
  },
};
