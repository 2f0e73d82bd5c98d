// AssemblyScript, compiled to dist/wasm/combined-scan.wasm by `npm run build`.
//
// The line stage of `scan` for combined/common logs, on the chunk's bytes: for every line, find the request target,
// Referer and trailing fields exactly as `quickCombinedSpans` (src/core/parse/combined.ts) does, and answer from a
// cache of the prefilter's verdicts keyed by the field's bytes. Lines whose fields are all known clean cost no
// JavaScript at all; the others are reported to the caller (src/app/combined-scan-wasm.ts), which decides them with
// the prefilter itself and teaches the cache. The cache compares bytes exactly: a verdict never comes from a hash.

// Memory layout (bytes). The caller copies a chunk to IN_PTR and reads records back.
const SPAN_PTR: usize = 64; // up to 4 spans: [start, end) pairs of u32
const IN_PTR: usize = 1024;
const IN_CAP: usize = 1 << 20;
// A record per line that is not known clean: index, start, end, kind, first miss, miss count (u32 each).
const REC_PTR: usize = IN_PTR + IN_CAP;
const REC_CAP: usize = 1 << 17;
const REC_SIZE: usize = 24;
// Fields missing from the cache: start, end (u32 each).
const MISS_PTR: usize = REC_PTR + REC_CAP * REC_SIZE;
const MISS_CAP: usize = 1 << 17;
// The cache: per slot hash, arena offset, length (u32 each) and verdict (u32: 0 empty, 1 clean, 2 flagged).
const SLOTS: usize = 1 << 14;
const TABLE_PTR: usize = MISS_PTR + MISS_CAP * 8;
const SLOT_SIZE: usize = 16;
// Per slot: the hash of the last value that missed there (a value is kept on its second miss).
const SEEN_PTR: usize = TABLE_PTR + SLOTS * SLOT_SIZE;
const ARENA_PTR: usize = SEEN_PTR + SLOTS * 4;
const ARENA_CAP: usize = 2 << 20;
// The secret-marker tables: low and high nibble masks of the first and second byte of each anchor pair.
const MARK_PTR: usize = ARENA_PTR + ARENA_CAP;
const END_PTR: usize = MARK_PTR + 64;
const MAX_KEY: i32 = 512;

export const KIND_DOUBT: u32 = 1; // the fast path declines: the caller reads the line in full
export const KIND_FLAGGED: u32 = 2; // a field's cached verdict passes the prefilter
export const KIND_MISS: u32 = 3; // no field flagged, some not in the cache (listed as misses)

let arenaPos: usize = 0;
let missCount: i32 = 0;

export function inPtr(): usize {
  return IN_PTR;
}
export function inCap(): usize {
  return IN_CAP;
}
export function recPtr(): usize {
  return REC_PTR;
}
export function missPtr(): usize {
  return MISS_PTR;
}

/** Grow memory to the layout; call once. */
export function init(): void {
  const pages = <i32>((END_PTR + 0xffff) >> 16);
  const have = memory.size();
  if (have < pages && memory.grow(pages - have) < 0) unreachable(); // no memory: the caller falls back
  clearCache();
  initMarkers();
}

// Secret markers, exactly the core's secret prefilter (src/core/secrets/detect.ts):
//   A[KS]IA|ABIA|ACCA|STS\.|ya29\.|eyJ|[Ss][Ee][Cc][Rr][Ee][Tt]|[Tt][Oo][Kk][Ee][Nn]|PRIVATE KEY|AQA[A-Z]A|
//   IQoJ|FwoG|FQoG|AgoJ|AQoD|CAIS
// All ASCII, so testing the bytes is testing the text. Each marker holds one of these anchor pairs, grouped in
// eight buckets; a SIMD pass finds positions where a pair of a bucket may start (nibble tables), and only those are
// checked against the markers of that bucket.
function setBit(ptr: usize, bit: u32): void {
  store<u8>(ptr, <u8>(<u32>load<u8>(ptr) | bit));
}

function pair(bucket: i32, a: u32, b: u32): void {
  const bit: u32 = 1 << <u32>bucket;
  setBit(MARK_PTR + <usize>(a & 15), bit);
  setBit(MARK_PTR + 16 + <usize>(a >> 4), bit);
  setBit(MARK_PTR + 32 + <usize>(b & 15), bit);
  setBit(MARK_PTR + 48 + <usize>(b >> 4), bit);
}

function initMarkers(): void {
  memory.fill(MARK_PTR, 0, 64);
  // 0: secret, at "cr" in any case
  pair(0, 99, 114);
  pair(0, 99, 82);
  pair(0, 67, 114);
  pair(0, 67, 82);
  // 1: token, at "ok" in any case
  pair(1, 111, 107);
  pair(1, 111, 75);
  pair(1, 79, 107);
  pair(1, 79, 75);
  // 2: eyJ at "yJ"
  pair(2, 121, 74);
  // 3: STS. at "S.", ya29. at "a2"
  pair(3, 83, 46);
  pair(3, 97, 50);
  // 4: PRIVATE KEY at "VA", CAIS at "CA"
  pair(4, 86, 65);
  pair(4, 67, 65);
  // 5: AKIA ASIA ABIA ACCA AQA?A AgoJ AQoD at "A" and the next letter
  pair(5, 65, 75);
  pair(5, 65, 83);
  pair(5, 65, 66);
  pair(5, 65, 67);
  pair(5, 65, 81);
  pair(5, 65, 103);
  // 6: IQoJ at "IQ"
  pair(6, 73, 81);
  // 7: FwoG, FQoG at "Fw", "FQ"
  pair(7, 70, 119);
  pair(7, 70, 81);
}

@inline function lower(c: u32): u32 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Whether bytes [q, q + s.length) of the chunk of `len` bytes are the ASCII string s (q may be out of range). */
function isAt(q: i32, len: i32, s: string, caseless: bool): bool {
  const n = s.length;
  if (q < 0 || q + n > len) return false;
  for (let i = 0; i < n; i++) {
    const c = at(q + i);
    const w = <u32>s.charCodeAt(i);
    if (caseless ? lower(c) != w : c != w) return false;
  }
  return true;
}

@inline function isUpper(c: u32): bool {
  return c >= 65 && c <= 90;
}

/** The markers of `bits`' buckets, checked around an anchor pair starting at q. */
function markerAt(q: i32, len: i32, bits: u32): bool {
  if (bits & 1 && isAt(q - 2, len, 'secret', true)) return true;
  if (bits & 2 && isAt(q - 1, len, 'token', true)) return true;
  if (bits & 4 && isAt(q - 1, len, 'eyJ', false)) return true;
  if (bits & 8 && (isAt(q - 2, len, 'STS.', false) || isAt(q - 1, len, 'ya29.', false))) return true;
  if (bits & 16 && (isAt(q - 3, len, 'PRIVATE KEY', false) || isAt(q, len, 'CAIS', false))) return true;
  if (bits & 32 && q + 4 <= len && at(q) == 65) {
    const c1 = at(q + 1);
    if ((c1 == 75 || c1 == 83 || c1 == 66) && at(q + 2) == 73 && at(q + 3) == 65) return true; // AKIA ASIA ABIA
    if (isAt(q, len, 'ACCA', false) || isAt(q, len, 'AgoJ', false) || isAt(q, len, 'AQoD', false)) return true;
    if (q + 5 <= len && c1 == 81 && at(q + 2) == 65 && isUpper(at(q + 3)) && at(q + 4) == 65) return true; // AQA?A
  }
  if (bits & 64 && isAt(q, len, 'IQoJ', false)) return true;
  if (bits & 128 && (isAt(q, len, 'FwoG', false) || isAt(q, len, 'FQoG', false))) return true;
  return false;
}

@inline function bucketsAt(q: i32, len: i32): u32 {
  if (q + 1 >= len) return 0;
  const a = at(q);
  const b = at(q + 1);
  return (
    <u32>load<u8>(MARK_PTR + <usize>(a & 15)) &
    <u32>load<u8>(MARK_PTR + 16 + <usize>(a >> 4)) &
    <u32>load<u8>(MARK_PTR + 32 + <usize>(b & 15)) &
    <u32>load<u8>(MARK_PTR + 48 + <usize>(b >> 4))
  );
}

/** Whether the chunk of `len` bytes at IN_PTR holds a secret marker (the core's secret prefilter, on bytes). */
export function secretMarkers(len: i32): bool {
  const lo0 = v128.load(MARK_PTR);
  const hi0 = v128.load(MARK_PTR + 16);
  const lo1 = v128.load(MARK_PTR + 32);
  const hi1 = v128.load(MARK_PTR + 48);
  const nib = i8x16.splat(15);
  let p = 0;
  while (p + 17 <= len) {
    const v = v128.load(IN_PTR + <usize>p);
    const w = v128.load(IN_PTR + <usize>p + 1);
    const first = v128.and(i8x16.swizzle(lo0, v128.and(v, nib)), i8x16.swizzle(hi0, i8x16.shr_u(v, 4)));
    const second = v128.and(i8x16.swizzle(lo1, v128.and(w, nib)), i8x16.swizzle(hi1, i8x16.shr_u(w, 4)));
    const m = v128.and(first, second);
    if (v128.any_true(m)) {
      for (let i = 0; i < 16; i++) {
        const bits = bucketsAt(p + i, len);
        if (bits != 0 && markerAt(p + i, len, bits)) return true;
      }
    }
    p += 16;
  }
  for (; p < len; p++) {
    const bits = bucketsAt(p, len);
    if (bits != 0 && markerAt(p, len, bits)) return true;
  }
  return false;
}

function clearCache(): void {
  memory.fill(TABLE_PTR, 0, SLOTS * SLOT_SIZE + SLOTS * 4);
  arenaPos = 0;
}

@inline function at(p: usize): u32 {
  return <u32>load<u8>(IN_PTR + p);
}

@inline function isDigit(c: u32): bool {
  return c - 48 < 10;
}

@inline function isToken(c: u32): bool {
  return c >= 33 && c <= 126;
}

@inline function isAsciiSpace(c: u32): bool {
  return c == 32 || (c >= 9 && c <= 13);
}

/** The first index in [p, end) holding byte c, or end: sixteen bytes at a time. */
function findByte(p: i32, end: i32, c: u8): i32 {
  const needle = i8x16.splat(c);
  while (p + 16 <= end) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(IN_PTR + <usize>p), needle));
    if (m != 0) return p + <i32>ctz(m);
    p += 16;
  }
  while (p < end && at(p) != <u32>c) p++;
  return p;
}

/** `closingQuote` within [i, end): the first `"` with an even number of backslashes before it, or -1. */
function closingQuote(i: i32, end: i32): i32 {
  let k = findByte(i, end, 34);
  while (k < end) {
    let bs = 0;
    let j = k - 1;
    while (j >= i && at(j) == 92) {
      bs++;
      j--;
    }
    if ((bs & 1) == 0) return k;
    k = findByte(k + 1, end, 34);
  }
  return -1;
}

@inline function upper(c: u32): u32 {
  return c >= 97 && c <= 122 ? c - 32 : c;
}

/** `HTTP/d`, `RTSP/d` or `HTTPS/d` (letters in any case) at i, within [.., b). */
function isProtocolAt(i: i32, b: i32): bool {
  if (i + 6 <= b) {
    const c0 = upper(at(i));
    const c1 = upper(at(i + 1));
    const c2 = upper(at(i + 2));
    const c3 = upper(at(i + 3));
    const http = c0 == 72 && c1 == 84 && c2 == 84 && c3 == 80; // HTTP
    const rtsp = c0 == 82 && c1 == 84 && c2 == 83 && c3 == 80; // RTSP
    if ((http || rtsp) && at(i + 4) == 47 && isDigit(at(i + 5))) return true;
    if (http && i + 7 <= b && upper(at(i + 4)) == 83 && at(i + 5) == 47 && isDigit(at(i + 6))) return true;
  }
  return false;
}

@inline function isMethodChar(c: u32): bool {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45;
}

@inline function setSpan(n: i32, a: i32, b: i32): void {
  store<u32>(SPAN_PTR + (<usize>n << 3), a);
  store<u32>(SPAN_PTR + (<usize>n << 3) + 4, b);
}

/** `requestTargetSpan`: 1 with the span written as span n, 0 when there is no target, -1 to decline. */
function requestTarget(a: i32, b: i32, n: i32): i32 {
  if (b > a) {
    const c0 = at(a);
    const c1 = at(b - 1);
    if (c0 <= 32 || c0 >= 128 || c1 <= 32 || c1 >= 128) return -1;
  }
  if (b <= a || (b == a + 1 && at(a) == 45)) return 0;
  let ta = a;
  let tb = b;
  const first = findByte(a, b, 32);
  if (first < b && first - a <= 20) {
    let method = true;
    for (let k = a; k < first; k++) {
      if (!isMethodChar(at(k))) {
        method = false;
        break;
      }
    }
    if (method) {
      ta = first + 1;
      let last = b - 1;
      while (last > first && at(last) != 32) last--;
      if (last > first && isProtocolAt(last + 1, b)) tb = last;
    }
  }
  if (tb <= ta) return 0;
  setSpan(n, ta, tb);
  return 1;
}

/** `quickCombinedSpans` on bytes [start, end): the number of spans written, or -1. */
function spans(start: i32, end: i32): i32 {
  let k = start;
  let c: u32 = 0;
  while (k < end) {
    c = at(k);
    if (c == 32) break;
    if (!isToken(c)) return -1;
    k++;
  }
  if (k >= end || k == start) return -1;
  const s1 = k++;
  while (k < end) {
    c = at(k);
    if (c == 32) break;
    if (!isToken(c)) return -1;
    k++;
  }
  if (k >= end || k == s1 + 1) return -1;
  const s2 = k;
  if (at(s2 + 1) == 91) return -1;
  k = s2 + 1;
  while (k + 1 < end && !(at(k) == 32 && at(k + 1) == 91)) k++;
  if (k + 1 >= end || k < s2 + 2) return -1;
  const lb = k;
  if (lb + 2 >= end || at(lb + 2) == 93) return -1;
  const rb = findByte(lb + 3, end, 93);
  if (rb + 2 >= end || at(rb + 1) != 32 || at(rb + 2) != 34) return -1;
  const reqEnd = closingQuote(rb + 3, end);
  if (reqEnd < 0 || reqEnd + 1 >= end || at(reqEnd + 1) != 32) return -1;
  const st = reqEnd + 2;
  let stEnd: i32;
  if (st + 3 < end && isDigit(at(st)) && isDigit(at(st + 1)) && isDigit(at(st + 2))) stEnd = st + 3;
  else if (st + 1 < end && at(st) == 45) stEnd = st + 1;
  else return -1;
  if (at(stEnd) != 32) return -1;
  k = stEnd + 1;
  while (k < end) {
    c = at(k);
    if (c == 32) break;
    if (!isDigit(c) && !(c == 45 && k == stEnd + 1)) return -1;
    k++;
  }
  const byEnd = k;
  if (byEnd == stEnd + 1) return -1;
  if (at(stEnd + 1) == 45 && byEnd != stEnd + 2) return -1;
  let n = 0;
  const t = requestTarget(rb + 3, reqEnd, 0);
  if (t < 0) return -1;
  n += t;
  let rest = byEnd;
  if (byEnd + 1 < end && at(byEnd) == 32 && at(byEnd + 1) == 34) {
    const refEnd = closingQuote(byEnd + 2, end);
    if (refEnd >= 0 && refEnd + 2 < end && at(refEnd + 1) == 32 && at(refEnd + 2) == 34) {
      const uaEnd = closingQuote(refEnd + 3, end);
      if (uaEnd >= 0) {
        const ra = byEnd + 2;
        const empty = refEnd == ra || (refEnd == ra + 1 && at(ra) == 45);
        if (!empty) {
          setSpan(n, ra, refEnd);
          n++;
        }
        rest = uaEnd + 1;
      }
    }
  }
  if (rest < end) {
    let ta = rest;
    let tb = end;
    while (ta < tb && isAsciiSpace(at(ta))) ta++;
    while (tb > ta && isAsciiSpace(at(tb - 1))) tb--;
    if (ta < tb) {
      if (at(ta) >= 128 || at(tb - 1) >= 128) return -1;
      setSpan(n, ta, tb);
      n++;
    }
  }
  return n;
}

function hashOf(a: i32, b: i32): u32 {
  let h: u32 = 0x811c9dc5 ^ <u32>(b - a);
  let k = a;
  while (k + 4 <= b) {
    h = (h ^ load<u32>(IN_PTR + <usize>k)) * 0x01000193;
    h ^= h >> 13;
    k += 4;
  }
  while (k < b) {
    h = (h ^ at(k)) * 0x01000193;
    k++;
  }
  return h ^ (h >> 15);
}

@inline function slotOf(h: u32): usize {
  return TABLE_PTR + <usize>(h & <u32>(SLOTS - 1)) * SLOT_SIZE;
}

/** The cached verdict of span [a, b): 1 clean, 2 flagged, 0 not known. */
function lookup(a: i32, b: i32, h: u32): u32 {
  const s = slotOf(h);
  const v = load<u32>(s + 12);
  if (v == 0 || load<u32>(s) != h || load<u32>(s + 8) != <u32>(b - a)) return 0;
  return memory.compare(ARENA_PTR + <usize>load<u32>(s + 4), IN_PTR + <usize>a, <usize>(b - a)) == 0 ? v : 0;
}

/** The caller's verdict for span [a, b) of the current chunk (a value is kept on its second miss). */
export function learn(a: i32, b: i32, flagged: bool): void {
  const len = b - a;
  if (len > MAX_KEY) return;
  const h = hashOf(a, b);
  const seen = SEEN_PTR + <usize>(h & <u32>(SLOTS - 1)) * 4;
  if (load<u32>(seen) != h) {
    store<u32>(seen, h);
    return;
  }
  // A full arena starts over with an empty cache: no entry may point at bytes written over.
  if (arenaPos + <usize>len > ARENA_CAP) clearCache();
  memory.copy(ARENA_PTR + arenaPos, IN_PTR + <usize>a, <usize>len);
  const s = slotOf(h);
  store<u32>(s, h);
  store<u32>(s + 4, <u32>arenaPos);
  store<u32>(s + 8, <u32>len);
  store<u32>(s + 12, flagged ? 2 : 1);
  arenaPos += <usize>len;
}

/** Whether the chunk's lines (cut at LF, a CR before LF removed) hold a lone CR, U+2028 or U+2029. */
function hasBreaks(len: i32): bool {
  const cr = i8x16.splat(13);
  const e2 = i8x16.splat(<i8>0xe2);
  let p = 0;
  // Most chunks hold neither byte: skip them sixteen at a time, then look closely from the first one seen.
  while (p + 16 <= len) {
    const v = v128.load(IN_PTR + <usize>p);
    if (i8x16.bitmask(v128.or(i8x16.eq(v, cr), i8x16.eq(v, e2))) != 0) break;
    p += 16;
  }
  for (let k = p; k < len; k++) {
    const c = at(k);
    if (c == 13) {
      if (k + 1 < len && at(k + 1) != 10) return true;
    } else if (c == 0xe2 && k + 2 < len && at(k + 1) == 0x80) {
      const d = at(k + 2);
      if (d == 0xa8 || d == 0xa9) return true;
    }
  }
  return false;
}

function record(n: i32, index: i32, start: i32, end: i32, kind: u32, firstMiss: i32, misses: i32): void {
  const r = REC_PTR + <usize>n * REC_SIZE;
  store<u32>(r, index);
  store<u32>(r + 4, start);
  store<u32>(r + 8, end);
  store<u32>(r + 12, kind);
  store<u32>(r + 16, firstMiss);
  store<u32>(r + 20, misses);
}

/**
 * Scan the chunk of `len` bytes at IN_PTR (whole lines, valid UTF-8 without NUL, checked by the caller). Returns
 * the number of records, or -1 when they do not fit (the caller then takes its own path for this chunk).
 */
export function scan(len: i32): i32 {
  const noBreaks = !hasBreaks(len);
  let pos = 0;
  let index = 0;
  let n = 0;
  missCount = 0;
  while (pos < len) {
    const nl = findByte(pos, len, 10);
    let end = nl;
    if (end > pos && at(end - 1) == 13) end--;
    if (end > pos) {
      let kind: u32 = 0;
      const firstMiss = missCount;
      if (at(pos) == 35 || !noBreaks) kind = KIND_DOUBT;
      else {
        const k = spans(pos, end);
        if (k < 0) kind = KIND_DOUBT;
        else {
          for (let j = 0; j < k; j++) {
            const a = <i32>load<u32>(SPAN_PTR + (<usize>j << 3));
            const b = <i32>load<u32>(SPAN_PTR + (<usize>j << 3) + 4);
            const v = b - a > MAX_KEY ? 0 : lookup(a, b, hashOf(a, b));
            if (v == 2) {
              kind = KIND_FLAGGED;
              break;
            }
            if (v == 0) {
              if (<usize>missCount >= MISS_CAP) return -1;
              store<u32>(MISS_PTR + (<usize>missCount << 3), a);
              store<u32>(MISS_PTR + (<usize>missCount << 3) + 4, b);
              missCount++;
              kind = KIND_MISS;
            }
          }
          if (kind == KIND_FLAGGED) missCount = firstMiss;
        }
      }
      if (kind != 0) {
        if (<usize>n >= REC_CAP) return -1;
        record(n, index, pos, end, kind, firstMiss, missCount - firstMiss);
        n++;
      }
    }
    pos = nl + 1;
    index++;
  }
  return n;
}

/** For tests: the spans of line [start, end) of the chunk at IN_PTR (count, written at SPAN_PTR), or -1. */
export function spansOf(start: i32, end: i32): i32 {
  return spans(start, end);
}

export function spanPtr(): usize {
  return SPAN_PTR;
}
