import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { GzipDataError, gunzipMembers } from './gunzip-members.ts';

/** The bytes in chunks of `size`, as a file read would give them. */
async function* chunks(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function read(b: Buffer, size = 1 << 20): Promise<{ text: string; error?: GzipDataError }> {
  const out: Buffer[] = [];
  try {
    for await (const c of gunzipMembers(chunks(b, size))) out.push(c);
    return { text: Buffer.concat(out).toString() };
  } catch (e) {
    assert.ok(e instanceof GzipDataError, String(e));
    return { text: Buffer.concat(out).toString(), error: e };
  }
}

const lines = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => `${tag} line ${i} ${'x'.repeat(i % 50)}\n`).join('');

test('one member and several concatenated, in chunks of any size: what gunzip gives', async () => {
  const a = lines(20_000, 'a');
  const b = lines(300, 'b');
  for (const size of [7, 4096, 1 << 20]) {
    assert.deepEqual(await read(gzipSync(a), size), { text: a });
    assert.deepEqual(await read(Buffer.concat([gzipSync(a), gzipSync(b)]), size), { text: a + b });
  }
  assert.deepEqual(await read(Buffer.alloc(0)), { text: '' });
});

test('data after the last member is an error saying where, after everything before it was given', async () => {
  const a = lines(20_000, 'a');
  const gz = gzipSync(a);
  for (const tail of ['GARBAGE', '\u0000\u0000\u0000\u0000', '\u001f']) {
    for (const size of [5, 1 << 20]) {
      const r = await read(Buffer.concat([gz, Buffer.from(tail, 'latin1')]), size);
      assert.equal(r.text, a, `all of the member is kept (${JSON.stringify(tail)}, chunks of ${size})`);
      assert.ok(r.error, 'an error');
      assert.equal(r.error.offset, gz.length);
      assert.match(r.error.message, tail === '\u001f' ? /ends inside|no gzip member/ : /trailing data/);
    }
  }
});

test('a cut member and a failed CRC are errors; what came before is kept', async () => {
  const a = lines(20_000, 'a');
  const gz = gzipSync(a);
  const cutAt = Math.floor(gz.length / 2);
  const cut = await read(gz.subarray(0, cutAt));
  assert.match(cut.error?.message ?? '', /ends inside a gzip member/);
  assert.ok(a.startsWith(cut.text) && cut.text.length > 0, 'a prefix of the data');
  const bad = Buffer.from(gz);
  bad.writeUInt32LE((bad.readUInt32LE(gz.length - 8) ^ 1) >>> 0, gz.length - 8);
  const crc = await read(bad);
  assert.match(crc.error?.message ?? '', /CRC/);
  assert.equal(crc.text, a);
  assert.match((await read(Buffer.from('plain text'))).error?.message ?? '', /not gzip data/);
});

test('header fields: a file name, a comment, extra data and a header CRC are stepped over', async () => {
  const a = lines(100, 'a');
  const gz = gzipSync(a);
  const body = gz.subarray(10);
  const header = Buffer.from(gz.subarray(0, 10));
  header[3] = 4 | 8 | 16 | 2;
  const withFields = Buffer.concat([
    header,
    Buffer.from([3, 0, 1, 2, 3]),
    Buffer.from('trail.json\u0000', 'latin1'),
    Buffer.from('a comment\u0000', 'latin1'),
    Buffer.from([0, 0]),
    body,
  ]);
  for (const size of [1, 3, 1 << 20]) assert.deepEqual(await read(withFields, size), { text: a });
});
