/** One HTTP(S) POST with a deadline, answering status and body; the sinks decide what the status means. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface PostResult {
  status: number;
  body: string;
}

export function post(
  url: URL,
  body: string | Buffer,
  headers: Record<string, string>,
  o: { timeoutMs: number; ca?: Buffer; rejectUnauthorized?: boolean },
): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: o.timeoutMs,
        ...(url.protocol === 'https:'
          ? { ...(o.ca ? { ca: o.ca } : {}), rejectUnauthorized: o.rejectUnauthorized ?? true }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${o.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
