/**
 * No secret leaves imdsguard: `redact`, every sink of `scan`, and proxy and agent records, over credentials of every
 * provider wrapped in random compositions of encodings, plus one regression test per case found by review.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonlSink } from '../../src/adapters/sinks/jsonl.ts';
import { openSink, SINK_FORMATS } from '../../src/adapters/sinks/open-sink.ts';
import { redact } from '../../src/app/redact.ts';
import { runScan } from '../../src/app/scan.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import { type ProxyOutcome, proxyEvent, proxyFinding } from '../../src/core/policy/records.ts';
import { maskArgv } from '../../src/core/secrets/argv.ts';
import {
  benignLine,
  encode,
  encodingChain,
  generatedCredentials,
  holdsPiece,
  LOG_FORMATS,
  leftOver,
  type SecretDoc,
  secretDoc,
} from '../support/secret-docs.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-adversarial-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ID = 'ASIAQ3EGU7LR2WNPQX7Z';
const SECRET = 'Fk9x/Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG+h1';
const TOKEN = `IQoJb3JpZ2luX2VjE${'Ab3/Cd5+Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7'.repeat(8)}`;
const AWS_DOC = { Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: ID, SecretAccessKey: SECRET, Token: TOKEN };
const AWS_VALUES = [ID, SECRET, TOKEN.slice(17)];

/** `out` is `input` with some spans replaced by masks: every other character is unchanged. */
function assertOnlyMasks(input: string, out: string, what: string): void {
  const parts = out.split(/[A-Za-z0-9._-]{0,4}\*\*\*\*[A-Za-z0-9._-]{0,4}/);
  let at = 0;
  for (const [i, p] of parts.entries()) {
    const idx = input.indexOf(p, at);
    assert.ok(idx >= 0 && (i > 0 || idx === 0), `${what}: unexpected text ${JSON.stringify(p.slice(0, 40))}`);
    at = idx + p.length;
  }
  assert.ok(input.endsWith(parts[parts.length - 1]!), `${what}: the end is kept`);
}

interface Planted {
  line: string;
  doc?: SecretDoc;
  chain?: string[];
}

/** Log lines: every `k`-th carries a document in an encoding chain, the others are benign look-alikes. */
function plant(format: string, docs: Array<[SecretDoc, string[]]>, benign: string[]): Planted[] {
  const out: Planted[] = [];
  docs.forEach(([doc, chain], i) => {
    out.push({ line: benign[i % benign.length]! });
    out.push({ line: LOG_FORMATS[format]!(encode(doc.json, chain), i), doc, chain });
  });
  return out;
}

describe('redact: property over every provider, compositions of encodings (depth 3 to 4) and log formats', () => {
  it('no 12-character piece of a secret remains, lines and every non-secret byte are kept', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(LOG_FORMATS)),
        fc.array(fc.tuple(secretDoc, encodingChain(3, 4)), { minLength: 4, maxLength: 8 }),
        fc.array(benignLine, { minLength: 4, maxLength: 8 }),
        async (format, docs, benign) => {
          const planted = plant(format, docs, benign);
          const input = join(dir, `prop-${n}.log`);
          const output = join(dir, `prop-${n++}.out`);
          writeFileSync(input, `${planted.map((p) => p.line).join('\n')}\n`, 'latin1');
          await redact({ inputs: [input], output }, () => {});
          const lines = readFileSync(output, 'latin1').split('\n');
          assert.equal(lines.length, planted.length + 1, 'line count');
          planted.forEach((p, i) => {
            const out = lines[i]!;
            if (!p.doc) {
              assert.equal(out, p.line, 'a benign line is unchanged');
              return;
            }
            for (const s of p.doc.secrets)
              assert.equal(leftOver(out, s, p.chain!), null, `${p.doc.provider} ${p.chain!.join('>')} in ${format}`);
            assertOnlyMasks(p.line, out, `${p.doc.provider} ${p.chain!.join('>')}`);
          });
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('scan: property over the same inputs, every sink', () => {
  it('no sink holds a 12-character piece of any secret', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(secretDoc, encodingChain(3, 4)), { minLength: 4, maxLength: 4 }),
        fc.array(benignLine, { minLength: 3, maxLength: 3 }),
        async (docs, benign) => {
          const inputs: string[] = [];
          const all: Planted[] = [];
          for (const format of Object.keys(LOG_FORMATS)) {
            const planted = plant(format, docs, benign);
            const p = join(dir, `scan-${format}.log`);
            writeFileSync(p, `${planted.map((x) => x.line).join('\n')}\n`, 'latin1');
            inputs.push(p);
            all.push(...planted);
          }
          for (const format of SINK_FORMATS) {
            const out = join(dir, `scan.${format}`);
            await scan(inputs, out, format);
            const text = readFileSync(out, 'utf8');
            for (const p of all)
              for (const s of p.doc?.secrets ?? [])
                assert.equal(leftOver(text, s, p.chain!), null, `${format}: ${p.doc!.provider} ${p.chain!.join('>')}`);
          }
        },
      ),
      { numRuns: 1 },
    );
  });
});

async function scan(inputs: string[], out: string, format: (typeof SINK_FORMATS)[number]): Promise<void> {
  const sink = await openSink(format, out, { nowMs: () => 0 });
  await runScan({
    inputs,
    logFormat: 'auto',
    rules: scanRules(),
    sink,
    maxLineBytes: 4 << 20,
    concurrency: 1,
    warn: () => {},
  });
  await sink.close();
}

describe('regressions', () => {
  it('json.dumps separators then URL-encoded: masked in target.raw, target.decoded, path and related[].note', async () => {
    const py = JSON.stringify(AWS_DOC).replace(/":"/g, '": "').replace(/","/g, '", "');
    const lines = [
      `198.51.100.7 - - [23/Nov/2026:05:10:31 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web&r=${encodeURIComponent(py)} HTTP/1.1" 200 512 "-" "python-requests/2.31.0"`,
      `198.51.100.7 - - [23/Nov/2026:05:10:32 +0000] "GET /fetch/${encodeURIComponent(py)}?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F HTTP/1.1" 200 512 "-" "curl/8.5.0"`,
      `198.51.100.7 - - [23/Nov/2026:05:10:33 +0000] "GET /cb?${new URLSearchParams({ d: py })} HTTP/1.1" 200 512 "-" "curl/8.5.0"`,
    ];
    const p = join(dir, 'dumps.log');
    writeFileSync(p, `${lines.join('\n')}\n`);
    for (const format of SINK_FORMATS) {
      const out = join(dir, `dumps.${format}`);
      await scan([p], out, format);
      const text = readFileSync(out, 'utf8');
      if (format === 'jsonl') {
        const recs = text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { rule: { id: string }; related?: unknown[] });
        assert.ok(
          recs.some((r) => r.rule.id.startsWith('ssrf')),
          'an SSRF finding',
        );
        assert.ok(
          recs.some((r) => r.rule.id.startsWith('credential-exposure') && r.related),
          'a leak with its cause',
        );
      }
      for (const v of AWS_VALUES) assert.equal(leftOver(text, v, ['percent']), null, `${format}: ${v.slice(0, 6)}…`);
    }
  });

  it('a related[].note quoting a request cut at a fixed length holds no piece of a secret cut in two', async () => {
    // The secret straddles the 200th character of the quoted target, with padding before it of every length.
    const lines: string[] = [];
    for (let pad = 120; pad < 200; pad += 7) {
      lines.push(
        `198.51.100.${pad} - - [23/Nov/2026:05:10:31 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web&p=${'x'.repeat(pad - 100)}&AccessKeyId=${ID}&SecretAccessKey=${encodeURIComponent(SECRET)} HTTP/1.1" 200 512 "-" "curl/8.5.0"`,
        `198.51.100.${pad} - - [23/Nov/2026:05:10:32 +0000] "GET /cb?d=${encodeURIComponent(JSON.stringify(AWS_DOC))} HTTP/1.1" 200 512 "-" "curl/8.5.0"`,
      );
    }
    const p = join(dir, 'cut.log');
    writeFileSync(p, `${lines.join('\n')}\n`);
    for (const format of SINK_FORMATS) {
      const out = join(dir, `cut.${format}`);
      await scan([p], out, format);
      const text = readFileSync(out, 'utf8');
      if (format === 'jsonl') assert.ok(text.includes('most likely cause'), 'notes were written');
      for (const v of [ID.slice(4), SECRET, TOKEN.slice(17)])
        assert.equal(holdsPiece(text, v, 12), null, `${format}: ${v.slice(0, 6)}…`);
    }
  });

  for (const order of ['le', 'be'] as const)
    for (const bom of [true, false]) {
      it(`a UTF-16${order.toUpperCase()} log${bom ? ' with a byte-order mark' : ''} is masked and written back as UTF-16${order.toUpperCase()}`, async () => {
        const text = `${bom ? '\uFEFF' : ''}2026-11-23 INFO started\r\n2026-11-23 DEBUG creds ${JSON.stringify(AWS_DOC)}\r\n2026-11-23 INFO é ü 日本\r\n`;
        const enc = (s: string) => {
          const b = Buffer.from(s, 'utf16le');
          return order === 'le' ? b : b.swap16();
        };
        const dec = (b: Buffer) => (order === 'le' ? b : Buffer.from(b).swap16()).toString('utf16le');
        const input = join(dir, `u16${order}${bom}.log`);
        writeFileSync(input, enc(text));
        await redact({ inputs: [input], inPlace: true }, () => {});
        const out = dec(readFileSync(input));
        for (const v of AWS_VALUES) assert.equal(holdsPiece(out, v), null, v.slice(0, 6));
        const [a, b, c] = out.split('\r\n');
        assert.equal(a, `${bom ? '\uFEFF' : ''}2026-11-23 INFO started`);
        assert.match(b!, /"SecretAccessKey":"Fk9x\*\*\*\*fGh1"/);
        assert.equal(c, '2026-11-23 INFO é ü 日本');
        assert.equal(out.split('\r\n').length, 4);
      });
    }

  it('a UTF-16LE log without a byte-order mark whose text is mostly CJK is read as UTF-16 and masked', async () => {
    const c = generatedCredentials(1404);
    const doc = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret, Token: c.awsToken });
    // Chinese log lines: blanks and digits are the only characters with a NUL byte, and 开 (U+5F00) puts one on the
    // other side.
    const text = `${'2026-12-05 日志 开始 处理请求 '.repeat(60)}\n2026-12-05 调试 凭证 ${doc}\n2026-12-05 结束\n`;
    const input = join(dir, 'u16-cjk.log');
    writeFileSync(input, Buffer.from(text, 'utf16le'));
    await redact({ inputs: [input], inPlace: true }, () => {});
    const out = readFileSync(input).toString('utf16le');
    for (const v of [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)]) assert.equal(holdsPiece(out, v), null);
    const [a, b, z] = out.split('\n');
    assert.equal(a, text.split('\n')[0]);
    assert.ok(b!.startsWith('2026-12-05 调试 凭证 {"AccessKeyId":"ASIA****'), b!.slice(0, 60));
    assert.equal(z, '2026-12-05 结束');
  });

  it('a byte text that starts with FF FE (not UTF-16: no NUL follows) is read as bytes and masked', async () => {
    const c = generatedCredentials(1405);
    const doc = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret, Token: c.awsToken });
    const input = join(dir, 'fffe.log');
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(` DEBUG creds ${doc}\nINFO done\n`)]);
    writeFileSync(input, bytes);
    await redact({ inputs: [input], inPlace: true }, () => {});
    const out = readFileSync(input);
    assert.deepEqual([...out.subarray(0, 3)], [0xff, 0xfe, 0xc3]);
    for (const v of [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)])
      assert.equal(holdsPiece(out.toString('latin1'), v), null);
    assert.ok(out.toString('latin1').endsWith('\nINFO done\n'));
  });

  it('a log that starts with a run of NULs (truncated under its writer) stays bytes and is masked', async () => {
    const c = generatedCredentials(1406);
    const doc = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret });
    const input = join(dir, 'nul-run.log');
    writeFileSync(input, Buffer.concat([Buffer.alloc(333), Buffer.from(`INFO creds ${doc}\n`)]));
    await redact({ inputs: [input], inPlace: true }, () => {});
    const out = readFileSync(input).toString('latin1');
    assert.equal(out.slice(0, 333), '\0'.repeat(333));
    for (const v of [c.awsKeyId, c.awsSecret]) assert.equal(holdsPiece(out, v), null);
  });
});

describe('proxy and agent records: secrets in argv, URLs and headers', () => {
  const argvArb = fc
    .tuple(secretDoc, fc.constantFrom('flag=', 'flag', 'userinfo', 'header', 'raw', 'env', 'shell'))
    .map(([d, how]) => {
      const s = d.secrets[d.secrets.length - 1]!;
      const argv =
        how === 'flag='
          ? ['app', `--password=${s}`]
          : how === 'flag'
            ? ['app', '--token', s]
            : how === 'userinfo'
              ? ['curl', `https://admin:${s}@example.com/x`]
              : how === 'header'
                ? ['curl', '-H', `X-aliyun-ecs-metadata-token: ${s}`, 'http://100.100.100.200/latest/meta-data/']
                : how === 'env'
                  ? ['env', `APP_SECRET=${s}`, 'app']
                  : how === 'shell'
                    ? ['sh', '-c', `curl -H 'X-aws-ec2-metadata-token: ${s}' http://169.254.169.254/`]
                    : ['python3', 'fetch.py', d.json];
      return { argv, secrets: d.secrets };
    });

  it('proxy events and findings hold no piece of a secret from the caller argv or path', () => {
    fc.assert(
      fc.property(argvArb, secretDoc, ({ argv, secrets }, inPath) => {
        const o: ProxyOutcome = {
          time: '2026-11-23T05:10:32.000Z',
          request: {
            method: 'GET',
            target: `/latest/meta-data/${encodeURIComponent(inPath.json)}`,
            path: '/latest/meta-data/',
            headers: {},
            provider: 'aws',
            service: 'ec2-imds',
            pathClass: 'other',
            token: 'none',
          },
          caller: { known: true, pid: 7, exe: '/usr/bin/curl', argv, uid: 0, otherNamespace: false },
          decision: { action: 'deny', reason: 'denied', rule: 'r', report: true, severity: 'high' },
          destination: { ip: '169.254.169.254', port: 80 },
          status: 403,
          latencyMs: 1,
          listener: '127.0.0.1:8169',
        };
        const text = JSON.stringify([proxyEvent(o), proxyFinding(o)]);
        for (const s of secrets) assert.equal(holdsPiece(text, s), null, argv.join(' ').slice(0, 60));
        for (const s of inPath.secrets) assert.equal(leftOver(text, s, ['percent']), null, 'path');
      }),
      { numRuns: 300 },
    );
  });

  it('agent records (argv masked by the attributor, records masked by the sink) hold no piece of a secret', async () => {
    const records: string[] = [];
    const sink = jsonlSink({ isTTY: false, write: (c) => void records.push(c), close: async () => {} });
    fc.assert(
      fc.property(argvArb, ({ argv }) => {
        void sink.write({ type: 'event', process: { pid: 1, argv: maskArgv(argv) }, http: { path: '/x' } });
      }),
      { numRuns: 200, seed: 7 },
    );
    const samples = fc.sample(argvArb, { numRuns: 200, seed: 7 });
    const text = records.join('');
    for (const { secrets } of samples) for (const s of secrets) assert.equal(holdsPiece(text, s), null);
    assert.ok(text.includes('X-aliyun-ecs-metadata-token: ****'), 'the Alibaba token header is masked');
  });
});
