/**
 * The peer the proxy's cost is measured against: a bare node:http relay in front of the same upstream, with the same
 * keep-alive agent and streaming, and nothing else (no parsing checks, attribution, policy or records).
 *   node --import tsx bench/proxy-relay.ts UPSTREAM_PORT   → prints {"listening":PORT} on stdout
 */
import { Agent, createServer, request } from 'node:http';

const upstreamPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: 128, scheduling: 'lifo' });
const server = createServer({ noDelay: true }, (req, res) => {
  const headers = { ...req.headers };
  delete headers.connection;
  const up = request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent },
    (upRes) => {
      const h = { ...upRes.headers };
      delete h.connection;
      delete h['keep-alive'];
      res.writeHead(upRes.statusCode ?? 502, h);
      upRes.pipe(res);
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ listening: typeof a === 'object' && a ? a.port : 0 })}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
});
