/**
 * PostgreSQL 15 from Debian, on loopback in a temporary directory, run as the `postgres` user (it refuses root).
 * Trust authentication on 127.0.0.1 only: the server lives for one test file.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../nats-server.ts';

const BIN = '/usr/lib/postgresql/15/bin';

export function postgresUnavailable(): string | false {
  if (existsSync(join(BIN, 'initdb'))) return false;
  if (process.env.CI === 'true') throw new Error(`${BIN}/initdb is missing (apt-get install postgresql-15)`);
  return 'PostgreSQL 15 is not installed';
}

function uidOf(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export class PostgresServer {
  readonly dir: string;
  readonly port: number;
  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private static asPostgres(args: string[]): string {
    const asRoot = process.getuid?.() === 0;
    return asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', ...args], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  static async create(): Promise<PostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'imdsguard-pg-'));
    if (process.getuid?.() === 0) {
      const { uid, gid } = uidOf('postgres');
      chownSync(dir, uid, gid);
    }
    const s = new PostgresServer(dir, await freePort());
    PostgresServer.asPostgres([
      join(BIN, 'initdb'),
      '-D',
      join(dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    PostgresServer.asPostgres([
      join(BIN, 'pg_ctl'),
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${s.port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
    return s;
  }

  async query<T = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: this.url });
    await c.connect();
    try {
      return (await c.query(sql, values)).rows as T[];
    } finally {
      await c.end();
    }
  }

  dispose(): void {
    try {
      PostgresServer.asPostgres([join(BIN, 'pg_ctl'), '-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
