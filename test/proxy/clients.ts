/**
 * A separate client process for load tests: `concurrency` keep-alive connections, `rounds` requests on each,
 * all in flight at once per round. Prints {"statuses":{...},"pid":N} and exits.
 *   node --import tsx test/proxy/clients.ts PORT PATH CONCURRENCY ROUNDS
 */
import { Agent, request } from 'node:http';

const [port, path, concurrency, rounds] = [
  Number(process.argv[2]),
  process.argv[3] ?? '/',
  Number(process.argv[4]),
  Number(process.argv[5]),
];
const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
const statuses: Record<string, number> = {};
const one = () =>
  new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
        resolve();
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      statuses[e.code ?? 'error'] = (statuses[e.code ?? 'error'] ?? 0) + 1;
      resolve();
    });
    req.end();
  });
for (let r = 0; r < rounds; r++) await Promise.all(Array.from({ length: concurrency }, one));
agent.destroy();
process.stdout.write(`${JSON.stringify({ statuses, pid: process.pid })}\n`);
