/** Typed evidence. Sources turn what they read into these; rules and correlators read only these. */

/** Where an event came from: a file and 1-based line, or a sensor. */
export interface EventOrigin {
  file?: string;
  line?: number;
  sensor?: string;
  format?: string;
}

export interface HttpEvent {
  kind: 'http';
  origin: EventOrigin;
  /** RFC 3339 UTC, when the log says. */
  time?: string;
  method?: string;
  /** The request target exactly as logged (path+query, or absolute-form for proxies). */
  target?: string;
  host?: string;
  referer?: string;
  userAgent?: string;
  /** Other headers the format records (lower-case names). */
  headers?: Record<string, string>;
  /** Request body or other free text the format records (WAF args, eve.json). */
  body?: string;
  status?: number;
  bytes?: number;
  clientIp?: string;
  /** Other text fields the format records that could carry a payload (e.g. WAF args). */
  extra?: Record<string, string>;
}

export interface ProcessInfo {
  pid: number;
  ppid?: number;
  exe?: string;
  argv?: string[];
  uid?: number;
  user?: string;
  netns?: number;
  container?: string;
  containerRuntime?: string;
  ancestors?: Array<{ pid: number; exe?: string }>;
}

export interface ConnectEvent {
  kind: 'connect';
  origin: EventOrigin;
  time: string;
  process: ProcessInfo;
  destination: { ip: string; port: number };
  http?: { method?: string; path?: string; token: boolean; headerNames?: string[] };
  /**
   * How much of the request the sensor saw, for sensors that read payload bytes: `complete` when the whole request
   * head was read; otherwise `gap` says why not (the head was cut, a path whose payload is out of reach, …).
   * Absent for sensors that never see payload (auditd, procfs).
   */
  capture?: { complete: boolean; gap?: string };
  /** The connection was open before the sensor attached. */
  preExisting?: boolean;
  /** The pid that opened the connection, when another process sent the request on it (a forked child, a passed fd). */
  openedBy?: number;
}

export interface CloudApiEvent {
  kind: 'cloud-api';
  origin: EventOrigin;
  time: string;
  provider: 'aws' | 'gcp' | 'azure';
  eventId: string;
  eventName: string;
  eventSource?: string;
  principal?: string;
  accessKeyId?: string;
  sessionName?: string;
  sourceIp?: string;
  userAgent?: string;
  vpcEndpointId?: string;
  vpcEndpointAccountId?: string;
  recipientAccountId?: string;
  roleDelivery?: string;
  invokedBy?: string;
  errorCode?: string;
}

export interface InventoryEvent {
  kind: 'inventory';
  origin: EventOrigin;
  provider: 'aws' | 'gcp' | 'azure';
  resourceId: string;
  resourceKind: string;
  addresses: string[];
  metadataOptions: Record<string, string | number | boolean | undefined>;
}

export type ImdsEvent = HttpEvent | ConnectEvent | CloudApiEvent | InventoryEvent;
