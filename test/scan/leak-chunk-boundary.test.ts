import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Finding } from '../../src/core/model/finding.ts';
import { scanFiles } from './helpers.ts';

// The credential rule skips chunks without secret markers; context just before a secret (whose credentials these
// are) may sit in such a chunk. These tests cut the input exactly there and expect the same finding as uncut.
const filler = Array.from(
  { length: 300 },
  (_, i) => `2026-11-23T05:09:${String(i % 60).padStart(2, '0')}Z INFO  tick ${i}`,
);
const hint =
  '2026-11-23T05:10:01Z DEBUG fetching credentials from http://169.254.169.254/latest/meta-data/iam/security-credentials/fake-web-role';
const leak =
  '2026-11-23T05:10:01Z DEBUG raw response: {"Code":"Success","LastUpdated":"2026-11-23T05:10:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAFAKEJS72V5QHUYPA","SecretAccessKey":"Fakeip+a1ipj0VFyPFN245Tlfe4amx9B5t/DKZ0x","Expiration":"2026-11-23T11:10:00Z"}';
const after = Array.from({ length: 20 }, (_, i) => `2026-11-23T05:11:${String(i).padStart(2, '0')}Z INFO  after ${i}`);

async function* pieces(parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

async function leakFindings(parts: string[]): Promise<Finding[]> {
  const r = await scanFiles([], { stdin: pieces(parts), logFormat: 'text' });
  return r.findings.filter((f) => f.rule.id.startsWith('credential-exposure'));
}

const ownerOf = (f: Finding) => f.secret?.owner;

describe('scan: credential context across read chunks', () => {
  it('keeps the owner named on the line before a secret in the previous chunk', async () => {
    const whole = await leakFindings([`${[...filler, hint, leak, ...after].join('\n')}\n`]);
    assert.equal(whole.length, 1);
    assert.equal(ownerOf(whole[0]!), 'role fake-web-role');

    const cut = await leakFindings([`${[...filler, hint].join('\n')}\n`, `${[leak, ...after].join('\n')}\n`]);
    assert.equal(cut.length, 1);
    assert.equal(cut[0]!.origin.line, filler.length + 2);
    assert.equal(ownerOf(cut[0]!), 'role fake-web-role', 'context from the chunk before');
  });

  it('keeps context that lies several small chunks back', async () => {
    const parts = [`${filler.join('\n')}\n`, `${hint}\n`, ...filler.slice(0, 5).map((l) => `${l}\n`), `${leak}\n`];
    const found = await leakFindings(parts);
    assert.equal(found.length, 1);
    assert.equal(ownerOf(found[0]!), 'role fake-web-role');
  });

  it('does not reach back beyond the look-behind window', async () => {
    const far = Array.from({ length: 200 }, (_, i) => `2026-11-23T05:09:59Z INFO  later ${i}`);
    const found = await leakFindings([`${[hint, ...far].join('\n')}\n`, `${leak}\n`]);
    assert.equal(found.length, 1);
    assert.equal(ownerOf(found[0]!), undefined);
  });
});
