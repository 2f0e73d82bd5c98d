import fc from 'fast-check';

/** Test-only generators (fast-check is a dev dependency). */

const HOSTS = [
  '169.254.169.254',
  '2852039166',
  '0xa9fea9fe',
  '0251.0376.0251.0376',
  '169.254.43518',
  'o251.o376.o251.o376',
  'make-1.2.3.4-rebind-169.254-169.254-rr.1u.ms',
  '425.510.425.510',
  '[::ffff:a9fe:a9fe]',
  '[fd00:ec2::254]',
  '169-254-169-254.nip.io',
  'metadata.google.internal',
  '100.100.100.200',
  '169.254.170.2',
  '①⑥⑨.②⑤④.①⑥⑨.②⑤④',
];
const PATHS = [
  '/latest/meta-data/iam/security-credentials/',
  '/computeMetadata/v1/instance/service-accounts/default/token',
  '/metadata/identity/oauth2/token?api-version=2019-08-01',
  '/latest/user-data',
  '/v2/credentials/abc',
  '/opc/v2/instance/',
];

export type Encoding = 'percent' | 'percent-all' | 'base64' | 'entity' | 'json' | 'nginx-escape' | 'unicode-u';

export const ENCODERS: Record<Encoding, (s: string) => string> = {
  percent: encodeURIComponent,
  'percent-all': (s) => [...new TextEncoder().encode(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
  base64: (s) => Buffer.from(s).toString('base64'),
  entity: (s) => [...s].map((c) => (/[a-z0-9]/i.test(c) ? c : `&#${c.codePointAt(0)};`)).join(''),
  json: (s) => JSON.stringify({ url: s }).replace(/\//g, '\\/'),
  'nginx-escape': (s) =>
    [...new TextEncoder().encode(s)]
      .map((b) => (b >= 0x80 ? `\\x${b.toString(16).toUpperCase()}` : String.fromCharCode(b)))
      .join(''),
  'unicode-u': (s) =>
    [...s].map((c) => (/[:/.]/.test(c) ? `%u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join(''),
};

/** A metadata URL put through up to three encodings, placed in a request parameter. */
export function arbitraryMetadataPayload(): fc.Arbitrary<{ text: string; encodings: Encoding[] }> {
  return fc
    .record({
      host: fc.constantFrom(...HOSTS),
      path: fc.constantFrom(...PATHS),
      scheme: fc.constantFrom('http://', 'https://', 'HTTP://', '//', 'http:\\\\', 'gopher://'),
      // Base64 is followed through at most two layers (see decode/base64.ts).
      encodings: fc
        .array(fc.constantFrom(...(Object.keys(ENCODERS) as Encoding[])), { maxLength: 3 })
        .filter((a) => a.filter((e) => e === 'base64').length <= 2)
        // A base64 layer must open onto text with a marker; percent-encoding every byte of a base64 run hides them all.
        .filter((a) => !/base64,percent-all,base64/.test(a.join(','))),
      param: fc.constantFrom('url', 'target', 'redirect_uri', 'imageUrl', 'feed'),
    })
    .map(({ host, path, scheme, encodings, param }) => {
      let v = `${scheme}${host}${path}`;
      for (const e of encodings) v = ENCODERS[e](v);
      return { text: `/api/fetch?${param}=${v}&w=1`, encodings };
    });
}
