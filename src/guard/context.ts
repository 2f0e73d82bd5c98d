/**
 * Request context that must cross async boundaries: fetch (undici) opens its socket later than the call that
 * asked for it, so the caller's stack and the request line travel in an AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallerStack } from './caller.ts';
import {
  ReflectApply,
  SetPrototypeAdd,
  SetPrototypeHas,
  WeakMapPrototypeGet,
  WeakMapPrototypeSet,
} from './intrinsics.ts';

/** What the guard knows of the request a socket is opened for. */
export interface RequestLine {
  path?: string;
  method?: string;
  /** A request header by (case-insensitive) name. */
  header?: (name: string) => string | undefined;
}

export interface RequestContext {
  caller: CallerStack;
  via: 'fetch';
  /** Computed only when needed: parsing every URL would cost more than the whole check. */
  target: () => RequestLine;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/**
 * What the guard let a socket do: connect to these metadata addresses (canonical; `null` = whatever the catalogue
 * hostname it was allowed by resolves to) for this request. Any other request handed the socket later (an agent's
 * queue, a pool) is checked again, and the TCP handle refuses a metadata address it was not granted.
 */
export interface SocketGrant {
  addresses: Set<string> | null;
  /** The canonical destination the grant was for (address or catalogue hostname) and its kind. */
  canonical: string;
  kind: 'ipv4' | 'ipv6' | 'hostname';
  port: number | null;
  /** The request (node:http ClientRequest) the decision was made for, when node:http opened the socket. */
  request: object | null;
  /**
   * The TCP handle that connected under this grant: the socket's own handle at its first connect. A grant is the
   * socket's, not its handle's, and the owner of a handle is a property anyone can set (a raw handle whose owner
   * is set to an SDK's socket, even one long destroyed): any other handle is decided on its own.
   */
  handle: object | null;
}

/**
 * Grants are kept in a map private to this copy of the guard, not on the socket: a property (even under a private
 * symbol, which `Object.getOwnPropertySymbols` lists) could be copied from a granted socket to any other object.
 */
const grants = new WeakMap<object, SocketGrant>();

/** The grant on a socket, if the guard gave it one. */
export function grantOf(socket: object | null | undefined): SocketGrant | undefined {
  if (socket === null || (typeof socket !== 'object' && typeof socket !== 'function')) return undefined;
  return WeakMapPrototypeGet(grants, socket);
}

/** Record that the guard let `socket` reach `canonical` (null addresses: any address of a catalogue hostname). */
export function grant(
  socket: object,
  d: { canonical: string; kind: 'ipv4' | 'ipv6' | 'hostname'; port: number | null },
  request: object | null,
): void {
  const g = grantOf(socket);
  if (g) {
    // A new grant is a new connection of the socket (net calls connect again): its handle is not connected yet.
    g.handle = null;
    if (d.kind === 'hostname') g.addresses = null;
    else if (g.addresses !== null) SetPrototypeAdd(g.addresses, d.canonical);
    return;
  }
  const addresses = d.kind === 'hostname' ? null : new Set<string>();
  if (addresses !== null) SetPrototypeAdd(addresses, d.canonical);
  WeakMapPrototypeSet(grants, socket, {
    addresses,
    canonical: d.canonical,
    kind: d.kind,
    port: d.port,
    request,
    handle: null,
  });
}

/** Whether a grant covers a canonical address. */
export function grantCovers(g: SocketGrant, canonical: string): boolean {
  return g.addresses === null || SetPrototypeHas(g.addresses, canonical);
}
/**
 * State the guard keeps about an object (a socket, a request) that is not the object's: a property, even under a
 * private symbol (which `Object.getOwnPropertySymbols` lists), could be read from one object and copied to
 * another, or cleared. A map private to this copy of the guard holds it instead.
 */
export interface PrivateSlot<V> {
  get(o: object | null | undefined): V | undefined;
  set(o: object, v: V): void;
}

export function privateSlot<V>(): PrivateSlot<V> {
  const m = new WeakMap<object, V>();
  return {
    get: (o) =>
      o === null || (typeof o !== 'object' && typeof o !== 'function') ? undefined : WeakMapPrototypeGet(m, o),
    set: (o, v) => {
      WeakMapPrototypeSet(m, o, v);
    },
  };
}

/** The context of the request an undici Request object was created for. */
export const requestContextOf = privateSlot<RequestContext>();

/**
 * The request line the guard checked where a client built it: node:http's (on the ClientRequest) and undici's (the
 * head it announced, on the socket). The socket-write check skips exactly that line, and nothing else written on the
 * same socket: a line put into a private field afterwards, or written by hand, is checked there.
 */
export const checkedLineOf = privateSlot<string | undefined>();

/** The context fetch runs in, read with the guard's own `getStore`. */
const getStore = AsyncLocalStorage.prototype.getStore;
export function currentRequestContext(): RequestContext | undefined {
  return ReflectApply(getStore, requestContext, []) as RequestContext | undefined;
}
