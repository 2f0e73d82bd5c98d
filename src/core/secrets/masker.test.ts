import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  benignLine,
  encode,
  encodingChain,
  generatedCredentials,
  holdsPiece,
  leftOver,
  secretDoc,
} from '../../../test/support/secret-docs.ts';
import { maskArgv, maskHeader } from './argv.ts';
import { KnownSecrets } from './known.ts';
import { MAX_LAYERS, views } from './layers.ts';
import { Masker, maskRecord, maskText } from './masker.ts';

const ID = 'ASIAQ3EGU7LR2WNPQX7Z';
const SECRET = 'Fk9x/Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG+h1';
const TOKEN = `IQoJb3JpZ2luX2VjE${'Ab3/Cd5+Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7'.repeat(8)}`;
const AWS_DOC = { Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: ID, SecretAccessKey: SECRET, Token: TOKEN };
const ALI_SECRET = 'Bx7Kq2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fGh2Jk4Ln6P';
const ALI_DOC = {
  AccessKeyId: 'STS.NUgYrLnoC37mZZCNnAbez2qnBq',
  AccessKeySecret: ALI_SECRET,
  SecurityToken: `CAIS${'Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1Xc3Vb5Nm7+/'.repeat(6)}`,
  Expiration: '2026-11-23T11:10:00Z',
};
const PY_DOC = JSON.stringify(AWS_DOC).replace(/":"/g, '": "').replace(/","/g, '", "');

/** Every value of `doc` is masked in `out`: no 12-character piece of any of them, as written or decoded. */
function assertMasked(out: string, values: string[], chain: string[] = [], what = ''): void {
  for (const v of values) {
    const left = leftOver(out, v, chain);
    assert.equal(left, null, `${what}: ${v.slice(0, 6)}… survives as ${left}`);
  }
}

const AWS_VALUES = [ID, SECRET, TOKEN.slice(17)];
const ALI_VALUES = [ALI_DOC.AccessKeyId, ALI_SECRET, ALI_DOC.SecurityToken.slice(4)];
const each = (s: string, f: (c: string) => string) => [...s].map(f).join('');

describe('Masker: the encodings of the regression cases', () => {
  const cases: Array<[string, string, string[]]> = [
    ['Alibaba STS document, raw JSON', `DEBUG creds ${JSON.stringify(ALI_DOC)}`, []],
    ['Alibaba STS document in a JSON-lines field', JSON.stringify({ msg: 'sts', body: JSON.stringify(ALI_DOC) }), []],
    [
      'Alibaba STS document in a percent-encoded query parameter',
      `GET /cb?d=${encodeURIComponent(JSON.stringify(ALI_DOC))} HTTP/1.1`,
      ['percent'],
    ],
    [
      'AWS secret percent-encoded as a whole inside an encoded body in a query string',
      `GET /cb?body=${encodeURIComponent(`SecretAccessKey=${encodeURIComponent(SECRET)}&AccessKeyId=${ID}`)} HTTP/1.1`,
      ['percent', 'percent'],
    ],
    ['json.dumps separators, URL-encoded with %20', `GET /cb?d=${encodeURIComponent(PY_DOC)}`, ['percent']],
    ['json.dumps separators, form-encoded with +', `GET /cb?${new URLSearchParams({ d: PY_DOC })}`, ['percent-form']],
    [
      'three percent layers',
      `GET /cb?d=${encodeURIComponent(encodeURIComponent(encodeURIComponent(JSON.stringify(AWS_DOC))))}`,
      ['percent', 'percent', 'percent'],
    ],
    [
      'every character as %XX',
      `GET /cb?d=${each(JSON.stringify(AWS_DOC), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)}`,
      ['percent-every-char'],
    ],
    [
      'every character as \\uXXXX',
      `{"body":"${each(JSON.stringify(AWS_DOC), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"}`,
      ['json-every-char'],
    ],
    [
      '\\xNN byte reprs',
      `b'${each(JSON.stringify(AWS_DOC), (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`,
      ['hex-escape'],
    ],
    [
      'HTML numeric entities',
      `<pre>${each(JSON.stringify(AWS_DOC), (c) => `&#${c.charCodeAt(0)};`)}</pre>`,
      ['html-decimal'],
    ],
    ['base64 of the whole document', `creds=${Buffer.from(JSON.stringify(AWS_DOC)).toString('base64')}`, ['base64']],
    ['base64url of the whole document', `creds=${Buffer.from(PY_DOC).toString('base64url')}`, ['base64url']],
    ['hex of the whole document', `creds=${Buffer.from(JSON.stringify(AWS_DOC)).toString('hex')}`, ['hex']],
  ];
  for (const [name, line, chain] of cases) {
    test(name, () => {
      const values = name.startsWith('Alibaba')
        ? ALI_VALUES
        : name.includes('body in a query')
          ? [ID, SECRET]
          : AWS_VALUES;
      // The check itself sees the secret in the line as written.
      assert.throws(() => assertMasked(line, values, chain, 'input'));
      const out = new Masker().line(line);
      assertMasked(out, values, chain, name);
    });
  }
});

describe('Masker: known secrets', () => {
  test('a secret recognised once is masked alone on a later line, in any encoding', () => {
    const m = new Masker();
    m.line(`{"SecretAccessKey":"${SECRET}"}`);
    for (const later of [
      `retrying with ${SECRET}`,
      `k=${encodeURIComponent(SECRET)}`,
      `k=${Buffer.from(`secret ${SECRET} end`).toString('base64')}`,
      `k=${each(SECRET, (c) => `&#${c.charCodeAt(0)};`)}`,
    ]) {
      const out = m.line(later);
      assert.notEqual(out, later, later);
      assert.equal(holdsPiece(out, SECRET), null, out);
    }
  });

  test('a token cut by line wrapping is masked on both lines, and a short rest too', () => {
    const m = new Masker();
    m.line(`{"Token":"${TOKEN}"}`);
    const wrapped = `2026-11-23T05:10:33Z DEBUG retry token=${TOKEN}`;
    const first = wrapped.slice(0, 80);
    const second = wrapped.slice(80, wrapped.length - 6);
    const third = wrapped.slice(wrapped.length - 6);
    const out = [first, second, third].map((l) => m.line(l));
    for (const o of out) assert.equal(holdsPiece(o, TOKEN.slice(17), 12), null, o);
    assert.ok(!out[2]!.includes(third), 'the last six characters are masked too');
    assert.equal(m.line('2026-11-23T05:10:34Z INFO next'), '2026-11-23T05:10:34Z INFO next');
  });

  test('a token found by its shape at the end of a wrapped line: its rest on the next line is masked', () => {
    const m = new Masker();
    const line = `2026-11-23T05:10:33Z DEBUG {"Token":"${TOKEN}"}`;
    const a = m.line(line.slice(0, 160));
    const b = m.line(line.slice(160));
    assert.equal(holdsPiece(a + b, TOKEN.slice(17)), null);
    assert.ok(b.endsWith('"}'));
  });

  test('a credentials document seen first cut in two by wrapping, at every position: nothing survives on either line', () => {
    const docs: Array<[string, string[]]> = [
      [JSON.stringify({ RoleArn: 'arn:aws:iam::123456789012:role/web', ...AWS_DOC }), AWS_VALUES],
      [PY_DOC, AWS_VALUES],
      [JSON.stringify(ALI_DOC), ALI_VALUES],
    ];
    for (const [doc, values] of docs)
      for (let cut = 1; cut < doc.length; cut++) {
        const m = new Masker();
        const a = m.line(`2026-11-23T05:10:33Z INFO creds ${doc.slice(0, cut)}`);
        const b = m.line(doc.slice(cut));
        assertMasked(`${a}\n${b}`, values, [], `cut at ${cut}`);
        assert.ok(b.length > 0 || cut === doc.length);
      }
  });

  test('a JSON-escaped private key cut by wrapping: every run of its body is masked on the next line', () => {
    const body = Array.from({ length: 6 }, (_, i) => `MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoI${i}Xq+/z`);
    const key = `-----BEGIN PRIVATE KEY-----\n${body.join('\n')}\n-----END PRIVATE KEY-----\n`;
    const doc = JSON.stringify({
      type: 'service_account',
      private_key: key,
      client_email: 'x@p.iam.gserviceaccount.com',
    });
    for (let cut = doc.indexOf('MIIE'); cut < doc.indexOf('-----END'); cut += 7) {
      const m = new Masker();
      const out = `${m.line(doc.slice(0, cut))}\n${m.line(doc.slice(cut))}`;
      for (const run of body) assert.equal(holdsPiece(out, run, 12), null, `cut at ${cut}: ${out}`);
      assert.ok(out.endsWith('"client_email":"x@p.iam.gserviceaccount.com"}'), out);
    }
  });

  test('a document encoded whole in base64 and wrapped at 76 characters (MIME): no secret survives, at any alignment', () => {
    const docs: Array<[object, string[]]> = [
      [{ RoleArn: 'arn:aws:iam::123456789012:role/web', ...AWS_DOC }, AWS_VALUES],
      [ALI_DOC, ALI_VALUES],
    ];
    const body = Array.from({ length: 6 }, (_, i) =>
      Buffer.from(
        `${i}`.repeat(48).replace(/./g, (c, k) => String.fromCharCode(33 + ((k * 7 + Number(c) * 13) % 90))),
      ).toString('base64'),
    );
    const gcp = {
      type: 'service_account',
      private_key: `-----BEGIN PRIVATE KEY-----\n${body.join('\n')}\n-----END PRIVATE KEY-----\n`,
      client_email: 'x@p.iam.gserviceaccount.com',
    };
    docs.push([gcp, body]);
    for (const [doc, values] of docs)
      for (let pad = 0; pad < 57; pad++) {
        const text = JSON.stringify({ pad: 'p'.repeat(pad), ...doc });
        const wrapped = Buffer.from(text)
          .toString('base64')
          .match(/.{1,76}/g)!;
        const m = new Masker();
        const out = ['Content-Type: application/json', 'Content-Transfer-Encoding: base64', '', ...wrapped].map((l) =>
          m.line(l),
        );
        // Decoded as one text (the lines joined), as a mail client would.
        assertMasked(out.slice(3).join(''), values, ['base64'], `pad ${pad}`);
        assert.equal(out.length, wrapped.length + 3);
      }
  });

  test("IIS's %uXXXX, and base64 or hex of UTF-16LE text (PowerShell's -EncodedCommand): masked", () => {
    const doc = JSON.stringify(AWS_DOC);
    const lines = [
      `GET /x?d=${[...doc].map((c) => `%u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')} HTTP/1.1`,
      `powershell.exe -EncodedCommand ${Buffer.from(doc, 'utf16le').toString('base64')}`,
      `payload=${Buffer.from(doc, 'utf16le').toString('hex')}`,
    ];
    const unIis = (t: string) =>
      t.replace(/%u([0-9a-f]{4})/gi, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
    const decoders = [
      unIis,
      (t: string) => Buffer.from(t.replace(/^.*EncodedCommand /, ''), 'base64').toString('utf16le'),
      (t: string) => Buffer.from(t.replace(/^payload=/, '').replace(/[^0-9a-f]/gi, ''), 'hex').toString('utf16le'),
    ];
    lines.forEach((l, k) => {
      const out = new Masker().line(l);
      assert.notEqual(out, l);
      for (const v of AWS_VALUES) {
        assert.equal(holdsPiece(out, v), null);
        assert.equal(holdsPiece(decoders[k]!(out), v), null, `${l.slice(0, 30)}: ${v.slice(0, 6)}… survives`);
      }
    });
  });

  test('HTML numeric references without their ";" (digits of the next characters run into them): masked', () => {
    const c = generatedCredentials(1401);
    const doc = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret, Token: c.awsToken });
    for (const radix of [16, 10]) {
      // Every character that is not a letter or digit as a reference with no ";": `&#x22ASIA…` reads as `"ASIA…`.
      const ref = (ch: string) => (radix === 16 ? `&#x${ch.charCodeAt(0).toString(16)}` : `&#${ch.charCodeAt(0)}`);
      const line = `GET /x?d=${each(doc, (ch) => (/[A-Za-z0-9]/.test(ch) ? ch : ref(ch)))} HTTP/1.1`;
      const out = new Masker().line(line);
      for (const v of [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)])
        assert.equal(holdsPiece(out, v), null, `radix ${radix}: ${v.slice(0, 6)}… survives in ${out.slice(0, 200)}`);
    }
  });

  test('a hex dump with a blank or colon between bytes: masked, every other byte kept', () => {
    const c = generatedCredentials(1402);
    const doc = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret, Token: c.awsToken });
    for (const sep of [' ', ':']) {
      const dump = [...Buffer.from(doc)].map((b) => b.toString(16).padStart(2, '0')).join(sep);
      const line = `2026-12-05T06:00:00Z DEBUG body: ${dump} (end)`;
      const out = new Masker().line(line);
      assert.ok(out.startsWith('2026-12-05T06:00:00Z DEBUG body: 7b') && out.endsWith(' (end)'), out.slice(0, 80));
      // The dump read back byte by byte (a mask stays as it is).
      const undone = out
        .split(sep)
        .map((t) => (/^[0-9a-f]{2}$/.test(t) ? String.fromCharCode(Number.parseInt(t, 16)) : t))
        .join('');
      assert.ok(undone.includes('"AccessKeyId"'), undone.slice(0, 80));
      for (const v of [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)]) assert.equal(holdsPiece(undone, v), null);
    }
  });

  test('a known secret later in base64 glued to other characters: masked', () => {
    const c = generatedCredentials(1403);
    const m = new Masker();
    m.line(JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret }));
    const piece = c.awsSecret.slice(5, 25);
    for (const glue of ['x', 'ab', 'q9Z', 'tok3n7_']) {
      for (const enc of [
        Buffer.from(piece).toString('base64'),
        Buffer.from(piece).toString('base64url'),
        Buffer.from(piece, 'utf16le').toString('base64'),
      ]) {
        const line = `${glue}${enc}y`;
        const out = m.line(line);
        assert.notEqual(out, line, line);
        assert.ok(out.startsWith(glue), out);
      }
    }
  });

  test('KnownSecrets finds every piece of 12 characters or more, and nothing shorter', () => {
    const k = new KnownSecrets();
    k.add(SECRET);
    for (let len = 11; len <= SECRET.length; len++)
      for (let at = 0; at + len <= SECRET.length; at += 3) {
        const found = k.find(`x ${SECRET.slice(at, at + len)} y`);
        if (len >= 12) assert.equal(found.length, 1, `${at}+${len}`);
        else assert.equal(found.length, 0, `${at}+${len}`);
      }
  });
});

describe('Masker: what it leaves alone', () => {
  test('benign look-alikes are never changed (property)', () => {
    fc.assert(
      fc.property(fc.array(benignLine, { minLength: 1, maxLength: 20 }), (lines) => {
        const m = new Masker();
        for (const l of lines) assert.equal(m.line(l), l);
      }),
      { numRuns: 200 },
    );
  });

  test('views stop at the stated depth', () => {
    const doc = `{"SecretAccessKey":"${SECRET}"}`;
    let t = doc;
    // The detector reads two percent layers of a value itself (`%2F`, `%252F`): the views add MAX_LAYERS to that.
    for (let i = 0; i < MAX_LAYERS + 3; i++) t = encodeURIComponent(t);
    assert.equal(maskText(t), t, `${MAX_LAYERS + 3} percent layers are beyond the bound (a documented limit)`);
    let u = doc;
    for (let i = 0; i < MAX_LAYERS + 2; i++) u = encodeURIComponent(u);
    assert.notEqual(maskText(u), u);
    assert.ok(views('plain text').length === 0);
  });
});

describe('Masker: property over every provider and random compositions of encodings', () => {
  test('after masking no 12-character piece of any secret remains, and only masks were written', () => {
    fc.assert(
      fc.property(secretDoc, encodingChain(3, 4), benignLine, (d, chain, benign) => {
        const line = `2026-11-23T05:10:32Z DEBUG got ${encode(d.json, chain)} end`;
        const m = new Masker();
        const out = m.line(line);
        for (const s of d.secrets) assert.equal(leftOver(out, s, chain), null, `${d.provider} ${chain.join('>')}`);
        assertOnlyMasks(line, out);
        assert.equal(m.line(benign), benign);
      }),
      { numRuns: 150 },
    );
  });
});

/** `out` is `input` with some spans replaced by masks (`ab12****yz89`): every other character is unchanged. */
export function assertOnlyMasks(input: string, out: string): void {
  const parts = out.split(/[A-Za-z0-9._-]{0,4}\*\*\*\*[A-Za-z0-9._-]{0,4}/);
  let at = 0;
  for (const [i, p] of parts.entries()) {
    // A mask copies up to four characters from each end of a secret: the neighbours may start or end with them.
    const idx = input.indexOf(p, at);
    assert.ok(idx >= 0, `unexpected text ${JSON.stringify(p.slice(0, 40))}`);
    if (i === 0) assert.equal(idx, 0, 'the start is kept');
    at = idx + p.length;
  }
  assert.ok(input.endsWith(parts[parts.length - 1]!), 'the end is kept');
}

describe('maskArgv and maskHeader: the one masker of command lines and headers', () => {
  test('flags, URL userinfo, token headers of every provider and credential shapes', () => {
    const out = maskArgv([
      'curl',
      '--password=hunter2',
      '--secret',
      'hunter3',
      'https://user:pass@host/',
      '-H',
      'X-aliyun-ecs-metadata-token: AQAEAbc123def456',
      '-H',
      'x-aws-ec2-metadata-token-ttl-seconds: 21600',
      '--header=Metadata-Token: tok-12345',
      ID,
      `--data={"SecretAccessKey":"${SECRET}"}`,
      'sh -c "curl -H \'X-aws-ec2-metadata-token: AQAEAsecret\' http://169.254.169.254/"',
    ]);
    assert.deepEqual(out.slice(0, 10), [
      'curl',
      '--password=****',
      '--secret',
      '****',
      'https://user:****@host/',
      '-H',
      'X-aliyun-ecs-metadata-token: ****',
      '-H',
      'x-aws-ec2-metadata-token-ttl-seconds: 21600',
      '--header=Metadata-Token: ****',
    ]);
    assert.equal(out[10], 'ASIA****QX7Z');
    assert.ok(!out.join(' ').includes(SECRET.slice(4, 36)));
    assert.ok(!out[12]!.includes('AQAEAsecret') && out[12]!.includes('X-aws-ec2-metadata-token: ****'));
    assert.equal(maskHeader('X-aliyun-ecs-metadata-token', 'AQAEAbc'), '****');
    assert.equal(maskHeader('user-agent', `curl ${ID}`), 'curl ASIA****QX7Z');
  });

  test('maskRecord masks keys and values and leaves clean records as they are', () => {
    const clean = { a: 'x', b: [1, { c: 'y' }] };
    assert.equal(maskRecord(clean), clean);
    const r = maskRecord({ [`k-${ID}`]: [`v ${SECRET}`] });
    assert.deepEqual(Object.keys(r), ['k-ASIA****QX7Z']);
  });
});
