/**
 * A plain forward proxy for the guard tests, run inside the test network namespace as a process of its own (so
 * the guard in the client process does not sit in it): absolute-form requests are forwarded, CONNECT is tunnelled,
 * nothing is filtered. It stands for the proxy an application is configured to use; what reaches the fake
 * metadata service through it is what the guard in the client must stop.
 * Usage: node --import tsx test/guard/_forward-proxy.ts PORT   (prints "ready" when listening)
 */
import http from 'node:http';
import net from 'node:net';

const port = Number(process.argv[2] ?? 3128);

const server = http.createServer((req, res) => {
  let target: URL;
  try {
    target = new URL(req.url ?? '');
  } catch {
    res.writeHead(400).end('absolute-form target expected\n');
    return;
  }
  const up = http.request(
    {
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || 80,
      path: target.pathname + target.search,
      method: req.method,
      headers: req.headers,
    },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  up.on('error', (e) => res.writeHead(502).end(`upstream: ${e.message}\n`));
  req.pipe(up);
});
server.on('connect', (req, client, head) => {
  const [host, p] = (req.url ?? '').split(/:(?=\d+$)/);
  const up = net.connect({ host: host!.replace(/^\[|\]$/g, ''), port: Number(p) }, () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    up.write(head);
    up.pipe(client);
    client.pipe(up);
  });
  up.on('error', () => client.destroy());
  client.on('error', () => up.destroy());
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
