/**
 * The last point before the kernel: `connect`/`connect6` of the TCP handle class that every net socket uses
 * (and that `process.binding('tcp_wrap')` hands out to code that bypasses net). Here the address is the one the
 * system call will get, whatever options, getters or lookups came before. A metadata address is let through only
 * when the net hook already granted it to this socket; anything else is decided here, with the stack at hand
 * (usually none: net connects from the next tick), so it is refused in block mode.
 *
 * The methods are replaced once per process and made read-only and non-configurable, so that code cannot put the
 * originals back; `setHandleDecider(null)` (the guard's uninstall) turns the check off without removing it.
 */
import net from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { captureCaller } from './caller.ts';
import { grant, grantOf } from './context.ts';
import { metadataAtAddress } from './destination.ts';
import type { Decide } from './hook-net.ts';

type HandleConnect = (this: object, req: unknown, address: string, port: number) => number;

let decider: Decide | null = null;
let installed: 'yes' | 'no' | 'unavailable' = 'no';

/** libuv's EACCES, what a handle returns when the connection is not allowed and no socket owns it. */
const UV_EACCES = [...getSystemErrorMap()].find(([, v]) => v[0] === 'EACCES')?.[0] ?? -13;

/** The socket that owns a handle (net keeps it under a symbol of its own, found once by its description). */
let ownerSymbol: symbol | undefined;
function ownerOf(handle: object): object | undefined {
  if (!ownerSymbol) ownerSymbol = Object.getOwnPropertySymbols(handle).find((s) => s.description === 'owner_symbol');
  if (!ownerSymbol) return undefined;
  const o = (handle as Record<symbol, unknown>)[ownerSymbol];
  return o instanceof net.Socket ? o : undefined;
}

function check(handle: object, address: string, port: number): number | null {
  const decide = decider;
  if (!decide) return null;
  const d = metadataAtAddress(address, port);
  if (!d) return null;
  const owner = ownerOf(handle);
  const g = grantOf(owner);
  if (g && (g.addresses === null || g.addresses.has(d.canonical))) return null;
  const dec = decide(d, {
    host: address,
    address,
    port,
    via: owner ? 'tcp-handle' : 'tcp-handle-unowned',
    callers: [captureCaller()],
  });
  if (dec.allowed) {
    if (owner) grant(owner, d, null);
    return null;
  }
  if (owner) {
    // As net fails a refused connection: asynchronously, through the socket's 'error', with the guard's error.
    const socket = owner as net.Socket;
    process.nextTick(() => socket.destroy(dec.error));
    return 0;
  }
  return UV_EACCES;
}

function tcpPrototype(): Record<string, unknown> | null {
  try {
    const binding = (process as unknown as { binding(name: string): { TCP?: { prototype: object } } }).binding(
      'tcp_wrap',
    );
    return (binding.TCP?.prototype as Record<string, unknown> | undefined) ?? null;
  } catch {
    return null;
  }
}

/** Install the handle check once per process; later calls only change who decides. */
export function setHandleDecider(d: Decide | null): 'yes' | 'unavailable' {
  decider = d;
  if (installed !== 'no') return installed === 'yes' ? 'yes' : 'unavailable';
  const proto = tcpPrototype();
  const c4 = proto?.connect;
  const c6 = proto?.connect6;
  const desc = proto ? Object.getOwnPropertyDescriptor(proto, 'connect') : undefined;
  if (!proto || typeof c4 !== 'function' || typeof c6 !== 'function' || !desc?.configurable) {
    // Another copy of the guard holds it already, or this Node has no such binding.
    installed = 'unavailable';
    return installed;
  }
  const v4 = c4 as HandleConnect;
  const v6 = c6 as HandleConnect;
  const connect: HandleConnect = function connect(this: object, req, address, port) {
    const r = check(this, address, port);
    return r === null ? Reflect.apply(v4, this, [req, address, port]) : r;
  };
  const connect6: HandleConnect = function connect6(this: object, req, address, port) {
    const r = check(this, address, port);
    return r === null ? Reflect.apply(v6, this, [req, address, port]) : r;
  };
  Object.defineProperty(proto, 'connect', { value: connect, writable: false, configurable: false, enumerable: true });
  Object.defineProperty(proto, 'connect6', {
    value: connect6,
    writable: false,
    configurable: false,
    enumerable: true,
  });
  installed = 'yes';
  return installed;
}
