/**
 * node:http hands the socket its host and port but not the request line, so the guard notes which request the
 * agent is opening a socket for. `addRequest` runs synchronously down to `net.connect`, so a plain variable does.
 */
import http from 'node:http';

interface PendingRequest {
  path?: string;
  method?: string;
  getHeader?: (name: string) => unknown;
}

let pending: PendingRequest | undefined;

/** The request whose socket is being opened right now, if node:http is opening it. */
export function currentHttpRequest(): PendingRequest | undefined {
  return pending;
}

type AddRequest = (this: http.Agent, req: PendingRequest, ...rest: unknown[]) => void;

export function hookHttp(): () => void {
  const proto = http.Agent.prototype as unknown as { addRequest: AddRequest };
  const original = proto.addRequest;
  const patched: AddRequest = function addRequest(this: http.Agent, req, ...rest) {
    const prev = pending;
    pending = req;
    try {
      Reflect.apply(original, this, [req, ...rest]);
    } finally {
      pending = prev;
    }
  };
  proto.addRequest = patched;
  return () => {
    if (proto.addRequest === patched) proto.addRequest = original;
  };
}
