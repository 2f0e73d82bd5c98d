import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { startDaemonHttp } from './daemon-http.ts';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startDaemonHttp()', () => {
  it('serves registered metrics, health and version on loopback', async () => {
    let ok = true;
    const http = await startDaemonHttp({
      port: 0,
      version: '9.9.9',
      health: () => ({ ok, detail: { sensor: 'test' } }),
    });
    try {
      const c = new http.prom.Counter({
        name: 'imdsguard_events_total',
        help: 'events',
        labelNames: ['source'],
        registers: [http.registry],
      });
      c.inc({ source: 'bpftrace' }, 3);
      const m = await get(http.port, '/metrics');
      assert.equal(m.status, 200);
      assert.match(m.type, /text\/plain/);
      assert.match(m.body, /imdsguard_events_total\{source="bpftrace"\} 3/);
      assert.match(m.body, /imdsguard_process_resident_memory_bytes/);
      const h = await get(http.port, '/healthz');
      assert.equal(h.status, 200);
      assert.deepEqual(JSON.parse(h.body), { status: 'ok', sensor: 'test' });
      ok = false;
      assert.equal((await get(http.port, '/readyz')).status, 503);
      assert.deepEqual(JSON.parse((await get(http.port, '/version')).body), { version: '9.9.9' });
      assert.equal((await get(http.port, '/nope')).status, 404);
      assert.equal((await get(http.port, '/metrics', 'POST')).status, 405);
    } finally {
      await http.close();
    }
  });

  it('refuses a non-loopback address and reports a busy port as a config error', async () => {
    await assert.rejects(startDaemonHttp({ port: 0, host: '0.0.0.0' as '127.0.0.1' }), /loopback only/);
    const a = await startDaemonHttp({ port: 0, processMetrics: false });
    try {
      await assert.rejects(startDaemonHttp({ port: a.port, processMetrics: false }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_CONFIG');
        assert.match(e.message, /EADDRINUSE/);
        return true;
      });
    } finally {
      await a.close();
    }
  });
});
