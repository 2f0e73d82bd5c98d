/**
 * The last point before the kernel: `connect`/`connect6` of the TCP handle class that every net socket uses
 * (and that `process.binding('tcp_wrap')` hands out to code that bypasses net). Here the address is the one the
 * system call will get, whatever options, getters or lookups came before. A metadata address is let through only
 * when the net hook already granted it to this socket; anything else is decided here, with the stack at hand
 * (usually none: net connects from the next tick), so it is refused in block mode.
 *
 * The address and port are converted once, here, the way Node converts them, and the converted values are what
 * the original gets: an address object whose `toString` answers twice, a NUL that ends the C string Node hands
 * to libuv (`'169.254.169.254\0x'`), or a port that wraps to 16 bits (`40342 + 65536`) cannot make the address
 * checked differ from the address connected to. A decision that throws (built-ins broken under it) refuses.
 *
 * The methods are replaced once per process and made read-only and non-configurable, so that code cannot put the
 * originals back; `setHandleDecider(null)` (the guard's uninstall) turns the check off without removing it. The
 * originals are called with the guard's own `Reflect.apply` (intrinsics.ts): a replaced `Reflect.apply` or
 * `Function.prototype.call` never gets them.
 */
import net from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { GuardBlockedError } from './blocked-error.ts';
import { captureCaller } from './caller.ts';
import { grant, grantCovers, grantOf, type SocketGrant } from './context.ts';
import { metadataAtAddress } from './destination.ts';
import type { Decide } from './hook-net.ts';
import {
  ObjectDefineProperty,
  ObjectGetOwnPropertySymbols,
  ProcessNextTick,
  ReflectApply,
  ReflectGetOwnPropertyDescriptor,
  ReflectGetPrototypeOf,
  StringCtor,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  SymbolPrototypeDescription,
} from './intrinsics.ts';

type HandleConnect = (this: object, req: unknown, address: string, port: number) => number;

let decider: Decide | null = null;
let installed: 'yes' | 'no' | 'unavailable' = 'no';

/** libuv's EACCES, what a handle returns when the connection is not allowed and no socket owns it. */
const UV_EACCES = [...getSystemErrorMap()].find(([, v]) => v[0] === 'EACCES')?.[0] ?? -13;

const SocketPrototype = net.Socket.prototype;
/** net's own accessor for a socket's handle (non-configurable on the prototype, so this is the one net uses). */
const socketHandleGet = ReflectGetOwnPropertyDescriptor(SocketPrototype, '_handle')?.get;
/** The streams' `destroyed` accessor (on `Duplex.prototype`), found once up the socket's prototype chain. */
const socketDestroyedGet = (() => {
  for (let p: object | null = SocketPrototype; p !== null; p = ReflectGetPrototypeOf(p)) {
    const d = ReflectGetOwnPropertyDescriptor(p, 'destroyed');
    if (d) return d.get;
  }
  return undefined;
})();
/** Taken now: `process.binding` is replaced when the guard is installed (hook-inspector.ts). */
const processBinding = (process as unknown as { binding(name: string): unknown }).binding;
const NumberCtor = Number;

/** Whether an object is a net.Socket, by its prototype chain (not `instanceof`, which reads `Symbol.hasInstance`). */
function isSocket(o: unknown): o is net.Socket {
  if (o === null || typeof o !== 'object') return false;
  for (let p = ReflectGetPrototypeOf(o); p !== null; p = ReflectGetPrototypeOf(p))
    if (p === SocketPrototype) return true;
  return false;
}

/** A socket's handle, read with net's own getter (undefined when it has none). */
export function socketHandle(socket: net.Socket): object | undefined {
  const h = socketHandleGet ? (ReflectApply(socketHandleGet, socket, []) as unknown) : undefined;
  return h !== null && typeof h === 'object' ? h : undefined;
}

/** The socket that owns a handle. */
function ownerOf(handle: object): net.Socket | undefined {
  const o = ownerMark(handle);
  // The mark is a property anyone can set on a raw handle (to an SDK's socket, even one long destroyed): a socket
  // owns a handle only if it is the socket's own handle, read with net's getter.
  return o && socketHandleGet && ReflectApply(socketHandleGet, o, []) === handle ? o : undefined;
}

/** The socket a handle names as its owner (net keeps it under a symbol of its own, found once by its description). */
let ownerSymbol: symbol | undefined;
function ownerMark(handle: object): net.Socket | undefined {
  if (!ownerSymbol) {
    const symbols = ObjectGetOwnPropertySymbols(handle);
    for (let i = 0; i < symbols.length; i++)
      if (SymbolPrototypeDescription(symbols[i]!) === 'owner_symbol') {
        ownerSymbol = symbols[i];
        break;
      }
  }
  if (!ownerSymbol) return undefined;
  const o = (handle as Record<symbol, unknown>)[ownerSymbol];
  return isSocket(o) ? o : undefined;
}

/**
 * Whether `handle` is the one the grant is for: the first handle connected under it. Another handle under the same
 * grant — one swapped into the socket after it connected — is decided on its own.
 */
function grantedHandle(g: SocketGrant, handle: object): boolean {
  if (g.handle !== null) return g.handle === handle;
  g.handle = handle;
  return true;
}

/** The address as Node will read it: a string, up to a NUL (where the C string libuv gets ends). */
function addressOf(given: unknown): string {
  const s = typeof given === 'string' ? given : StringCtor(given);
  const nul = StringPrototypeIndexOf(s, '\0');
  return nul < 0 ? s : StringPrototypeSlice(s, 0, nul);
}

/** The port as Node and libuv will read it: a 32-bit integer (Node), of which the kernel gets the low 16 bits. */
function portOf(given: unknown): number {
  return (typeof given === 'number' ? given : NumberCtor(given)) | 0;
}

function check(handle: object, address: string, port: number): number | null {
  const decide = decider;
  if (!decide) return null;
  const d = metadataAtAddress(address, port & 0xffff);
  if (!d) return null;
  const owner = ownerOf(handle);
  const g = grantOf(owner);
  if (g && grantCovers(g, d.canonical) && grantedHandle(g, handle)) return null;
  let error: Error | undefined;
  try {
    const dec = decide(d, {
      host: address,
      address,
      port: port & 0xffff,
      via: owner ? 'tcp-handle' : 'tcp-handle-unowned',
      callers: [captureCaller()],
    });
    if (dec.allowed) {
      if (owner) {
        grant(owner, d, null);
        const now = grantOf(owner);
        if (now) now.handle = handle;
      }
      return null;
    }
    error = dec.error;
  } catch {
    // A decision that cannot be made is a refusal.
  }
  // A destroyed socket reports no error: whoever connects the handle gets the refusal as its status.
  if (owner && !(socketDestroyedGet && ReflectApply(socketDestroyedGet, owner, []) === true)) {
    // As net fails a refused connection: asynchronously, through the socket's 'error', with the guard's error.
    const e =
      error ?? new GuardBlockedError(d, { host: address, address, port: port & 0xffff }, 'the check failed', '');
    ProcessNextTick(() => owner.destroy(e));
    return 0;
  }
  return UV_EACCES;
}

function tcpPrototype(): Record<string, unknown> | null {
  try {
    const binding = ReflectApply(processBinding, process, ['tcp_wrap']) as { TCP?: { prototype: object } };
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
  const connect: HandleConnect = function connect(this: object, req, given, givenPort) {
    const address = addressOf(given);
    const port = portOf(givenPort);
    const r = check(this, address, port);
    return r === null ? (ReflectApply(v4, this, [req, address, port]) as number) : r;
  };
  const connect6: HandleConnect = function connect6(this: object, req, given, givenPort) {
    const address = addressOf(given);
    const port = portOf(givenPort);
    const r = check(this, address, port);
    return r === null ? (ReflectApply(v6, this, [req, address, port]) as number) : r;
  };
  ObjectDefineProperty(proto, 'connect', { value: connect, writable: false, configurable: false, enumerable: true });
  ObjectDefineProperty(proto, 'connect6', {
    value: connect6,
    writable: false,
    configurable: false,
    enumerable: true,
  });
  installed = 'yes';
  return installed;
}
