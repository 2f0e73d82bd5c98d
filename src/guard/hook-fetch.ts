/**
 * fetch opens its socket after the call returns, from undici's own queue, so the stack at connect time no longer
 * shows who called fetch. The wrapper records the caller's stack at the call and carries it to the connect hook.
 */
import { isIP } from 'node:net';
import { isGuardBlocked } from './blocked-error.ts';
import { captureCaller } from './caller.ts';
import { type RequestContext, type RequestLine, requestContext } from './context.ts';
import { metadataAtAddress, metadataAtHostname } from './destination.ts';

function targetOf(input: unknown, init: unknown): () => RequestLine {
  return () => {
    const out: RequestLine = {};
    try {
      const href =
        typeof input === 'string' || input instanceof URL ? String(input) : String((input as { url?: unknown }).url);
      const u = new URL(href);
      out.path = u.pathname + u.search;
    } catch {
      // An unparsable input fails inside fetch itself; the guard has nothing to add.
    }
    const m = (init as { method?: unknown } | undefined)?.method ?? (input as { method?: unknown } | undefined)?.method;
    if (typeof m === 'string') out.method = m.toUpperCase();
    const raw =
      (init as { headers?: unknown } | undefined)?.headers ?? (input as { headers?: unknown } | undefined)?.headers;
    if (raw !== undefined) {
      try {
        const h = new Headers(raw as ConstructorParameters<typeof Headers>[0]);
        out.header = (name) => h.get(name) ?? undefined;
      } catch {
        // Headers fetch itself would reject.
      }
    }
    return out;
  };
}

/** Does the URL fetch was given name a metadata service (as a canonical address or a catalogue hostname)? */
function namesMetadata(input: unknown): boolean {
  let href: string;
  if (typeof input === 'string') href = input;
  else if (input instanceof URL) href = input.href;
  else if (input && typeof (input as { url?: unknown }).url === 'string') href = (input as { url: string }).url;
  else return false;
  let u: URL;
  try {
    u = new URL(href);
  } catch {
    return false;
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return (isIP(host) !== 0 ? metadataAtAddress(host, port) : metadataAtHostname(host, port)) !== null;
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
      p = requestContext.run(ctx, () => Reflect.apply(original, this, [input, init]) as Promise<Response>);
    } else {
      p = Reflect.apply(original, this, [input, init]) as Promise<Response>;
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
