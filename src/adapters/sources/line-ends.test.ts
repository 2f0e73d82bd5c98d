import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chunkLines, type LineChunk } from './chunk-lines.ts';
import { lineEndOf } from './line-ends.ts';
import { textLines } from './text-lines.ts';

async function* parts(list: Buffer[]): AsyncGenerator<Buffer> {
  yield* list;
}

/** `bytes` cut into reads of the given sizes, in turn. */
function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const reads: Buffer[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    reads.push(bytes.subarray(i, i + n));
    i += n;
  }
  return reads;
}

/** Each line's number and text, as the scanner's splitter hands them on. */
async function numbered(reads: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for await (const c of chunkLines(parts(reads), 1 << 20)) {
    const lines = (c as LineChunk).buf.toString('latin1').split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const [i, l] of lines.entries()) out.push(`${(c as LineChunk).firstLine + i}:${l.replace(/\r$/, '')}`);
  }
  return out;
}

describe('line ends', () => {
  it('a lone CR is the line end only in a text without any LF; CRLF is one end', () => {
    assert.equal(lineEndOf(Buffer.from('a\rb\rc')), 'cr');
    assert.equal(lineEndOf(Buffer.from('a\r\nb\r\n')), 'lf');
    assert.equal(lineEndOf(Buffer.from('a\rb\nc')), 'lf');
    assert.equal(lineEndOf(Buffer.from('abc')), undefined);
    assert.equal(lineEndOf(Buffer.from('abc\r')), undefined);
    assert.equal(lineEndOf(Buffer.from('abc\r'), true), 'cr');
  });

  it('CR-ended, LF-ended and CRLF-ended texts give the same numbered lines, whatever the reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é'), maxLength: 20 }), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (lines, sizes, trailing) => {
          const text = (eol: string) => Buffer.from(lines.join(eol) + (trailing ? eol : ''));
          const want = await numbered([text('\n')]);
          assert.deepEqual(await numbered(cut(text('\r'), sizes)), want, 'CR');
          assert.deepEqual(await numbered(cut(text('\r\n'), sizes)), want, 'CRLF');
        },
      ),
    );
  });

  it('textLines splits a CR-ended text at its CRs and keeps a lone CR inside a LF text', async () => {
    const all = async (s: string) => {
      const out: string[] = [];
      for await (const l of textLines(parts([Buffer.from(s)]))) out.push(l);
      return out;
    };
    assert.deepEqual(await all('a\rb\rc\r'), ['a', 'b', 'c']);
    assert.deepEqual(await all('a\rb\nc\r\nd'), ['a\rb', 'c', 'd']);
  });
});
