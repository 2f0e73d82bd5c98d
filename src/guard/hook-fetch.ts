/**
 * fetch opens its socket after the call returns, from undici's own queue, so the stack at connect time no longer
 * shows who called fetch. The wrapper records the caller's stack at the call and carries it to the connect hook.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isGuardBlocked } from './blocked-error.ts';
import { captureCaller } from './caller.ts';
import { type RequestContext, type RequestLine, requestContext } from './context.ts';
import { metadataAtTarget } from './hook-http.ts';
import {
  NumberCtor,
  ReflectApply,
  StringPrototypeCharCodeAt,
  StringPrototypeSlice,
  StringPrototypeToUpperCase,
  URLCtor,
  URLPrototypeGetHostname,
  URLPrototypeGetHref,
  URLPrototypeGetPathname,
  URLPrototypeGetPort,
  URLPrototypeGetProtocol,
  URLPrototypeGetSearch,
} from './intrinsics.ts';

const run = AsyncLocalStorage.prototype.run;
const HeadersCtor = Headers;
const headersGet = Headers.prototype.get;

/** The text of what fetch was given as its URL: a string, a URL object (by its own getter), or a Request's url. */
function hrefOf(input: unknown): string | null {
  if (typeof input === 'string') return input;
  if (input === null || typeof input !== 'object') return null;
  try {
    return URLPrototypeGetHref(input as URL);
  } catch {
    // Not a URL object.
  }
  const url = (input as { url?: unknown }).url;
  return typeof url === 'string' ? url : null;
}

function targetOf(input: unknown, init: unknown): () => RequestLine {
  return () => {
    const out: RequestLine = {};
    try {
      const u = new URLCtor(hrefOf(input) ?? '');
      out.path = URLPrototypeGetPathname(u) + URLPrototypeGetSearch(u);
    } catch {
      // An unparsable input fails inside fetch itself; the guard has nothing to add.
    }
    const m = (init as { method?: unknown } | undefined)?.method ?? (input as { method?: unknown } | undefined)?.method;
    if (typeof m === 'string') out.method = StringPrototypeToUpperCase(m);
    const raw =
      (init as { headers?: unknown } | undefined)?.headers ?? (input as { headers?: unknown } | undefined)?.headers;
    if (raw !== undefined) {
      try {
        const h = new HeadersCtor(raw as ConstructorParameters<typeof Headers>[0]);
        out.header = (name) => (ReflectApply(headersGet, h, [name]) as string | null) ?? undefined;
      } catch {
        // Headers fetch itself would reject.
      }
    }
    return out;
  };
}

/** Does the URL fetch was given name a metadata service (as a canonical address or a catalogue hostname)? */
function namesMetadata(input: unknown): boolean {
  const href = hrefOf(input);
  if (href === null) return false;
  let u: URL;
  try {
    u = new URLCtor(href);
  } catch {
    return false;
  }
  let host = URLPrototypeGetHostname(u);
  if (StringPrototypeCharCodeAt(host, 0) === 91) host = StringPrototypeSlice(host, 1, host.length - 1);
  const p = URLPrototypeGetPort(u);
  const port = p ? NumberCtor(p) : URLPrototypeGetProtocol(u) === 'https:' ? 443 : 80;
  return metadataAtTarget({ host, port, path: undefined }) !== null;
}

/** The guard's error when fetch failed because of it (undici wraps it as `TypeError: fetch failed`). */
function unwrap(e: unknown): unknown {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    if ((cur as { code?: unknown }).code === 'ERR_IMDSGUARD_BLOCKED') return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return e;
}

export function hookFetch(): () => void {
  const original = globalThis.fetch;
  if (typeof original !== 'function') return () => {};
  const wrapped = function fetch(this: unknown, input: unknown, init?: unknown): Promise<Response> {
    // Only a request whose URL names a metadata service pays for the stack capture; redirects and names that
    // resolve there are caught at connect without it.
    let p: Promise<Response>;
    if (namesMetadata(input)) {
      const ctx: RequestContext = { caller: captureCaller(), via: 'fetch', target: targetOf(input, init) };
      p = ReflectApply(run, requestContext, [
        ctx,
        () => ReflectApply(original, this, [input, init]) as Promise<Response>,
      ]) as Promise<Response>;
    } else {
      // Outside any other fetch's context: code undici runs inside an SDK's fetch (a diagnostics-channel
      // subscriber, a dispatcher) could otherwise fetch a name that resolves to a metadata address as that SDK.
      p = ReflectApply(run, requestContext, [
        undefined,
        () => ReflectApply(original, this, [input, init]) as Promise<Response>,
      ]) as Promise<Response>;
    }
    return p.catch((e: unknown) => {
      throw isGuardBlocked(e) ? unwrap(e) : e;
    });
  };
  globalThis.fetch = wrapped as typeof globalThis.fetch;
  return () => {
    if (globalThis.fetch === (wrapped as unknown)) globalThis.fetch = original;
  };
}
