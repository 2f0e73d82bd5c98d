import type { Transform } from '../model/hit.ts';
import { findBase64Urls } from './base64.ts';
import { decodeCharCodeCalls, hasCharCodeCall } from './charcodes.ts';
import { decodeEntities } from './entities.ts';
import { decodeBackslashEscapes } from './escapes.ts';
import { findHexUrls } from './hex-url.ts';
import { hasScriptJoin, joinScriptStrings } from './js-concat.ts';
import { percentDecodeFixpoint, percentTransform } from './percent.ts';
import { decodeSlugHex, hasSlugHex } from './slug.ts';
import { foldUnicode, hasNonAscii } from './unicode.ts';

/** The input as seen after undoing some encodings, with the encodings undone, in order. */
export interface View {
  text: string;
  transforms: Transform[];
  /** The view is the decoded header or claims of a token (a JWT): its values are data, not destinations. */
  claims?: boolean;
}

const JWT = /\beyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*/g;

/** The decoded header and claims of every JWT in the text. */
function jwtParts(s: string): Set<string> {
  const out = new Set<string>();
  if (!s.includes('eyJ')) return out;
  for (const m of s.matchAll(JWT)) {
    for (const seg of m[0].split('.').slice(0, 2)) out.add(Buffer.from(seg, 'base64url').toString('utf8'));
  }
  return out;
}

const MAX_VIEWS = 16;
const MAX_DEPTH = 6;

type Decoder = (v: View) => View[];

const decoders: Decoder[] = [
  (v) => {
    if (!v.text.includes('%')) return [];
    const r = percentDecodeFixpoint(v.text);
    return r.rounds > 0 ? [{ text: r.text, transforms: [...v.transforms, percentTransform(r.rounds)] }] : [];
  },
  (v) => {
    if (!v.text.includes('&')) return [];
    const t = decodeEntities(v.text);
    return t !== v.text ? [{ text: t, transforms: [...v.transforms, 'html-entity'] }] : [];
  },
  (v) => {
    if (!hasScriptJoin(v.text)) return [];
    return [{ text: joinScriptStrings(v.text), transforms: [...v.transforms, 'js-concat'] }];
  },
  (v) => {
    if (!v.text.includes('\\')) return [];
    const t = decodeBackslashEscapes(v.text);
    return t !== v.text ? [{ text: t, transforms: [...v.transforms, 'backslash-escape'] }] : [];
  },
  (v) => {
    if (!hasNonAscii(v.text)) return [];
    const t = foldUnicode(v.text);
    return t !== v.text ? [{ text: t, transforms: [...v.transforms, 'unicode-nfkc'] }] : [];
  },
  (v) => {
    if (!hasSlugHex(v.text)) return [];
    const t = decodeSlugHex(v.text);
    return t !== v.text ? [{ text: t, transforms: [...v.transforms, 'hex-slug'] }] : [];
  },
  (v) => {
    if (!/[+]/.test(v.text) || !/[\r\n]|%0[ad]/i.test(v.text)) return [];
    return [{ text: v.text.replace(/\+/g, ' '), transforms: [...v.transforms, 'plus-space'] }];
  },
  (v) => {
    // WHATWG removes tab and newline anywhere in a URL.
    if (!/[\t\r\n]/.test(v.text)) return [];
    return [{ text: v.text.replace(/[\t\r\n]+/g, ''), transforms: [...v.transforms, 'whitespace-stripped'] }];
  },
  (v) => {
    if (v.text.length < 12) return [];
    const found = findBase64Urls(v.text);
    if (found.length === 0) return [];
    const claims = jwtParts(v.text);
    return found.map((t) => ({
      text: t,
      transforms: [...v.transforms, 'base64'],
      ...(claims.has(t) ? { claims: true } : {}),
    }));
  },
  (v) => {
    if (v.text.length < 16) return [];
    return findHexUrls(v.text).map((t) => ({ text: t, transforms: [...v.transforms, 'hex-url'] }));
  },
  (v) => {
    if (!hasCharCodeCall(v.text)) return [];
    const t = decodeCharCodeCalls(v.text);
    return t !== v.text ? [{ text: t, transforms: [...v.transforms, 'js-charcode'] }] : [];
  },
];

/**
 * Every view of `text` reachable by undoing the supported encodings in any order (bounded), the input first,
 * then by increasing number of transforms. Decoders only ever add views; the input is always kept, so a decoder
 * that misreads benign text cannot hide what was there.
 */
export function decodeViews(text: string): View[] {
  const views: View[] = [{ text, transforms: [] }];
  const seen = new Set([text]);
  for (let i = 0; i < views.length && views.length < MAX_VIEWS; i++) {
    const v = views[i]!;
    if (v.transforms.length >= MAX_DEPTH) continue;
    for (const d of decoders) {
      for (const nv of d(v)) {
        if (seen.has(nv.text)) continue;
        seen.add(nv.text);
        views.push(v.claims ? { ...nv, claims: true } : nv);
        if (views.length >= MAX_VIEWS) return views;
      }
    }
  }
  return views;
}
