import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOG_FORMATS } from '../src/core/parse/types.ts';
import { leakFinding } from '../src/core/rules/credential-exposure.ts';
import { LeakTracker, type LineLeak } from '../src/core/secrets/tracker.ts';

const DIR = 'test/fixtures/leaks';

interface Expect {
  format: string;
  leaks: Array<{ line: number; kinds: string[]; owner?: string; expires?: boolean; causedBy?: number }>;
  values: string[];
}

function fixtures(): string[] {
  return readdirSync(DIR)
    .filter((n) => n.endsWith('.log'))
    .map((n) => n.slice(0, -4));
}

function run(name: string): Array<LineLeak<{ file: string }>> {
  const text = readFileSync(join(DIR, `${name}.log`), 'utf8');
  const t = new LeakTracker<{ file: string }>({ salt: 'test-salt' });
  const out: Array<LineLeak<{ file: string }>> = [];
  for (const line of text.split('\n').slice(0, -1)) out.push(...t.push(line, { file: name }));
  out.push(...t.flush());
  return out;
}

test('fixtures: one per log format plus plain-text app logs and negatives', () => {
  const names = fixtures();
  // Every format scan reads, less `auto`, `text` (the app-text fixture) and the nginx/apache aliases of combined.
  for (const f of LOG_FORMATS.filter((x) => !['auto', 'text', 'nginx', 'apache'].includes(x))) {
    assert.ok(names.includes(`access-${f}`), `missing fixture for ${f}`);
  }
  assert.ok(names.includes('app-text') && names.includes('negatives'));
});

for (const name of fixtures()) {
  test(`LeakTracker on ${name}: exactly the lines that hold a secret, with their kinds, owner and expiry`, () => {
    const exp = JSON.parse(readFileSync(join(DIR, `${name}.expect.json`), 'utf8')) as Expect;
    const got = run(name);
    assert.deepEqual(
      got.map((l) => l.line),
      exp.leaks.map((l) => l.line),
      'lines with secrets',
    );
    for (const [i, e] of exp.leaks.entries()) {
      const g = got[i]!;
      assert.deepEqual(
        [...new Set(g.secrets.map((s) => s.kind))].sort(),
        [...e.kinds].sort(),
        `kinds on line ${e.line}`,
      );
      if (e.owner) assert.ok(g.owner?.includes(e.owner), `owner on line ${e.line}: got ${g.owner}, want ${e.owner}`);
      if (e.expires)
        assert.match(
          g.expires ?? String(g.expiresInSeconds ?? ''),
          /^\d{4}-\d\d-\d\dT|^\d+$/,
          `expiry on line ${e.line}`,
        );
      const f = leakFinding({ ...g, meta: { file: `${name}.log` } });
      assert.ok(f.rule.id.startsWith('credential-exposure'));
      assert.equal(f.origin.line, e.line);
      const json = JSON.stringify(f);
      for (const v of exp.values) assert.ok(!json.includes(v), `finding for line ${e.line} holds a secret value`);
      assert.match(f.secret!.masked, /^[A-Za-z0-9._-]{0,4}\*\*\*\*[A-Za-z0-9._-]{0,4}$/);
      assert.match(f.secret!.hash, /^hmac-sha256:[0-9a-f]{24}$/);
    }
  });
}

test('the same secret in different encodings gets the same hash', () => {
  const got = run('app-text');
  const byKind = (k: string) => new Set(got.flatMap((l) => l.secrets.filter((s) => s.kind === k).map((s) => s.hash)));
  // The app log shows the IMDS role credentials raw, JSON-in-JSON, URL-encoded once and twice, repr, inspect, pretty.
  const ids = byKind('aws-access-key-id');
  // Four distinct AWS key ids appear in the file (IMDS role, ECS, EKS, long-term).
  assert.equal(ids.size, 4);
});
