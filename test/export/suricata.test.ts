/**
 * Exported Suricata rules checked against Suricata's rule grammar and documented keywords (Suricata is not
 * installable here): header (action, protocol, addresses, ports, direction), options (known keywords, quoting,
 * required msg/sid/rev, unique sids, valid classtypes), and every pcre compiled and run.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { exportSuricata } from '../../src/core/export/suricata.ts';

const ACTIONS = ['alert', 'pass', 'drop', 'reject', 'rejectsrc', 'rejectdst', 'rejectboth'];
const PROTOCOLS = ['tcp', 'udp', 'icmp', 'ip', 'http', 'http1', 'tls', 'dns'];
/** Keywords the rules use, from Suricata's rule keyword reference. */
const KEYWORDS = new Set([
  'msg',
  'flow',
  'http.uri',
  'http.host',
  'http.method',
  'http.header_names',
  'http.request_body',
  'content',
  'nocase',
  'startswith',
  'pcre',
  'classtype',
  'priority',
  'reference',
  'metadata',
  'sid',
  'rev',
]);
/** classification.config shipped with Suricata. */
const CLASSTYPES = new Set([
  'credential-theft',
  'policy-violation',
  'web-application-attack',
  'web-application-activity',
  'attempted-recon',
  'misc-attack',
  'trojan-activity',
]);

function checkAddress(a: string): boolean {
  if (a === 'any' || /^\$[A-Z_]+$/.test(a)) return true;
  if (a.startsWith('[') && a.endsWith(']'))
    return a
      .slice(1, -1)
      .split(',')
      .every((x) => checkAddress(x.trim()));
  return isIP(a.replace(/^!/, '')) !== 0;
}

/** Split options on `;` not preceded by a backslash. */
function options(body: string): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  let cur = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\' && i + 1 < body.length) {
      cur += ch + body[++i];
      continue;
    }
    if (ch === ';') {
      const t = cur.trim();
      if (t) {
        const at = t.indexOf(':');
        out.push(at < 0 ? [t, undefined] : [t.slice(0, at).trim(), t.slice(at + 1).trim()]);
      }
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) throw new Error(`option without a terminating ";": ${cur.trim()}`);
  return out;
}

/** A pcre option value as a JS RegExp: unescape what the option parser unescapes, then split /regex/flags. */
function pcreOf(v: string): RegExp {
  const m = /^"\/(.*)\/([ismxUGRBPQHDMCSYVIWO]*)"$/.exec(v);
  if (!m) throw new Error(`pcre value ${v.slice(0, 40)}`);
  const src = m[1]!.replace(/\\;/g, ';').replace(/\\"/g, '"');
  return new RegExp(src, m[2]!.includes('i') ? 'i' : '');
}

describe('Suricata export', () => {
  const file = exportSuricata({ version: 'test' }).files[0]!;
  const lines = file.content.split('\n').filter((l) => l.trim() && !l.startsWith('#'));

  test('the header says it was not loaded into Suricata and what it cannot express', () => {
    assert.match(file.content, /^# imdsguard .*\n# sids \d+-\d+.*\n# Not loaded into Suricata here/);
  });

  test('every rule has a valid header and only documented options, with msg, sid and rev', () => {
    const sids = new Set<string>();
    for (const l of lines) {
      const m = /^(\S+) (\S+) (\S+) (\S+) (->|<>) (\S+) (\S+) \((.*)\)$/.exec(l);
      assert.ok(m, l.slice(0, 120));
      assert.ok(ACTIONS.includes(m[1]!), m[1]);
      assert.ok(PROTOCOLS.includes(m[2]!), m[2]);
      assert.ok(checkAddress(m[3]!) && checkAddress(m[6]!), l.slice(0, 200));
      assert.ok(m[4] === 'any' && m[7] === 'any');
      const opts = options(m[8]!);
      for (const [k, v] of opts) {
        assert.ok(KEYWORDS.has(k), `unknown keyword ${k}`);
        if (k === 'msg' || k === 'content') assert.match(v ?? '', /^!?"[^"]*"$/);
        if (k === 'classtype') assert.ok(CLASSTYPES.has(v!), v);
        if (k === 'pcre') pcreOf(v!);
      }
      const sid = opts.find(([k]) => k === 'sid')?.[1];
      assert.ok(sid && /^\d+$/.test(sid) && Number(sid) >= 1_000_000 && Number(sid) < 2_000_000);
      assert.ok(!sids.has(sid), `duplicate sid ${sid}`);
      sids.add(sid);
      assert.ok(opts.some(([k]) => k === 'msg') && opts.some(([k]) => k === 'rev'));
    }
    assert.ok(lines.length >= 5);
  });

  test('the pcres match what they are for once Suricata has normalised the buffer', () => {
    const pcres = lines
      .map((l) => options(/\((.*)\)$/.exec(l)![1]!).find(([k]) => k === 'pcre')?.[1])
      .map((v) => (v ? pcreOf(v) : null));
    const [creds, , , host, uri] = pcres;
    assert.ok(creds?.test('/latest/meta-data/iam/security-credentials/role'));
    assert.ok(creds?.test('/computeMetadata/v1/instance/service-accounts/default/token'));
    assert.ok(!creds?.test('/index.html'));
    assert.ok(host?.test('metadata.google.internal'));
    assert.ok(!host?.test('metadata.google.com'));
    assert.ok(uri?.test('/fetch?url=http://0xa9fea9fe/latest/'));
    assert.ok(uri?.test('/fetch?url=http://[fd00:ec2::254]/'));
    assert.ok(!uri?.test('/fetch?url=https://example.com/'));
  });

  test('--id-base moves the sids', () => {
    const moved = exportSuricata({ version: 'test', idBase: 1_500_000 }).combined;
    assert.match(moved, /sid:1500000;/);
    assert.doesNotMatch(moved, /sid:1910000;/);
  });
});
