import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytesOf, scanFiles } from './helpers.ts';

// A JSON log line keeps its attack where no field name points: in a field the mapping does not know, deep inside an
// object, or in the first of two values given under one key (JSON.parse keeps only the last). Each is read as text.

const lines = [
  '{"remote_addr":"192.0.2.7","request":"GET /fetch?url=http://169.254.169.254/latest/meta-data/ HTTP/1.1","request":"GET / HTTP/1.1","status":200}',
  '{"remote_addr":"192.0.2.8","request":"GET / HTTP/1.1","status":200,"extra_param":"http://169.254.169.254/latest/meta-data/iam/security-credentials/"}',
  '{"remote_addr":"192.0.2.9","request":"GET / HTTP/1.1","status":200,"ctx":{"hops":[{"src":"http%3A%2F%2F169.254.169.254%2Flatest%2Fapi%2Ftoken"}]}}',
  '{"remote_addr":"192.0.2.10","request":"GET / HTTP/1.1","status":200,"ua":"Mozilla/5.0 (+http://www.example.com/bot.html)","note":"see https://docs.example.org/a"}',
];

describe('JSON lines: values under no known name are read as text', () => {
  for (const format of ['json', 'auto'] as const) {
    test(`--log-format ${format}: a repeated key, an unmapped field, a nested field`, async () => {
      const r = await scanFiles(['-'], { logFormat: format, stdin: bytesOf(`${lines.join('\n')}\n`) });
      const byLine = new Map(r.findings.map((f) => [f.origin.line, f]));
      assert.deepEqual([...byLine.keys()].sort(), [1, 2, 3], JSON.stringify(r.findings.map((f) => f.origin)));
      assert.equal(byLine.get(1)!.http?.field, 'request (repeated key)');
      assert.equal(byLine.get(2)!.http?.field, 'extra_param');
      assert.equal(byLine.get(3)!.http?.field, 'ctx.hops[0].src');
      for (const f of r.findings) assert.equal(f.provider, 'aws');
    });
  }
});
