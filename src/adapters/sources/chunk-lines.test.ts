import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chunkLines, type LineChunk } from './chunk-lines.ts';

async function* parts(list: Buffer[]): AsyncGenerator<Buffer> {
  yield* list;
}

async function collect(list: Buffer[], maxLine: number, maxChunk?: number) {
  const out: Array<LineChunk | { overlong: true; line: number; bytes: number }> = [];
  for await (const c of chunkLines(parts(list), maxLine, maxChunk)) out.push(c);
  return out;
}

describe('chunkLines', () => {
  it('cuts any byte stream into whole lines, numbered, whatever the read and piece sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '\n', 'é'), maxLength: 40 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 64 }),
        async (lines, cuts, maxChunk) => {
          const bytes = Buffer.from(lines.join('\n'));
          const reads: Buffer[] = [];
          for (let i = 0, k = 0; i < bytes.length; k++) {
            const n = cuts[k % cuts.length]!;
            reads.push(bytes.subarray(i, i + n));
            i += n;
          }
          const chunks = (await collect(reads, 1 << 20, maxChunk)) as LineChunk[];
          assert.equal(Buffer.concat(chunks.map((c) => c.buf)).toString(), bytes.toString());
          let next = 1;
          for (const c of chunks) {
            assert.equal(c.firstLine, next);
            const nl = c.buf.toString().split('\n').length - 1;
            assert.ok(c.lines === nl || (c.lines === 1 && nl === 0), 'lines counted');
            // Every piece but the last ends a line; a piece is cut near maxChunk unless one line is longer.
            if (c !== chunks.at(-1)) assert.equal(c.buf.at(-1), 10);
            next += c.lines;
          }
        },
      ),
      { numRuns: 500, seed: 3 },
    );
  });

  it('hands a large read on in pieces of about the chunk size', async () => {
    const line = `${'x'.repeat(99)}\n`;
    const chunks = (await collect([Buffer.from(line.repeat(100))], 1 << 20, 1000)) as LineChunk[];
    assert.equal(chunks.length, 10);
    assert.ok(chunks.every((c) => c.buf.length === 1000 && c.lines === 10));
    assert.deepEqual(
      chunks.map((c) => c.firstLine),
      [1, 11, 21, 31, 41, 51, 61, 71, 81, 91],
    );
  });
});
