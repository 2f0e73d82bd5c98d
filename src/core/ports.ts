import type { ImdsEvent } from './model/event.ts';
import type { Finding } from './model/finding.ts';

/** One line of input with where it came from (1-based line). */
export interface SourceLine {
  file: string;
  line: number;
  text: string;
}

/** A stream of lines (files, stdin, tail). */
export interface LineSource {
  lines(): AsyncIterable<SourceLine>;
}

/** A stream of typed events (sensors, proxies, audit logs). */
export interface EventSource {
  events(): AsyncIterable<ImdsEvent>;
}

/** Where records go. `close` flushes. */
export interface FindingSink {
  write(record: Finding | Record<string, unknown>): void | Promise<void>;
  close(): Promise<void>;
}

/** Durable key/value state for baselines and correlation windows. */
export interface Store {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  close(): Promise<void>;
}

/** Time is a value: the core never reads the clock itself. */
export interface Clock {
  nowMs(): number;
}
