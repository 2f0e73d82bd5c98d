/**
 * Request context that must cross async boundaries: fetch (undici) opens its socket later than the call that
 * asked for it, so the caller's stack and the request line travel in an AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallerStack } from './caller.ts';

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

/** Marks sockets the guard let through to a metadata service, so they are not pooled for someone else. */
export const kMetadataSocket: unique symbol = Symbol.for('imdsguard.metadataSocket');
/** The context of the request an undici Request object was created for. */
export const kRequestContext: unique symbol = Symbol.for('imdsguard.requestContext');
