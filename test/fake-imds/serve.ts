/**
 * Run the fake metadata service as a process, e.g. inside a test network namespace:
 *   node --import tsx test/fake-imds/serve.ts --listen 169.254.169.254:80 [--listen [fd00:ec2::254]:80]
 *        [--imdsv2-required] [--delay-ms N]
 * Prints one JSON line per listener ({"listening":"host:port"}) on stdout once ready; exits 0 on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { type RunningFakeImds, startFakeImds } from './server.ts';

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`Cannot parse --listen "${s}" (expected HOST:PORT or [V6]:PORT)`);
  return { host: m[1]!, port: Number(m[2]) };
}

const { values } = parseArgs({
  options: {
    listen: { type: 'string', multiple: true },
    'imdsv2-required': { type: 'boolean', default: false },
    'delay-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write('usage: serve.ts --listen HOST:PORT [--listen ...] [--imdsv2-required] [--delay-ms N]\n');
  process.exit(0);
}

const listens = values.listen?.length ? values.listen : ['127.0.0.1:0'];
const running: RunningFakeImds[] = [];
try {
  for (const l of listens) {
    const { host, port } = splitHostPort(l);
    const r = await startFakeImds({
      host,
      port,
      imdsv2Required: values['imdsv2-required'] ?? false,
      ...(values['delay-ms'] ? { delayMs: Number(values['delay-ms']) } : {}),
    });
    running.push(r);
    process.stdout.write(`${JSON.stringify({ listening: `${host.includes(':') ? `[${host}]` : host}:${r.port}` })}\n`);
  }
} catch (e) {
  process.stderr.write(`fake-imds: ${(e as Error).message}\n`);
  process.exit(2);
}

const stop = async () => {
  await Promise.all(running.map((r) => r.close()));
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
