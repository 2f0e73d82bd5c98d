import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { InputSyntaxError } from '../errors.ts';
import { JsonRecordSplitter } from './json-records.ts';

function split(text: string, cuts: number[] = []): Array<{ value: unknown; line: number }> {
  const buf = Buffer.from(text, 'utf8');
  const s = new JsonRecordSplitter('t.json');
  const out: Array<{ value: unknown; line: number }> = [];
  let prev = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < buf.length).sort((a, b) => a - b), buf.length]) {
    for (const r of s.push(buf.subarray(prev, c))) out.push({ value: JSON.parse(r.text), line: r.line });
    prev = c;
  }
  s.end();
  return out;
}

test('JsonRecordSplitter with a trail file, a bare array, NDJSON and concatenated objects', () => {
  const recs = [
    { eventID: 'a', x: '}]"\\' },
    { eventID: 'b', n: [1, { y: '[' }] },
  ];
  assert.deepEqual(
    split(JSON.stringify({ Records: recs })).map((r) => r.value),
    recs,
  );
  assert.deepEqual(
    split(JSON.stringify(recs, null, 2)).map((r) => r.value),
    recs,
  );
  assert.deepEqual(
    split(recs.map((r) => JSON.stringify(r)).join('\n')).map((r) => r.line),
    [1, 2],
  );
  assert.deepEqual(
    split(`${JSON.stringify(recs[0])}${JSON.stringify(recs[1])}`).map((r) => r.value),
    recs,
  );
  // Keys before Records, and an Azure diagnostic export with lower-case records.
  assert.deepEqual(
    split(JSON.stringify({ meta: { a: [1] }, Records: recs, tail: 1 })).map((r) => r.value),
    recs,
  );
  assert.deepEqual(
    split(JSON.stringify({ records: recs })).map((r) => r.value),
    recs,
  );
  // An NDJSON record that merely has a short string field is not mistaken for a wrapper.
  assert.deepEqual(
    split('{"k":"Records","v":[1]}').map((r) => r.value),
    [{ k: 'Records', v: [1] }],
  );
});

test('JsonRecordSplitter gives the same records wherever chunks are cut (multi-byte text included)', () => {
  const recs = [
    { eventID: 'é☃', s: 'a\\"b\\\\', n: [{}, []] },
    { eventID: '😀', t: '{"Records":[' },
  ];
  const text = JSON.stringify({ Records: recs });
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: Buffer.byteLength(text) }), { maxLength: 12 }), (cuts) => {
      assert.deepEqual(
        split(text, cuts).map((r) => r.value),
        recs,
      );
    }),
    { numRuns: 300 },
  );
});

test('JsonRecordSplitter on arbitrary nested records, in every container shape, cut anywhere', () => {
  const record = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 });
  fc.assert(
    fc.property(
      fc.array(record, { maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.integer({ min: 0, max: 2 }),
      (recs, cuts, shape) => {
        const text =
          shape === 0
            ? JSON.stringify({ Records: recs })
            : shape === 1
              ? JSON.stringify(recs, null, 1)
              : recs.map((r) => JSON.stringify(r)).join('\n');
        const len = Buffer.byteLength(text);
        const got = split(
          text,
          cuts.map((c) => (len > 0 ? c % len : 0)),
        ).map((r) => r.value);
        // JSON.parse of the whole text is the oracle (it turns -0 into 0 the same way).
        const want = shape === 2 ? recs.map((r) => JSON.parse(JSON.stringify(r))) : JSON.parse(JSON.stringify(recs));
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: 400 },
  );
});

test('JsonRecordSplitter errors name the line', () => {
  assert.throws(
    () => split('{"a":1}\n{"b":'),
    (e: unknown) => e instanceof InputSyntaxError && e.line === 2,
  );
  assert.throws(
    () => split('\n\nnot json'),
    (e: unknown) => e instanceof InputSyntaxError && e.line === 3,
  );
  assert.throws(() => split('{"Records":[{"a":1} {"b":2}]}'), InputSyntaxError);
  assert.throws(() => split('[1,2]'), InputSyntaxError);
  assert.throws(
    () => split('{"Records": [\n{"a": [}\n]}'),
    (e: unknown) => e instanceof InputSyntaxError && e.line === 2,
  );
});

/** Split with `recover`, feeding `text` in pieces of `piece` bytes; records' values and the problems' lines. */
function splitRecovering(text: string, piece: number, maxRecordBytes?: number) {
  const buf = Buffer.from(text, 'utf8');
  const s = new JsonRecordSplitter('t.json', undefined, {
    recover: true,
    ...(maxRecordBytes ? { maxRecordBytes } : {}),
  });
  const values: unknown[] = [];
  for (let i = 0; i < buf.length; i += piece)
    for (const r of s.push(buf.subarray(i, i + piece))) values.push(JSON.parse(r.text));
  s.end();
  return { values, problems: s.takeProblems().map((p) => [p.error.line, p.skipped]) };
}

test('JsonRecordSplitter with recover: a broken NDJSON line costs that line only, wherever chunks are cut', () => {
  const text = '{"a":1}\n{"eventName": broken\n42\n{"b":[2]}\n{"c":3}} junk\n{"d":4}\n';
  for (const piece of [1, 3, 7, 1000]) {
    const r = splitRecovering(text, piece);
    assert.deepEqual(r.values, [{ a: 1 }, { b: [2] }, { c: 3 }, { d: 4 }], `piece ${piece}`);
    assert.deepEqual(r.problems, [
      [2, 'line'],
      [3, 'line'],
      [5, 'line'],
    ]);
  }
});

test('JsonRecordSplitter with recover: a record over the size cap is skipped and named, the next ones are read', () => {
  const big = `{"Records":[{"a":1},{"pad":"${'x'.repeat(5000)}"},{"b":2}]}`;
  for (const piece of [100, 1 << 20]) {
    const r = splitRecovering(big, piece, 1000);
    assert.deepEqual(r.values, [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(r.problems, [[1, 'record']]);
  }
  // Without recover, the cap is an error naming the file and line, not a V8 string-length error.
  const s = new JsonRecordSplitter('t.json', undefined, { maxRecordBytes: 1000 });
  assert.throws(
    () => s.push(Buffer.from(big)),
    (e: unknown) => e instanceof InputSyntaxError && /longer than 1000 bytes/.test(e.message) && e.line === 1,
  );
});

test('JsonRecordSplitter with recover: a bad element inside a record array costs the rest of the input', () => {
  const r = splitRecovering('{"Records": [\n{"a":1},\n7,\n{"b":2}\n]}\n', 4);
  assert.deepEqual(r.values, [{ a: 1 }]);
  assert.deepEqual(r.problems, [[3, 'rest']]);
});
