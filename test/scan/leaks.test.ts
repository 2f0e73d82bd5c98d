import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LogFormatName } from '../../src/core/parse/types.ts';
import { scanFiles } from './helpers.ts';

const DIR = 'test/fixtures/leaks';

interface Expect {
  format: string;
  leaks: Array<{ line: number; kinds: string[]; owner?: string; causedBy?: number }>;
  values: string[];
}

const names = readdirSync(DIR)
  .filter((n) => n.endsWith('.log'))
  .map((n) => n.slice(0, -4));

describe('scan: credential-exposure findings next to SSRF findings', () => {
  for (const name of names) {
    const exp = JSON.parse(readFileSync(join(DIR, `${name}.expect.json`), 'utf8')) as Expect;
    for (const logFormat of ['auto', exp.format] as LogFormatName[]) {
      it(`${name} with --log-format ${logFormat}: one leak finding per line holding a secret, none unmasked`, async () => {
        const file = join(DIR, `${name}.log`);
        const r = await scanFiles([file], { logFormat });
        const leaks = r.findings.filter((f) => f.rule.id.startsWith('credential-exposure'));
        assert.deepEqual(
          leaks.map((f) => f.origin.line).sort((a, b) => a! - b!),
          exp.leaks.map((l) => l.line),
        );
        for (const f of leaks) {
          const e = exp.leaks.find((l) => l.line === f.origin.line)!;
          assert.equal(f.origin.file, file);
          assert.ok(JSON.stringify(f).includes('credential-exposure'));
          if (e.causedBy !== undefined) {
            assert.deepEqual(
              f.related?.map((x) => [x.file, x.line]),
              [[file, e.causedBy]],
              `leak on line ${e.line} names its SSRF`,
            );
            const ssrf = r.findings.find((x) => x.origin.line === e.causedBy && x.rule.id === 'ssrf-metadata');
            assert.ok(ssrf, `the SSRF on line ${e.causedBy} is reported`);
            assert.equal(f.related![0]!.finding_id, ssrf.id);
          } else assert.equal(f.related, undefined, `line ${e.line} has no cause`);
        }
        const all = JSON.stringify(r.findings);
        for (const v of exp.values) assert.ok(!all.includes(v), `a finding holds ${v.slice(0, 8)}…`);
      });
    }
  }

  it('live credentials are critical; a bare key id is not', async () => {
    const r = await scanFiles([join(DIR, 'app-text.log')]);
    const leaks = r.findings.filter((f) => f.rule.id.startsWith('credential-exposure'));
    for (const f of leaks) {
      const kinds = ((f.evidence?.secrets ?? []) as Array<{ kind: string; live: boolean }>).map((s) => s.kind);
      if (kinds.includes('aws-secret-access-key') || kinds.includes('aws-session-token'))
        assert.equal(f.severity, 'critical');
      if (kinds.length === 1 && kinds[0] === 'aws-access-key-id') assert.equal(f.severity, 'medium');
    }
    assert.ok(
      leaks.some((f) => f.severity === 'medium'),
      'the util.inspect key id line',
    );
  });
});
