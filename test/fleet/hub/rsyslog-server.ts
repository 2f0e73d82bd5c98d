/**
 * Debian's rsyslogd as a real syslog receiver: its own config in a temporary directory, imtcp on a free loopback
 * port (octet-counted framing is on by default), every message written raw to one file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../nats-server.ts';

const RSYSLOGD = '/usr/sbin/rsyslogd';

export function rsyslogUnavailable(): string | false {
  if (existsSync(RSYSLOGD)) return false;
  if (process.env.CI === 'true') throw new Error(`${RSYSLOGD} is missing (apt-get install rsyslog)`);
  return 'rsyslog is not installed';
}

export class RsyslogServer {
  private child: ChildProcess | undefined;
  readonly dir: string;
  readonly port: number;
  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get file(): string {
    return join(this.dir, 'out.log');
  }

  static async create(): Promise<RsyslogServer> {
    const dir = mkdtempSync(join(tmpdir(), 'imdsguard-rsyslog-'));
    const s = new RsyslogServer(dir, await freePort());
    writeFileSync(
      join(dir, 'rsyslog.conf'),
      `global(workDirectory="${dir}")
module(load="imtcp")
input(type="imtcp" port="${s.port}" address="127.0.0.1")
template(name="raw" type="string" string="%PRI%|%HOSTNAME%|%APP-NAME%|%MSGID%|%STRUCTURED-DATA%|%msg%\\n")
action(type="omfile" file="${s.file}" template="raw" flushOnTXEnd="on" asyncWriting="off")
`,
    );
    const child = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'pid')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    s.child = child;
    let log = '';
    child.stderr?.on('data', (b: Buffer) => {
      log += b.toString('utf8');
    });
    // Ready when the port accepts connections.
    const { connect } = await import('node:net');
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const c = connect(s.port, '127.0.0.1');
        c.once('connect', () => {
          c.destroy();
          resolve(true);
        });
        c.once('error', () => resolve(false));
      });
      if (ok) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`rsyslogd did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return s;
  }

  lines(): string[] {
    try {
      return readFileSync(this.file, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  async dispose(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
