import fc from 'fast-check';

/** Generators of combined/common-shaped lines with random fragments in every field (shared by fast-path tests). */
const piece = fc.constantFrom(
  ' ',
  '"',
  '\\',
  '\\"',
  '[',
  ']',
  ' [',
  '] "',
  '-',
  '200',
  '5120',
  'GET',
  '/a?u=http://169.254.169.254/',
  'HTTP/1.1',
  '\t',
  '\u2028',
  '\r',
  'x',
  '%41',
  '" "',
  '::1',
  '192.0.2.1',
  '10/Oct/2026:13:55:36 +0000',
  '\u00a0',
  'é',
);
const clean = fc.constantFrom('', 'x', '/p?q=1', 'GET /a HTTP/1.1', 'https://r.example/', 'Mozilla/5.0', '-', 'a b');
const fragment = fc.oneof(
  { weight: 3, arbitrary: clean },
  { weight: 2, arbitrary: fc.array(piece, { maxLength: 6 }).map((a) => a.join('')) },
);

/** Lines shaped like combined/common with random fragments in every field, plus fully random ones. */
export const lineArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom('203.0.113.9', '::1', 'x'), fragment),
        fc.oneof(fc.constant('-'), fragment),
        fc.oneof(fc.constantFrom('-', 'frank', 'a b'), fragment),
        fc.oneof(fc.constantFrom('10/Oct/2026:13:55:36 +0000', 't'), fragment),
        fragment,
        fc.constantFrom('200', '-', '404', '302', '20', '2000'),
        fc.constantFrom('512', '-', '0', '1234', '', '12a'),
        fragment,
        fragment,
        fragment,
        fc.boolean(),
      )
      .map(
        ([ip, id, user, time, req, st, by, ref, ua, tail, pair]) =>
          `${ip || '1.2.3.4'} ${id || '-'} ${user || '-'} [${time || 't'}] "${req}" ${st} ${by}${pair ? ` "${ref}" "${ua}"` : ''}${tail}`,
      ),
  },
  { weight: 1, arbitrary: fc.array(piece, { maxLength: 25 }).map((a) => a.join('')) },
);
