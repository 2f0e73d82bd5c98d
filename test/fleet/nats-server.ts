/**
 * Debian's nats-server with JetStream, on loopback, in a temporary directory, for the fleet tests. It can be
 * killed and started again on the same port and store, as a broker outage looks to a sensor.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NATS_SERVER = '/usr/sbin/nats-server';

/** Why the fleet tests cannot run here, or false. Under CI=true a missing server is a failure, never a skip. */
export function natsUnavailable(): string | false {
  if (existsSync(NATS_SERVER)) return false;
  if (process.env.CI === 'true') throw new Error(`${NATS_SERVER} is missing (apt-get install nats-server)`);
  return `${NATS_SERVER} is not installed`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface NatsServerOptions {
  /** false: a server without JetStream (default true). */
  jetstream?: boolean;
  /** Lines of a nats-server config file (`max_payload: 4096`), for settings without a command-line flag. */
  config?: string;
}

export class NatsServer {
  readonly dir: string;
  readonly port: number;
  private readonly options: NatsServerOptions;
  private child: ChildProcess | undefined;

  private constructor(dir: string, port: number, options: NatsServerOptions) {
    this.dir = dir;
    this.port = port;
    this.options = options;
  }

  /** The running server's process id (for its CPU time in benches). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** A server on a free port (not started when `started` is false: a broker that is down at first). */
  static async create(started = true, options: NatsServerOptions = {}): Promise<NatsServer> {
    const s = new NatsServer(mkdtempSync(join(tmpdir(), 'imdsguard-nats-')), await freePort(), options);
    if (started) await s.start();
    return s;
  }

  /** Start (again) on the same port and store; resolves when the server says it is ready. */
  start(): Promise<void> {
    const args = ['-p', String(this.port), '-a', '127.0.0.1'];
    if (this.options.jetstream !== false) args.push('-js', '-sd', join(this.dir, 'js'));
    if (this.options.config !== undefined) {
      const file = join(this.dir, 'nats-server.conf');
      writeFileSync(file, `${this.options.config}\n`);
      args.push('-c', file);
    }
    const child = spawn(NATS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`nats-server did not start in 15 s:\n${log}`));
      }, 15_000);
      child.stderr?.on('data', (b: Buffer) => {
        log += b.toString('utf8');
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}):\n${log}`));
      });
    });
  }

  /** Kill the server as an outage would (SIGKILL: no goodbye to the clients). */
  async kill(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every message the findings stream holds, in order: its Nats-Msg-Id and body. */
export async function streamMessages(url: string): Promise<Array<{ seq: number; msgId: string; body: string }>> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const { FINDINGS_STREAM } = await import('../../src/core/fleet/contract.ts');
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(FINDINGS_STREAM);
    const out: Array<{ seq: number; msgId: string; body: string }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(FINDINGS_STREAM, { seq });
      if (!m) continue;
      out.push({ seq, msgId: m.header.get('Nats-Msg-Id'), body: m.string() });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Create the findings stream as the hub would. */
export async function createFindingsStream(url: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const { ensureFindingsStream } = await import('../../src/adapters/fleet/streams.ts');
  const nc = await connect({ servers: url });
  try {
    await ensureFindingsStream(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}
